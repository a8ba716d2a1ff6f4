"""Records for scripts and FinOps tools: CSV, JSON, NDJSON, Parquet, FOCUS and their schemas."""

__all__: list[str] = []
