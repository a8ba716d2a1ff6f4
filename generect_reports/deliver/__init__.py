"""The outside world, write side: files, SMTP, webhooks and the PDF worker process.

Layer rule: ``deliver`` moves bytes that ``render`` made; it knows nothing of report content.
"""

__all__: list[str] = []
