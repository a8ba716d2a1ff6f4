"""The Excel workbooks: the monthly report, the usage table and the sections' sheets."""

__all__: list[str] = []
