"""What each document says: the report models, every figure computed once.

Layer rule: ``reports`` reads ``analysis`` and ``fetch`` and the base modules; it never renders
or sends (``render`` and ``deliver`` sit above it).
"""

__all__: list[str] = []
