"""The widget explorer for Jupyter. It arranges library calls; it holds no business logic."""

__all__: list[str] = []
