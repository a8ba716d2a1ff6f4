"""The email message: HTML and text parts, the chart and the attachments."""

__all__: list[str] = []
