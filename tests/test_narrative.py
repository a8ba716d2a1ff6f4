"""The narrative sentences against reviewed golden files.

Rewrite the golden files only on purpose (``GENERECT_UPDATE_GOLDEN=1``) and review the diff.
"""

import datetime as dt
import os
import re
from decimal import Decimal
from pathlib import Path

import pytest
from helpers import frame

import generect_reports as g

GOLDEN = Path(__file__).parent / "golden"


def _april_may(
    april: float, may: list[float], fetched_at: str = "2026-06-01 00:00", phone_april: float = 0.0
):
    rows = [(f"2026-04-{d:02d}", "search_database", april) for d in range(1, 31)]
    rows += [(f"2026-04-{d:02d}", "phone_find", phone_april) for d in range(1, 31) if phone_april]
    rows += [(f"2026-05-{d:02d}", "search_database", v) for d, v in enumerate(may, start=1)]
    rows += [(f"2026-05-{d:02d}", "phone_find", 2.0) for d in range(1, len(may) + 1)]
    return frame(rows, fetched_at=fetched_at)


def _case(name):
    sample = g.load_sample()
    if name == "sample-2026-10":
        return g.build_report(sample, "2026-10")
    if name == "sample-2026-03":
        return g.build_report(sample, "2026-03")
    if name == "sample-running-2026-10":
        return g.build_report(sample, "2026-10", as_of="2026-10-11 09:30")
    if name == "first-month":
        return g.build_report(sample, "2025-01")
    if name == "zero-previous-month":
        return g.build_report(_april_may(0.0, [10.0] * 31), "2026-05")
    if name == "no-anomalies-fall":
        return g.build_report(_april_may(12.0, [10.0] * 31, phone_april=1.0), "2026-05")
    if name == "driver-against-the-change":
        return g.build_report(_april_may(10.5, [10.0] * 31), "2026-05")
    if name == "partial-month":
        return g.build_report(
            _april_may(10.0, [12.5] * 10, fetched_at="2026-05-11 09:30"), "2026-05"
        )
    raise KeyError(name)


CASES = [
    "sample-2026-10",
    "sample-2026-03",
    "sample-running-2026-10",
    "first-month",
    "zero-previous-month",
    "no-anomalies-fall",
    "driver-against-the-change",
    "partial-month",
]


@pytest.mark.parametrize("name", CASES)
def test_narrative_matches_golden(name):
    rep = _case(name)
    text = "\n".join(rep.narrative) + "\n"
    path = GOLDEN / f"narrative-{name}.txt"
    if os.environ.get("GENERECT_UPDATE_GOLDEN") == "1":
        path.parent.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8")
    assert 3 <= len(rep.narrative) <= 5
    assert all(s.endswith(".") and "\n" not in s for s in rep.narrative)


def test_narrative_names_the_real_drivers():
    rep = _case("sample-2026-10")
    text = " ".join(rep.narrative)
    f = rep.formats
    assert f.credits(rep.total) in text and f.signed_pct(rep.change_pct).lstrip("+") in text
    assert "search_realtime" in text and "14 Oct" in text and "about a third" in text
    assert f.money(rep.estimated_cost) in text and rep.largest_cost_operation in text
    assert rep.yoy_month_name in text
    running = _case("sample-running-2026-10")
    assert f.projection(running.projection) in " ".join(running.narrative)


def test_bridge_and_anomaly_lines_for_text_and_html():
    from generect_reports.reports.narrative import anomaly_lines, bridge_lines

    rep = _case("sample-2026-10")
    assert bridge_lines(rep) == [
        "September 2026: 29,874",
        "search_realtime: +1,209",
        "search_database: +747",
        "unattributed: +550",
        "preview: +410",
        "enrich_database: +232",
        "email_validation: +231",
        "other (email_find, enrich_realtime, phone_find): +188",
        "October 2026: 33,441",
    ]
    assert anomaly_lines(rep) == [
        "14 Oct search_realtime: 1,212 credits, 1,114.50 above a baseline of 97.50 "
        "(about a third of the month's rise)"
    ]
    assert anomaly_lines(_case("sample-2026-03")) == []


_ANOMALY_LINE = re.compile(r": ([\d,.]+) credits, ([\d,.]+) above a baseline of ([\d,.]+)")


def _displayed(text: str) -> Decimal:
    return Decimal(text.replace(",", ""))


def _fractional_spike():
    """A fractional report whose baseline is a median of 10.25 and 10.5 days: 10.375."""
    first = dt.date(2026, 4, 3)
    rows = []
    for i in range(58):
        day = first + dt.timedelta(days=i)
        value = 100.25 if day == dt.date(2026, 5, 20) else (10.25 if i % 2 else 10.5)
        rows.append((day.isoformat(), "a", value))
    return g.build_report(frame(rows, fetched_at="2026-06-01 00:00"), "2026-05")


def test_anomaly_figures_subtract_as_displayed():
    """Value − baseline = excess as shown: the sample's 1,212 − 97.50 = 1,114.50 (not "1,115 above
    a baseline of 98"); a fractional report's 100.25 − 10.375 = 89.875 (not 89.88 and 10.38)."""
    from generect_reports.reports.narrative import anomaly_lines

    october, fractional = _case("sample-2026-10"), _fractional_spike()
    assert anomaly_lines(fractional) == [
        "20 May a: 100.25 credits, 89.875 above a baseline of 10.375"
    ]
    assert "The 14 Oct search_realtime spike was 1,114.50 credits above baseline" in " ".join(
        october.narrative
    )
    assert "The 20 May a spike was 89.875 credits above baseline." in fractional.narrative
    for rep in (october, fractional):
        lines = anomaly_lines(rep)
        assert len(lines) == len(rep.anomalies) == 1
        for line in lines:
            value, excess, baseline = map(_displayed, _ANOMALY_LINE.search(line).groups())
            assert value - baseline == excess, line
