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


# --- the account profile (sample_account.json) -------------------------------------------------
#: Plan limit history: 25,000 credits a month in 2025, 30,000 after the January 2026 upgrade.
#: With the usage above, October 2026 (33,441 credits) is the one month over its limit.
ACCOUNT_PLAN = "Business"
ACCOUNT_LIMITS = {"2025-01": 25000, "2026-01": 30000}
#: Prepaid top-ups on the 1st of each month, by year, and the opening balance.
ACCOUNT_TOP_UPS = {2025: 20000, 2026: 28000}
ACCOUNT_OPENING = 5000
#: The profile is a snapshot taken during October 2026, so the sample status shows a running month.
ACCOUNT_SNAPSHOT = dt.date(2026, 10, 22)
ACCOUNT_TIMEZONE = "Europe/Kyiv"


def account_profile(usage: list[tuple[str, str, int]]) -> dict[str, object]:
    """The sample account as ``/me/`` would describe it at the snapshot, with a balance history
    (a top-up on the 1st of each month, the month's usage at its end) consistent with ``usage``.
    Personal data (email, name) is left out on purpose."""
    from zoneinfo import ZoneInfo

    used: dict[str, int] = {}
    to_date = 0
    for day, _op, credits in usage:
        used[day[:7]] = used.get(day[:7], 0) + credits
        if day[:7] == ACCOUNT_SNAPSHOT.isoformat()[:7] and day < ACCOUNT_SNAPSHOT.isoformat():
            to_date += credits
    history: list[dict[str, object]] = []
    balance = ACCOUNT_OPENING
    history.append({"date": START.isoformat(), "type": "opening_balance", "credits": balance,
                    "balance": balance})
    year, month = START.year, START.month
    while dt.date(year, month, 1) <= ACCOUNT_SNAPSHOT:
        first = dt.date(year, month, 1)
        top_up = ACCOUNT_TOP_UPS[year]
        balance += top_up
        history.append({"date": first.isoformat(), "type": "top_up", "credits": top_up,
                        "balance": balance})
        nxt = dt.date(year + month // 12, month % 12 + 1, 1)
        label = first.isoformat()[:7]
        if nxt <= ACCOUNT_SNAPSHOT:
            balance -= used[label]
            history.append({"date": (nxt - dt.timedelta(days=1)).isoformat(), "type": "usage",
                            "credits": -used[label], "balance": balance})
        else:
            balance -= to_date
            history.append({"date": (ACCOUNT_SNAPSHOT - dt.timedelta(days=1)).isoformat(),
                            "type": "usage_to_date", "credits": -to_date, "balance": balance})
        year, month = nxt.year, nxt.month
    as_of = dt.datetime.combine(ACCOUNT_SNAPSHOT, dt.time(0), ZoneInfo(ACCOUNT_TIMEZONE))
    return {
        "as_of": as_of.isoformat(),
        "timezone": ACCOUNT_TIMEZONE,
        "plan": ACCOUNT_PLAN,
        "credits": {"balance": balance, "used_this_month": to_date,
                    "monthly_limit": ACCOUNT_LIMITS[max(ACCOUNT_LIMITS)]},
        "preview_tier": False,
        "limit_from": ACCOUNT_LIMITS,
        "balance_history": history,
    }


def write_account(usage: list[tuple[str, str, int]]) -> None:
    import json

    path = Path(__file__).with_name("sample_account.json")
    path.write_text(json.dumps(account_profile(usage), indent=1) + "\n", encoding="utf-8")


def main() -> None:
    path = Path(__file__).with_name("sample_usage.csv")
    usage = rows()
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(["date", "operation", "credits"])
        writer.writerows(usage)
    write_account(usage)


if __name__ == "__main__":
    main()
