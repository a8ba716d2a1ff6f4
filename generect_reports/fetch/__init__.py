"""The outside world: HTTP, the cache of closed periods, the request planner, parsing responses
into tidy frames, and the bundled sample.

:func:`~generect_reports.fetch.source.open_source` is the one place the sample or the API is
chosen; everything above this layer asks the :class:`~generect_reports.fetch.source.Source` it
returns. This layer imports only the base modules (errors, periods, theme): never ``analysis``
or anything above it, and it never formats output.
"""

__all__: list[str] = []
