"""Report models to bytes or text, one package per format.

Layer rule: ``render`` reads ``reports`` and below; it computes no figures and sends nothing.
"""

__all__: list[str] = []
