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
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

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
PLATFORM_DAYS = {
    dt.date(2025, 3, 3): 250.0,
    dt.date(2025, 11, 3): 400.0,
    dt.date(2026, 6, 1): 500.0,
    dt.date(2026, 10, 1): 550.0,
}


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
            level = base * growth**months * (0.33 if weekend else 1.0)
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


# --- the ledger behind that usage ------------------------------------------------------------

LEDGER_SEED = 20261102
LEDGER_TZ = "Europe/Kyiv"
#: The sample's /me/ is read at this instant (the sample's as-of time).
LEDGER_AS_OF = "2026-11-01T00:00:00+02:00"
#: Transaction types each operation's charges carry (the ledger is finer than usage).
LEDGER_TYPES = {
    "search_database": ("search_database_leads", "search_database_companies"),
    "enrich_database": ("enrich_database_person", "enrich_database_company"),
    "search_realtime": ("search_realtime_leads",),
    "enrich_realtime": ("enrich_realtime_person",),
    "email_find": ("email_find",),
    "email_validation": ("email_validation",),
    "preview": ("preview_leads",),
    "phone_find": ("phone_find",),
    "unattributed": ("platform",),
}
#: The one sample month that does not tie, on purpose: on this day the email validations were
#: charged as a type the bundled ledger_mapping.toml does not know.
UNMAPPED_DAY = (dt.date(2026, 2, 17), "email_validation", "email_verify_bulk")
REVERSED_SHARE = 0.004
INITIAL_TOP_UP = (dt.datetime(2024, 12, 20, 10, 0), 20000)


def _utc(local: dt.datetime) -> dt.datetime:
    from zoneinfo import ZoneInfo

    return local.replace(tzinfo=ZoneInfo(LEDGER_TZ)).astimezone(dt.UTC)


def ledger_rows() -> tuple[list[dict[str, object]], float]:
    """The sample ledger consistent with :func:`rows`, and the sample ``/me/`` balance.

    Each day's credits of an operation are one to three charges at daytime hours (split in
    hundredths); a few charges are reversed (``error``); the charges of the evening of
    2026-10-31 are still ``pending``. Usage counts every charge when it is made, so every month
    ties (pending and reversed charges explain the differences) except February 2026, where one
    day's charges carry the unmapped type ``email_verify_bulk``. A top-up lands on the 1st of
    each month at 09:00 local. ``after_balance`` is the settled balance after each row, and
    ``/me/``'s balance subtracts pending charges (the reconciliation finds that out by itself).
    """
    import uuid

    rng = random.Random(LEDGER_SEED)
    out: list[dict[str, object]] = []

    def add(local: dt.datetime, kind: str, cents: int, status: str, balance_type: str) -> None:
        out.append(
            {
                "id": "txn_" + str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                "ts": _utc(local),
                "type": kind,
                "cents": cents,
                "status": status,
                "balance_type": balance_type,
            }
        )

    add(INITIAL_TOP_UP[0], "top_up", INITIAL_TOP_UP[1] * 100, "success", "credits")
    monthly: dict[tuple[int, int], int] = {}
    for day_text, op, credits in rows():
        day = dt.date.fromisoformat(day_text)
        monthly[(day.year, day.month)] = monthly.get((day.year, day.month), 0) + credits
        total = credits * 100
        k = min(rng.choice((1, 2, 2, 3)), credits)
        cuts = sorted(rng.sample(range(1, total), k - 1)) if k > 1 else []
        parts = [b - a for a, b in zip([0, *cuts], [*cuts, total])]
        hours = sorted(rng.sample(range(6, 22), k))
        for part, hour in zip(parts, hours):
            local = dt.datetime.combine(day, dt.time(hour, rng.randrange(60), rng.randrange(60)))
            kind = rng.choice(LEDGER_TYPES[op])
            if (day, op) == UNMAPPED_DAY[:2]:
                kind = UNMAPPED_DAY[2]
            status = "success"
            if day == END and hour >= 16:
                status = "pending"
            elif rng.random() < REVERSED_SHARE:
                status = "error"
            add(
                local, kind, -part, status, "leads_by_icp" if op.startswith("search") else "credits"
            )
    # Top-ups: the month's usage last month plus a margin, rounded up to a thousand.
    year, month = START.year, START.month
    previous = 20000
    while (year, month) <= (END.year, END.month):
        amount = -(-int(previous * 1.15) // 1000) * 1000
        add(dt.datetime(year, month, 1, 9, 0), "top_up", amount * 100, "success", "credits")
        previous = monthly.get((year, month), 0)
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    out.sort(key=lambda r: (r["ts"], r["id"]))
    settled = 0
    pending = 0
    for r in out:
        if r["status"] == "success":
            settled += int(r["cents"])  # type: ignore[call-overload]
        elif r["status"] == "pending":
            pending += int(r["cents"])  # type: ignore[call-overload]
        r["after_balance"] = settled / 100
    return out, (settled + pending) / 100


def write_ledger(folder: Path) -> None:
    """``sample_ledger.csv.gz`` (byte-stable: no gzip time stamp) and
    ``sample_ledger_anchor.json``."""
    import gzip
    import io
    import json

    ledger, balance = ledger_rows()
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(
        ["id", "timestamp", "type", "credits", "status", "balance_type", "after_balance"]
    )
    for r in ledger:
        writer.writerow(
            [
                r["id"],
                r["ts"].strftime("%Y-%m-%dT%H:%M:%SZ"),
                r["type"],  # type: ignore[attr-defined]
                f"{int(r['cents']) / 100:.2f}",
                r["status"],
                r["balance_type"],  # type: ignore[call-overload]
                f"{r['after_balance']:.2f}",
            ]
        )
    with (folder / "sample_ledger.csv.gz").open("wb") as raw:
        with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=9) as fh:
            fh.write(text.getvalue().encode("utf-8"))
    anchor = {
        "as_of": LEDGER_AS_OF,
        "balance": balance,
        "note": "The sample account's /me/ credits.balance at as_of (pending charges already "
        "subtracted), the anchor of the sample reconciliation.",
    }
    (folder / "sample_ledger_anchor.json").write_text(
        json.dumps(anchor, indent=2) + "\n", encoding="utf-8"
    )


# --- what the top-ups cost (sample_purchases.csv) ---------------------------------------------
#: Price per credit by the size of the top-up: a volume discount, so the lots are not one rate.
PURCHASE_TIERS = ((30000, Decimal("0.020")), (25000, Decimal("0.0225")), (0, Decimal("0.025")))


def purchase_rows() -> list[list[str]]:
    """One invoice per ledger top-up (same credits), dated the top-up's local day or up to two
    days before it, priced by :data:`PURCHASE_TIERS`; no tax."""
    rows = []
    top_ups = [r for r in ledger_rows()[0] if r["type"] == "top_up"]
    for n, r in enumerate(top_ups, start=1):
        credits = int(r["cents"]) // 100  # type: ignore[call-overload]
        price = next(p for floor, p in PURCHASE_TIERS if credits >= floor)
        day = r["ts"].astimezone(ZoneInfo(LEDGER_TZ)).date() - dt.timedelta(days=n % 3)  # type: ignore[attr-defined]
        amount = Decimal(credits) * price
        rows.append(
            [
                day.isoformat(),
                f"GEN-{day:%Y%m}-{n:03d}",
                str(credits),
                f"{amount:.2f}",
                "USD",
                "0.00",
            ]
        )
    return rows


def write_purchases(folder: Path) -> None:
    """``sample_purchases.csv``: the invoices of the sample's top-ups."""
    with (folder / "sample_purchases.csv").open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(["date", "invoice", "credits", "amount", "currency", "tax"])
        writer.writerows(purchase_rows())


# --- the account profile (sample_account.json) -------------------------------------------------
#: Plan limit history: 25,000 credits a month in 2025, 30,000 after the January 2026 upgrade.
#: With the usage above, October 2026 (33,441 credits) is the one month over its limit.
ACCOUNT_PLAN = "Business"
ACCOUNT_LIMITS = {"2025-01": 25000, "2026-01": 30000}
#: The profile is a snapshot taken during October 2026, so the sample status shows a running month.
ACCOUNT_SNAPSHOT = dt.date(2026, 10, 22)
ACCOUNT_TIMEZONE = "Europe/Kyiv"


def account_profile(
    usage: list[tuple[str, str, int]], ledger: list[dict[str, object]]
) -> dict[str, object]:
    """The sample account as ``/me/`` would describe it at the snapshot.

    The balance and its history come from the sample ledger (the same top-ups and settled
    charges that ``reconcile --sample`` ties out), so ``status --sample`` and the reconciliation
    tell one story; ``used_this_month`` is the month's usage so far. Personal data (email, name)
    is left out on purpose."""
    from zoneinfo import ZoneInfo

    tz = ZoneInfo(ACCOUNT_TIMEZONE)
    snapshot = dt.datetime.combine(ACCOUNT_SNAPSHOT, dt.time(0), tz)
    to_date = sum(
        credits
        for day, _op, credits in usage
        if day[:7] == ACCOUNT_SNAPSHOT.isoformat()[:7] and day < ACCOUNT_SNAPSHOT.isoformat()
    )
    history: list[dict[str, object]] = []
    balance = 0
    month_charges = 0
    month: str | None = None

    def close_month(label: str, last_day: dt.date, kind: str) -> None:
        nonlocal balance, month_charges
        if not month_charges and kind == "usage":
            return  # a month with a top-up and no charge yet (the opening December)
        balance += month_charges
        history.append(
            {
                "date": last_day.isoformat(),
                "type": kind,
                "credits": month_charges / 100,
                "balance": balance / 100,
            }
        )
        month_charges = 0

    for row in ledger:  # oldest first; only settled rows move the balance
        ts = row["ts"].astimezone(tz)  # type: ignore[attr-defined]
        if ts >= snapshot:
            break
        if row["status"] != "success":
            continue
        label = ts.date().isoformat()[:7]
        if month is not None and label != month:
            first = dt.date.fromisoformat(label + "-01")
            close_month(month, first - dt.timedelta(days=1), "usage")
        month = label
        cents = int(row["cents"])  # type: ignore[call-overload]
        if row["type"] == "top_up":
            balance += cents
            kind = "opening_balance" if not history else "top_up"
            history.append(
                {
                    "date": ts.date().isoformat(),
                    "type": kind,
                    "credits": cents / 100,
                    "balance": balance / 100,
                }
            )
        else:
            month_charges += cents
    close_month(month or "", ACCOUNT_SNAPSHOT - dt.timedelta(days=1), "usage_to_date")
    return {
        "as_of": snapshot.isoformat(),
        "timezone": ACCOUNT_TIMEZONE,
        "plan": ACCOUNT_PLAN,
        "credits": {
            "balance": balance / 100,
            "used_this_month": to_date,
            "monthly_limit": ACCOUNT_LIMITS[max(ACCOUNT_LIMITS)],
        },
        "preview_tier": False,
        "limit_from": ACCOUNT_LIMITS,
        "balance_history": history,
    }


def write_account(usage: list[tuple[str, str, int]]) -> None:
    import json

    ledger, _balance = ledger_rows()
    path = Path(__file__).with_name("sample_account.json")
    path.write_text(json.dumps(account_profile(usage, ledger), indent=1) + "\n", encoding="utf-8")


# --- per-token analytics (sample_tokens.json) --------------------------------------------------
#
# The platform behind the sample account gives each of its customers a token. Per Europe/Kyiv
# month, the tokens' requests follow the month's credits of each operation in sample_usage.csv
# (no requests where an operation has no credits), in the API's answer shape but with the token
# values already masked to hints: the file holds no credential, not even a fictional one.
# - four customers: acme-corp, globex (revoked in March 2026, history kept), initech (created
#   in August 2026), hooli (a month of heavy failed retries in October 2026);
# - a token with null name and client_id (an in-house script), and an idle "Staging" token;
# - some requests to count and job-status endpoints, which map to no operation.

TOKENS_SEED = 20261102
#: (hint, name, client_id, created_at, revoked_at, weight, 2xx ratio)
SAMPLE_TOKENS = [
    ("****e5f1", None, None, "2025-05-12T08:40:00", None, 0.4, 0.99),
    ("****9c2d", "Initech", "initech", "2026-08-20T10:05:00", None, 1.2, 0.97),
    ("****b7a0", "Staging", None, "2025-03-02T09:00:00", None, 0.0, 1.0),
    ("****41de", "Hooli", "hooli", "2025-02-10T12:30:00", None, 1.5, 0.96),
    ("****0a6b", "Globex", "globex", "2025-01-05T15:20:00", "2026-03-15", 1.8, 0.98),
    ("****7f3e", "Acme Corp", "acme-corp", "2024-11-18T11:00:00", None, 3.0, 0.985),
]
HEAVY_RETRIES = ("hooli", "2026-10", "/api/v1/email/find/", 42000)
#: endpoints per operation, and how many credits one request returns on average
ENDPOINTS = {
    "search_database": (
        ["/api/v1/search/database/leads/", "/api/v1/search/database/companies/"],
        12.0,
    ),
    "enrich_database": (
        ["/api/v1/enrich/database/lead/", "/api/v1/enrich/database/leads/bulk/"],
        1.5,
    ),
    "search_realtime": (["/api/v1/search/realtime/leads/"], 8.0),
    "enrich_realtime": (["/api/v1/enrich/realtime/lead/"], 1.0),
    "email_find": (["/api/v1/email/find/", "/api/v1/email/find/bulk/"], 1.0),
    "email_validation": (["/api/v1/email/validate/"], 1.0),
    "preview": (["/api/v1/preview/leads/"], 5.0),
    "phone_find": (["/api/v1/phone/find/"], 1.0),
}
UNMAPPED = ["/api/v1/search/database/leads/count/", "/api/v1/enrich/leads/bulk/3f2c9a71/"]


def _month_credits() -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for day, op, credits in rows():
        if op == "unattributed":
            continue
        month = out.setdefault(day[:7], {})
        month[op] = month.get(op, 0) + credits
    return out


def token_months() -> dict[str, dict]:
    """Per month label: the API's ``data`` object with masked tokens."""
    rng = random.Random(TOKENS_SEED)
    months: dict[str, dict] = {}
    for label, credits in sorted(_month_credits().items()):
        year, mon = int(label[:4]), int(label[5:])
        first = dt.date(year, mon, 1)
        nxt = dt.date(year + mon // 12, mon % 12 + 1, 1)
        entries = []
        for hint, name, client_id, created, revoked, weight, ok in SAMPLE_TOKENS:
            if dt.date.fromisoformat(created[:10]) >= nxt:
                continue  # not created yet
            # share of traffic this month: created mid-month or revoked mid-month scales it
            start = max(first, dt.date.fromisoformat(created[:10]))
            end = min(nxt, dt.date.fromisoformat(revoked)) if revoked else nxt
            live = max(0, (end - start).days) / (nxt - first).days
            entries.append(
                [
                    hint,
                    name,
                    client_id,
                    created,
                    revoked,
                    weight * live * rng.uniform(0.85, 1.15),
                    ok,
                ]
            )
        total_weight = sum(e[5] for e in entries) or 1.0
        tokens = []
        for hint, name, client_id, created, revoked, weight, ok in entries:
            by_endpoint: dict[str, int] = {}
            for op, value in sorted(credits.items()):
                paths, per_request = ENDPOINTS[op]
                # successful requests in proportion to the customer's share of the credits
                good = value * weight / total_weight / per_request
                for k, path in enumerate(paths):
                    part = good * (
                        0.7 if len(paths) > 1 and k == 0 else 0.3 if len(paths) > 1 else 1.0
                    )
                    n = round(part / ok)
                    if n > 0:
                        by_endpoint[path] = by_endpoint.get(path, 0) + n
            if weight > 0:
                for path in UNMAPPED:
                    by_endpoint[path] = round(weight / total_weight * rng.uniform(20, 60))
            requests = sum(by_endpoint.values())
            failed = requests - round(requests * ok)
            fives = failed // 4
            if (client_id, label) == HEAVY_RETRIES[:2]:
                extra = HEAVY_RETRIES[3]
                by_endpoint[HEAVY_RETRIES[2]] = by_endpoint.get(HEAVY_RETRIES[2], 0) + extra
                requests += extra
                fives += extra * 2 // 3
                failed += extra
            by_status = (
                {"2xx": requests - failed, "4xx": failed - fives, "5xx": fives} if requests else {}
            )
            tokens.append(
                {
                    "token_hint": hint,
                    "name": name,
                    "client_id": client_id,
                    "is_active": not (
                        revoked and dt.date.fromisoformat(revoked) < dt.date(2026, 11, 1)
                    ),
                    "created_at": created,
                    "total_requests": requests,
                    "by_endpoint": dict(sorted(by_endpoint.items())),
                    "by_status": {k: v for k, v in by_status.items() if v},
                }
            )
        tokens.sort(key=lambda t: t["created_at"], reverse=True)  # newest first, as the API lists
        months[label] = {
            "period": {
                "start": f"{first.isoformat()}T00:00:00",
                "end": f"{(nxt - dt.timedelta(days=1)).isoformat()}T23:59:59",
            },
            "total_requests": sum(t["total_requests"] for t in tokens),
            "tokens": tokens,
        }
    return months


def write_sample_tokens() -> None:
    import json

    path = Path(__file__).with_name("sample_tokens.json")
    doc = {
        "timezone": "Europe/Kyiv",
        "note": "Fictional per-token analytics of the sample account; token values are masked.",
        "months": token_months(),
    }
    path.write_text(json.dumps(doc, indent=1, sort_keys=False) + "\n", encoding="utf-8")


def main() -> None:
    path = Path(__file__).with_name("sample_usage.csv")
    usage = rows()
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(["date", "operation", "credits"])
        writer.writerows(usage)
    write_ledger(path.parent)
    write_purchases(path.parent)
    write_account(usage)
    write_sample_tokens()


if __name__ == "__main__":
    main()
