"""The report's figures computed once (``MonthlyReport``) and one artefact per module: the
workbook, the PDF, the email and the exports, each written atomically.

This layer never fetches data: it receives frames.
"""

__all__: list[str] = []
