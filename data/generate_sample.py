"""Generate ``sample_usage.csv``: a fictional account's daily credits by operation.

Europe/Kyiv local days, 2025-01-01 through 2026-10-31. Deterministic (fixed seed), so the file
only changes when this script does. Run: ``python data/generate_sample.py``.

What the data shows on purpose:
- growth over the 22 months and a weekday pattern (weekends at about a third);
- ``phone_find`` starts in September 2025;
- ``enrich_realtime`` is absent for all of March 2026;
- one anomalous spike: ``search_realtime`` on 2026-10-14;
- a few ``unattributed`` platform charges (the API's total exceeds its breakdown);
- one refund-free history: all credits are non-negative whole numbers.
"""

from __future__ import annotations

import csv
import datetime as dt
import random
from pathlib import Path

SEED = 20261101
START = dt.date(2025, 1, 1)
END = dt.date(2026, 10, 31)

# operation: (daily credits on a weekday at the start, monthly growth factor)
OPERATIONS = {
    "search_database": (180.0, 1.035),
    "enrich_database": (120.0, 1.030),
    "search_realtime": (45.0, 1.045),
    "enrich_realtime": (30.0, 1.040),
    "email_find": (60.0, 1.025),
    "email_validation": (90.0, 1.020),
    "preview": (150.0, 1.015),
    "phone_find": (6.0, 1.060),
}
PHONE_START = dt.date(2025, 9, 1)
ABSENT = ("enrich_realtime", dt.date(2026, 3, 1), dt.date(2026, 3, 31))
SPIKE = ("search_realtime", dt.date(2026, 10, 14), 9.0)
PLATFORM_DAYS = {dt.date(2025, 3, 3): 250.0, dt.date(2025, 11, 3): 400.0, dt.date(2026, 6, 1): 500.0,
                 dt.date(2026, 10, 1): 550.0}


def rows() -> list[tuple[str, str, int]]:
    rng = random.Random(SEED)
    out: list[tuple[str, str, int]] = []
    day = START
    while day <= END:
        months = (day.year - START.year) * 12 + day.month - START.month + day.day / 31
        weekend = day.weekday() >= 5
        for op, (base, growth) in OPERATIONS.items():
            if op == "phone_find" and day < PHONE_START:
                continue
            if op == ABSENT[0] and ABSENT[1] <= day <= ABSENT[2]:
                continue
            level = base * growth ** months * (0.33 if weekend else 1.0)
            value = level * rng.uniform(0.8, 1.2)
            if (op, day) == SPIKE[:2]:
                value *= SPIKE[2]
            credits = round(value)
            if credits > 0:
                out.append((day.isoformat(), op, credits))
        if day in PLATFORM_DAYS:
            out.append((day.isoformat(), "unattributed", round(PLATFORM_DAYS[day])))
        day += dt.timedelta(days=1)
    return out


def main() -> None:
    path = Path(__file__).with_name("sample_usage.csv")
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(["date", "operation", "credits"])
        writer.writerows(rows())


if __name__ == "__main__":
    main()
