"""Tiny hand-built usage frames with known answers."""

from __future__ import annotations

import pandas as pd


def frame(
    rows: list[tuple[str, str, float]],
    tz: str = "Europe/Kyiv",
    period: str = "day",
    fetched_at: str | None = None,
) -> pd.DataFrame:
    """rows: (local date 'YYYY-MM-DD', operation, credits)."""
    df = pd.DataFrame(rows, columns=["date", "operation", "credits"])
    starts = pd.DatetimeIndex(pd.to_datetime(df["date"])).tz_localize(tz)
    out = pd.DataFrame(
        {
            "period_start": starts,
            "period": df["date"].astype(str) if period == "day" else df["date"].str[:7],
            "operation": df["operation"].astype(str),
            "credits": df["credits"].astype("float64"),
        }
    )
    out.attrs.update(
        {
            "timezone": tz,
            "period": period,
            "source": "api",
            "fetched_at": pd.Timestamp(fetched_at, tz=tz) if fetched_at else None,
        }
    )
    if rows:
        out.attrs["start"] = min(r[0] for r in rows)
        out.attrs["end"] = max(r[0] for r in rows)
    return out
