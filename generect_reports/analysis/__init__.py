"""Pure functions from tidy frames to tidy frames: monthly figures, shares, variance,
projections, anomalies and estimated cost.

No I/O and no plotting here; imports flow to ``fetch`` and the base modules only.
"""

__all__: list[str] = []
