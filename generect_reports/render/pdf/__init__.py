"""The PDF documents: pages drawn with matplotlib, fonts subset and cached."""

__all__: list[str] = []
