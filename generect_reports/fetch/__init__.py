"""The outside world: HTTP, the cache of closed periods, the request planner, parsing responses
into tidy frames, and the bundled sample.

This layer imports only the base modules (errors, periods, theme); it never formats output.
"""

__all__: list[str] = []
