"""Chargeback: the split ties to the account's usage in hundredths and to the report's cost lines
in cents, for any counts; unallocated credits; health flags; the command on the sample and on
the local API; the statement workbook recalculated by LibreOffice; the report section."""

from __future__ import annotations

import io
import json
import re
import subprocess
from fractions import Fraction

import numpy as np
import openpyxl
import pandas as pd
import pytest
import tokendata as T
from fakeapi import TOKEN
from helpers import frame
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import run_cli, soffice_recalculate

from generect_reports._text import xlsx_decode
from generect_reports.analysis.chargeback import (
    ASSUMPTIONS,
    UNALLOCATED,
    UNDER_REVIEW,
    allocate_credits,
    integration_health,
    load_endpoint_mapping,
    map_endpoints,
)
from generect_reports.analysis.pricing import largest_remainder, load_prices, money_cents
from generect_reports.errors import InputError
from generect_reports.fetch.tokens import COLUMNS, load_sample_tokens
from generect_reports.fetch.usage import load_sample
from generect_reports.render.chargeback import (
    add_customers_sheet,
    customers_page,
    customers_summary,
    render_allocation_workbook,
    render_chargeback,
    render_chargeback_workbook,
    safe_sheet_names,
)
from generect_reports.reports.statements import build_statements

MAPPING = {"/s/": "search", "/e/": "enrich", "/jobs/{id}/": "enrich"}
PRICES = {"search": 0.02, "enrich": 0.04, "unattributed": 0.0}


def tokens(
    rows: list[tuple[str, str, str, int, int, int, int]], month: str = "2026-10"
) -> pd.DataFrame:
    """rows: (customer, month, endpoint, requests, 2xx, 4xx, 5xx), status counts per token."""
    recs = []
    for customer, m, endpoint, requests, ok, c4, c5 in rows:
        total = ok + c4 + c5
        recs.append(
            {
                "customer": customer,
                "client_id": customer,
                "token_hint": "****" + customer[-4:].rjust(4, "x"),
                "active": True,
                "endpoint": endpoint,
                "requests": requests,
                "ok_ratio": ok / total if total else np.nan,
                "month": m,
                "period_start": pd.NaT,
                "name": None,
                "created_at": None,
                "token_requests": total,
                "status_2xx": ok,
                "status_4xx": c4,
                "status_5xx": c5,
                "status_other": 0,
            }
        )
    out = pd.DataFrame(recs, columns=COLUMNS)
    out.attrs["timezone"] = "Europe/Kyiv"
    return out


def _cents(credits: float, price: float) -> int:
    """Credits (to the hundredth) × the price as written, rounded half up once, in exact
    fractions: an oracle independent of the code under test."""
    exact = Fraction(round(credits * 100), 100) * Fraction(repr(float(price))) * 100
    return (1 if exact >= 0 else -1) * int(abs(exact) + Fraction(1, 2))


def tie_out(alloc, usage_credits: dict[str, float], prices=PRICES) -> None:
    per_op = (
        alloc.lines.groupby("operation")[["credits_hundredths", "cost_cents"]]
        .sum()
        .reindex(list(usage_credits), fill_value=0)
    )  # all-zero lines are left out
    for op, credits in usage_credits.items():
        assert per_op.at[op, "credits_hundredths"] == round(credits * 100)
        assert per_op.at[op, "cost_cents"] == _cents(credits, prices.get(op, 0.0))
    assert alloc.tied


def _retry_loop_month():
    """A customer retrying one operation in a loop beside a steady one, both on the same two
    operations: 'loop' made 1,000 enrich and 100 search requests, of which 950 failed."""
    usage = frame([("2026-10-01", "enrich", 300.0), ("2026-10-02", "search", 200.0)])
    tk = tokens(
        [
            ("loop", "2026-10", "/e/", 1000, 150, 0, 950),
            ("loop", "2026-10", "/s/", 100, 150, 0, 950),
            ("steady", "2026-10", "/e/", 500, 882, 18, 0),
            ("steady", "2026-10", "/s/", 400, 882, 18, 0),
        ]
    )
    return usage, tk


def test_retry_loop_customer_is_billed_its_proven_lower_bound():
    usage, tk = _retry_loop_month()
    alloc = allocate_credits(usage, tk, month="2026-10", mapping=MAPPING, prices=PRICES)
    lines = alloc.lines.set_index(["customer", "operation"])
    # loop: enrich successes lie in [1000 - 950, min(1000, 150)] = [50, 150], estimated
    # 1000 * 150/1100 = 136.4: 86.4 above the lower end, beyond 5% of its 150 successes.
    # search: [0, 100], estimated 13.6. It is billed 50 and 0; the rest is under review.
    est_e, est_s = 1000 * 150 / 1100, 100 * 150 / 1100
    steady_e, steady_s = 500 * 882 / 900, 400 * 882 / 900  # within 10 of [482, 382]: kept
    enrich = largest_remainder(30000, [50, steady_e, est_e - 50, 0])
    search = largest_remainder(20000, [0, steady_s, est_s, 0])
    assert lines.at[("loop", "enrich"), "credits_hundredths"] == enrich[0]
    assert lines.at[("steady", "enrich"), "credits_hundredths"] == enrich[1]
    assert lines.at[(UNDER_REVIEW, "enrich"), "credits_hundredths"] == enrich[2]
    assert lines.at[("loop", "search"), "credits_hundredths"] == search[0] == 0
    assert lines.at[(UNDER_REVIEW, "search"), "credits_hundredths"] == search[2]
    # the steady customer gets what it got before: billing the other one less moves nothing
    before = largest_remainder(30000, [est_e, steady_e])
    assert abs(int(enrich[1]) - int(before[1])) <= 1
    tie_out(alloc, {"enrich": 300.0, "search": 200.0})
    c = alloc.customers.set_index("customer")
    assert c.at["loop", "billing"] == "lower bound" and c.at["steady", "billing"] == "estimate"
    assert c.at["loop", "flagged"] and "proven lower bound" in c.at["loop", "flags"]
    assert c.at[UNDER_REVIEW, "kind"] == "under_review"
    held = int(enrich[2] + search[2])
    assert (
        c.at["loop", "under_review_hundredths"] == held == round(alloc.under_review_credits * 100)
    )
    r = alloc.reviews.set_index("operation")
    assert (r.at["enrich", "lower_successful"], r.at["enrich", "upper_successful"]) == (50, 150)
    assert (r.at["search", "lower_successful"], r.at["search", "upper_successful"]) == (0, 100)
    assert r["credits_hundredths"].sum() == held
    assert any(
        "loop is billed its proven lower bound" in n and "50 to 150" in n for n in alloc.notes
    )
    one = alloc.for_customer("steady")
    assert one.reviews.empty and list(one.customers["customer"]) == ["steady"]


def test_tolerance_decides_when_the_estimate_is_billed():
    usage, tk = _retry_loop_month()
    # loose enough for loop's 86.4 of 150: the estimate is billed, nothing is under review
    loose = allocate_credits(
        usage, tk, month="2026-10", mapping=MAPPING, prices=PRICES, tolerance=0.6
    )
    assert loose.under_review_credits == 0 and loose.reviews.empty
    assert set(loose.customers.loc[loose.customers["kind"] == "customer", "billing"]) == {
        "estimate"
    }
    # strict: even the steady customer's 8 and 10 above [482, 382] are too far
    strict = allocate_credits(
        usage, tk, month="2026-10", mapping=MAPPING, prices=PRICES, tolerance=0.005
    )
    c = strict.customers.set_index("customer")
    assert c.at["steady", "billing"] == "lower bound"
    tie_out(strict, {"enrich": 300.0, "search": 200.0})
    with pytest.raises(InputError):
        allocate_credits(usage, tk, month="2026-10", mapping=MAPPING, tolerance=1.5)


def test_known_split():
    usage = frame(
        [
            ("2026-10-01", "search", 100.0),
            ("2026-10-02", "search", 0.01),
            ("2026-10-01", "enrich", 10.0),
            ("2026-10-03", "unattributed", 5.0),
            ("2026-10-03", "phone", 3.0),
        ]
    )
    tk = tokens(
        [
            ("alpha", "2026-10", "/s/", 30, 30, 0, 0),
            ("beta", "2026-10", "/s/", 20, 10, 10, 0),  # half its requests failed
            ("beta", "2026-10", "/e/", 20, 10, 10, 0),
            ("beta", "2026-10", "/unknown/", 5, 10, 10, 0),
        ]
    )
    alloc = allocate_credits(
        usage, tk, month="2026-10", mapping=MAPPING, prices={**PRICES, "phone": 0.4}
    )
    lines = alloc.lines.set_index(["customer", "operation"])
    # search: weights alpha 30, beta 20 * 0.5 = 10 -> 10001 hundredths split 3:1
    assert (
        lines.at[("alpha", "search"), "credits_hundredths"]
        == largest_remainder(10001, [30, 10])[0]
        == 7501
    )
    assert lines.at[("beta", "search"), "credits_hundredths"] == 2500
    assert lines.at[("beta", "enrich"), "credits_hundredths"] == 1000
    assert lines.at[("beta", "enrich"), "estimated_successful"] == 10
    assert lines.at[(UNALLOCATED, "unattributed"), "credits_hundredths"] == 500
    assert lines.at[(UNALLOCATED, "phone"), "credits_hundredths"] == 300  # no request maps to it
    assert list(alloc.unmapped["endpoint"]) == ["/unknown/"]
    assert any("phone" in n for n in alloc.notes)
    # cost: search 100.01 * 0.02 = 2.0002 -> 200 cents, split by allocated credits
    assert (
        lines.at[("alpha", "search"), "cost_cents"] + lines.at[("beta", "search"), "cost_cents"]
        == 200
    )
    tie_out(
        alloc,
        {"search": 100.01, "enrich": 10.0, "unattributed": 5.0, "phone": 3.0},
        {**PRICES, "phone": 0.4},
    )
    cust = alloc.customers.set_index("customer")
    assert cust.at["beta", "failed_share"] == 0.5 and cust.at["beta", "flagged"]
    assert list(alloc.customers["customer"]) == ["alpha", "beta", UNALLOCATED]


def test_endpoint_patterns_and_the_bundled_mapping():
    ops = map_endpoints(pd.Series(["/jobs/123/", "/jobs/1/2/", "s", "/s", ""]), MAPPING)
    assert [None if pd.isna(o) else o for o in ops] == ["enrich", None, "search", "search", None]
    bundled = load_endpoint_mapping()
    assert bundled["/api/v1/email/find/"] == "email_find"
    assert set(bundled.values()) <= set(load_prices())


def test_mapping_is_editable_in_a_template_folder(tmp_path):
    (tmp_path / "endpoint_mapping.toml").write_text(
        '[endpoints]\n"/api/v1/search/database/leads/count/" = "search_database"\n'
    )
    assert load_endpoint_mapping(tmp_path) == {
        "/api/v1/search/database/leads/count/": "search_database"
    }


counts = st.integers(0, 10_000)


@settings(
    max_examples=60, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)
@given(
    credits=st.lists(st.integers(-5_000, 2_000_000), min_size=3, max_size=3),
    unattributed=st.integers(0, 100_000),
    reqs=st.lists(
        st.tuples(
            st.sampled_from(["a", "b", "c", "d"]),
            st.sampled_from(["/s/", "/e/", "/x/", "/jobs/9/"]),
            counts,
            counts,
            counts,
            counts,
        ),
        max_size=12,
    ),
    price=st.floats(0, 2, allow_nan=False),
)
def test_property_customers_plus_unallocated_equal_the_account(credits, unattributed, reqs, price):
    ops = ["search", "enrich", "phone"]
    rows = [("2026-10-01", op, c / 100) for op, c in zip(ops, credits)]
    rows.append(("2026-10-02", "unattributed", unattributed / 100))
    usage = frame(rows)
    status = {}
    tk_rows = []
    for customer, endpoint, n, ok, c4, c5 in reqs:
        status.setdefault(customer, (ok, c4, c5))  # one status breakdown per token
        tk_rows.append((customer, "2026-10", endpoint, n, *status[customer]))
    prices = {"search": price, "enrich": price / 3, "phone": 0.4}
    alloc = allocate_credits(
        usage, tokens(tk_rows), month="2026-10", mapping=MAPPING, prices=prices
    )
    tie_out(
        alloc,
        {op: c / 100 for op, c in zip(ops, credits)} | {"unattributed": unattributed / 100},
        prices,
    )
    assert alloc.customers["credits_hundredths"].sum() == sum(credits) + unattributed
    assert (
        alloc.lines.loc[alloc.lines["operation"] == "unattributed", "customer"] == UNALLOCATED
    ).all()


def test_health_flags_share_and_growth():
    tk = tokens(
        [
            ("steady", "2026-09", "/s/", 100, 95, 5, 0),
            ("steady", "2026-10", "/s/", 100, 95, 5, 0),
            ("looping", "2026-09", "/s/", 1000, 990, 10, 0),
            ("looping", "2026-10", "/s/", 1200, 1050, 150, 0),
            ("broken", "2026-10", "/s/", 10, 7, 3, 0),
            ("new", "2026-10", "/s/", 5000, 4850, 150, 0),
        ]
    )
    h = integration_health(tk, month="2026-10").set_index("customer")
    assert not h.at["steady", "flagged"]
    assert (
        h.at["looping", "flagged"] and "rose from 10 to 150" in h.at["looping", "flags"]
    )  # 12.5 %, 15x
    assert h.at["broken", "flagged"] and "30% of requests failed" in h.at["broken", "flags"]
    assert not h.at["new", "flagged"] and np.isnan(
        h.at["new", "previous_failed"]
    )  # no last month to compare
    assert (
        integration_health(tk, month="2026-10", threshold=0.25)
        .set_index("customer")
        .at["broken", "flagged"]
    )


def test_sample_october_ties_to_the_report_cost_lines():
    usage = load_sample("2026-10-01", "2026-10-31")
    alloc = allocate_credits(usage, load_sample_tokens("2026-09-01", "2026-10-31"), month="2026-10")
    from generect_reports.reports.monthly import build_report

    rep = build_report(load_sample("2025-11-01", "2026-10-31"), "2026-10")
    ops = rep.operations.set_index("operation")
    per_op = alloc.lines.groupby("operation")[["credits_hundredths", "cost_cents"]].sum()
    for op, row in ops.iterrows():
        assert per_op.at[op, "credits_hundredths"] == round(row["credits"] * 100)
        assert per_op.at[op, "cost_cents"] == money_cents(row["estimated_cost"])
    assert alloc.customers.set_index("customer").at["hooli", "flagged"]
    assert alloc.unallocated_credits == 550.0  # the platform charge of 2026-10-01 only
    summary = customers_summary(alloc)
    assert any("acme-corp" in s for s in summary) and any("hooli" in s for s in summary)
    assert any("estimates" in s and "2xx" in s and "result returned" in s for s in summary)


def test_sheet_names_are_safe_and_unique():
    names = safe_sheet_names(
        ["a/b", "A/B", "x" * 40, "x" * 40, "Chargeback", "history", "[]:*?", "'q'"],
        taken=["Chargeback"],
    )
    assert names[0] == "a_b" and names[1] == "A_B (2)"
    assert names[2] == "x" * 31 and len(names[3]) == 31 and names[3].endswith("(2)")
    assert names[4] == "Chargeback (2)" and names[5] == "history (customer)"
    assert names[6] == "_____" and names[7] == "q"
    assert all(len(n) <= 31 for n in names) and len({n.lower() for n in names}) == len(names)


def _values(ws):
    return {
        (c.row, c.column): c.value for row in ws.iter_rows() for c in row if c.value is not None
    }


@pytest.mark.libreoffice
def test_statement_workbook_recalculates_to_the_same_figures(tmp_path):
    usage = load_sample("2026-10-01", "2026-10-31")
    alloc = allocate_credits(usage, load_sample_tokens("2026-09-01", "2026-10-31"), month="2026-10")
    path = tmp_path / "chargeback.xlsx"
    path.write_bytes(render_chargeback_workbook(alloc))
    stored = openpyxl.load_workbook(path, data_only=True)
    formulas = openpyxl.load_workbook(path)
    recalc = openpyxl.load_workbook(soffice_recalculate(path, tmp_path), data_only=True)
    real = alloc.customers[alloc.customers["kind"] == "customer"]
    billed = real[real["credits_hundredths"] != 0]  # nothing to bill, no statement
    assert len(billed) < len(real)
    # Customer-facing: the statements only, the internal split is the allocation workbook's.
    assert stored.sheetnames == safe_sheet_names(billed["customer"])
    asked = openpyxl.load_workbook(
        io.BytesIO(render_chargeback_workbook(alloc, include_empty=True))
    )
    assert asked.sheetnames == safe_sheet_names(real["customer"])
    assert "token ____e5f1" in stored.sheetnames  # '*' may not appear in a sheet name
    internal = tmp_path / "allocation" / "allocation.xlsx"
    internal.parent.mkdir()
    internal.write_bytes(render_allocation_workbook(alloc, build_statements(alloc)))
    assert openpyxl.load_workbook(internal).sheetnames == ["Allocation", "By operation"]
    inside = openpyxl.load_workbook(soffice_recalculate(internal, internal.parent), data_only=True)
    checked = 0
    for book, values, again in (
        (formulas, stored, recalc),
        (
            openpyxl.load_workbook(internal),
            openpyxl.load_workbook(internal, data_only=True),
            inside,
        ),
    ):
        for name in book.sheetnames:
            f_ws, s_ws, r_ws = book[name], _values(values[name]), _values(again[name])
            for row in f_ws.iter_rows():
                for cell in row:
                    if isinstance(cell.value, str) and cell.value.startswith("="):
                        key = (cell.row, cell.column)
                        assert r_ws[key] == pytest.approx(s_ws[key], abs=1e-9), (name, key)
                        checked += 1
    assert checked > 50
    # the split's total row equals the account's usage and the report's cost lines
    ws = inside["By operation"]
    totals = [r for r in range(1, ws.max_row + 1) if ws.cell(r, 1).value == "Total"]
    assert [
        ws.cell(r, 2).value
        for r in range(1, ws.max_row + 1)
        if ws.cell(r, 1).value == "Difference (must be 0)"
    ] == [0, 0]
    total_col = 2 + len(alloc.operations)
    assert ws.cell(totals[0], total_col).value == pytest.approx(
        alloc.total_credits
    )  # credits block
    assert ws.cell(totals[1], total_col).value == pytest.approx(alloc.total_cost)  # cost block
    assert ws.cell(totals[0], total_col + 2).value == pytest.approx(alloc.total_cost)
    # a statement: customer, number, period, timezone, its lines, what is under review
    hooli = _values(recalc["hooli"])
    texts = " ".join(str(v) for v in hooli.values())
    assert (
        "hooli-2026-10" in texts
        and "1–31 October 2026" in texts
        and "Europe/Kyiv" in texts
        and "****41de" in texts
    )
    assert "status separately" in texts and "under review" in texts and "list prices" in texts
    assert "acme-corp" not in texts and "unallocated" not in texts
    mine = alloc.lines[alloc.lines["customer"] == "hooli"]
    ws = recalc["hooli"]
    sub = next(r for r in range(1, ws.max_row + 1) if ws.cell(r, 1).value == "Subtotal")
    total = next(r for r in range(1, ws.max_row + 1) if ws.cell(r, 1).value == "Total")
    assert ws.cell(sub, 2).value == pytest.approx(mine["credits_hundredths"].sum() / 100)
    assert ws.cell(total, 4).value == pytest.approx(mine["cost_cents"].sum() / 100)


@pytest.mark.libreoffice
def test_customers_sheet_and_page(tmp_path):
    import xlsxwriter

    usage = load_sample("2026-10-01", "2026-10-31")
    alloc = allocate_credits(usage, load_sample_tokens("2026-09-01", "2026-10-31"), month="2026-10")
    path = tmp_path / "section.xlsx"
    wb = xlsxwriter.Workbook(str(path))
    add_customers_sheet(wb, alloc)
    wb.close()
    stored = _values(openpyxl.load_workbook(path, data_only=True)["By customer"])
    recalc = _values(
        openpyxl.load_workbook(soffice_recalculate(path, tmp_path), data_only=True)["By customer"]
    )
    formulas = openpyxl.load_workbook(path)["By customer"]
    n = 0
    for row in formulas.iter_rows():
        for cell in row:
            if isinstance(cell.value, str) and cell.value.startswith("="):
                assert recalc[(cell.row, cell.column)] == pytest.approx(
                    stored[(cell.row, cell.column)], abs=1e-9
                )
                n += 1
    assert n == 6  # the totals and the tie to the account; the shares are the shown ones
    # the Share column holds the shown shares: unallocated as the operations show it, and the
    # column adds up to the 100.0% of its total row
    total = next(r for r in range(5, 50) if recalc.get((r, 1)) == "Total")
    rows = {recalc[(r, 1)]: r for r in range(5, total + 1)}
    shares = {c: recalc.get((r, 8), 0.0) for c, r in rows.items() if c != "Total"}
    assert shares["unallocated"] == pytest.approx(0.017)
    assert round(sum(shares.values()) * 1000) == 1000
    assert recalc[(rows["Total"], 8)] == pytest.approx(1.0)
    texts = " ".join(str(v) for v in recalc.values())
    assert "unallocated" in texts and "hooli" in texts and "failed" in texts
    fig = customers_page(alloc)
    pdf = tmp_path / "page.pdf"
    fig.savefig(pdf)
    text = subprocess.run(
        ["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert (
        "By customer" in text and "acme-corp" in text and "unallocated" in text and "hooli" in text
    )
    assert "2xx" in text and "Integration health" in text


def test_formula_like_customer_names_stay_text(tmp_path):
    usage = frame([("2026-10-01", "search", 10.0)])
    tk = tokens(
        [('=HYPERLINK("x")', "2026-10", "/s/", 5, 5, 0, 0), ("+cmd|", "2026-10", "/s/", 5, 5, 0, 0)]
    )
    alloc = allocate_credits(usage, tk, month="2026-10", mapping=MAPPING, prices=PRICES)
    path = tmp_path / "c.xlsx"
    path.write_bytes(render_chargeback_workbook(alloc, include_empty=True))  # every name
    wb = openpyxl.load_workbook(path)
    cells = [
        c
        for ws in wb
        for row in ws.iter_rows()
        for c in row
        if c.value in ("+cmd|", '=HYPERLINK("x")')
    ]
    assert cells and all(c.data_type == "s" for c in cells)
    csv_text = render_chargeback(alloc, "csv")
    assert "\"'=HYPERLINK" in csv_text and '"\'+cmd|"' in csv_text


# --- the command -------------------------------------------------------------------------------


def _tie_doc(doc: dict, usage_ops: dict[str, float]) -> None:
    rows = pd.DataFrame(doc["rows"])
    per_op = rows.groupby("operation")[["credits", "estimated_cost"]].sum()
    for op, credits in usage_ops.items():
        assert round(per_op.at[op, "credits"] * 100) == round(credits * 100)
    assert round(doc["totals"]["credits"] * 100) == round(sum(usage_ops.values()) * 100)
    cents = sum(money_cents(c * load_prices().get(op, 0.0)) for op, c in usage_ops.items())
    assert (
        round(rows["estimated_cost"].sum() * 100)
        == cents
        == round(doc["totals"]["estimated_cost"] * 100)
    )


def test_chargeback_sample_json_adds_up():
    out = run_cli("chargeback", "--sample", "--month", "2026-10", "--format", "json")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["command"] == "chargeback" and doc["schema_version"] and doc["estimate"] is True
    assert (doc["start"], doc["end"], doc["complete"]) == ("2026-10-01", "2026-10-31", True)
    usage = load_sample("2026-10-01", "2026-10-31", period="month")
    _tie_doc(doc, dict(zip(usage["operation"], usage["credits"])))
    assert [c["customer"] for c in doc["customers"] if c["flagged"]] == ["hooli"]
    assert len(doc["assumptions"]) == 2 and doc["unmapped_endpoints"]


def test_chargeback_sample_table_states_the_estimate():
    out = run_cli("chargeback", "--sample", "--month", "2026-10")
    assert out.returncode == 0, out.stderr
    assert "acme-corp" in out.stdout and "unallocated" in out.stdout and "FLAG" in out.stdout
    assert (
        "2xx" in out.stdout and "result" in out.stdout and "equal the account's usage" in out.stdout
    )
    one = run_cli(
        "chargeback", "--sample", "--month", "2026-10", "--customer", "****41de", "--format", "csv"
    )
    assert one.returncode == 0, one.stderr
    assert {r.split(",")[1] for r in one.stdout.strip().splitlines()[1:]} == {'"hooli"'}
    assert "estimates" in one.stderr and "2xx" in one.stderr  # the CSV itself has no room for them


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["--month", "2026-13"], "invalid month"),
        (["--month", "2026-10", "--format", "xlsx"], "needs --output"),
        (["--month", "2026-10", "--format", "pdf"], "unknown format"),
        (["--month", "2026-10", "--customer", "nobody"], "no customer 'nobody'"),
        (["--month", "2026-10", "--failed-threshold", "120"], "between 0 and 100"),
        (["--month", "2030-01"], "sample covers"),
    ],
)
def test_chargeback_bad_input(tmp_path, args, fragment):
    out = run_cli("chargeback", "--sample", *args, cwd=tmp_path)
    assert out.returncode == 2 and fragment in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1 and not list(tmp_path.iterdir())


@pytest.fixture
def token_api(token_env):
    return T.install(token_env)


def test_chargeback_against_the_api_adds_up(token_api):
    out = run_cli(
        "chargeback", "--month", "2026-10", "--timezone", "Europe/Kyiv", "--format", "json"
    )
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    _tie_doc(doc, {"search_database": 310.0, "email_find": 77.5})
    rows = {(r["customer"], r["operation"]): r for r in doc["rows"]}
    # search weights: acme 100 * 147/157, canary 50 * 0.2;
    # email: acme 50 * 147/157, canary 40, nameless 20.
    # The canary's 200 failures could all be on either endpoint: its proven lower bound is 0
    # successful requests on both, so it is billed nothing and its estimate is held back.
    acme_w = 147 / 157
    expect = largest_remainder(31000, [100 * acme_w, 0.0, 10.0])
    assert round(rows[("acme-corp", "search_database")]["credits"] * 100) == expect[0]
    assert rows[("canary", "search_database")]["credits"] == 0
    held = rows[("unallocated, under review", "search_database")]["credits"]
    assert round(held * 100) == expect[2] > 0
    expect = largest_remainder(7750, [50 * acme_w, 0.0, 20.0, 40.0])
    assert round(rows[("token ****55e9", "email_find")]["credits"] * 100) == expect[2]
    assert [c["customer"] for c in doc["customers"] if c["flagged"]] == ["canary"]
    canary = next(c for c in doc["customers"] if c["customer"] == "canary")
    assert canary["billing"] == "lower bound" and canary["credits"] == 0
    ranges = {(r["customer"], r["operation"]): r for r in doc["under_review"]}
    assert ranges[("canary", "search_database")]["lower_successful"] == 0
    assert ranges[("canary", "search_database")]["upper_successful"] == 50
    assert ranges[("canary", "email_find")]["upper_successful"] == 50
    assert {r.params["start_date"] for r in token_api.token_requests()} == {
        "2026-09-01T00:00:00+03:00",
        "2026-10-01T00:00:00+03:00",
    }


def test_without_money_the_table_shows_the_labelled_list_price_estimate(token_api):
    base = ("chargeback", "--month", "2026-10", "--timezone", "Europe/Kyiv")
    table = run_cli(*base)
    assert table.returncode == 0, table.stderr
    head = table.stdout.split("\n\n")[1].splitlines()[0]
    assert "est. cost USD" in head and "booked" not in head
    assert table.stdout.splitlines()[1] == (
        "money: an estimate at list prices (no [money] in the config)"
    )
    doc = json.loads(run_cli(*base, "--format", "json").stdout)
    assert "booked_cost" not in doc and "booked_cost" not in doc["totals"]
    assert all("booked_cost" not in r for r in doc["rows"])
    cost = {c["customer"]: c["estimated_cost"] for c in doc["customers"]}
    for line in table.stdout.split("\n\n")[1].splitlines()[1:]:
        who = line[: head.index("customer") + len("customer")].strip()
        assert line[: head.index("est. cost USD") + 13].split()[-1] == f"{cost[who]:,.2f}"
    csv_out = run_cli(*base, "--format", "csv")
    assert csv_out.returncode == 0, csv_out.stderr
    assert csv_out.stdout.splitlines()[0].endswith('"estimated_cost","currency"')


def test_customer_filter_is_applied_here(token_api):
    out = run_cli(
        "chargeback",
        "--month",
        "2026-10",
        "--timezone",
        "Europe/Kyiv",
        "--customer",
        "canary",
        "--format",
        "csv",
    )
    assert out.returncode == 0, out.stderr
    assert {line.split(",")[1] for line in out.stdout.strip().splitlines()[1:]} == {'"canary"'}
    for req in token_api.token_requests():
        assert set(req.params) == {"start_date", "end_date", "timezone"}


FORMATS = {
    "table": [],
    "csv": ["--format", "csv", "--output", "{tmp}/c.csv"],
    "json": ["--format", "json", "--output", "{tmp}/c.json"],
    "xlsx": ["--format", "xlsx", "--output", "{tmp}/c.xlsx"],
}


@pytest.mark.parametrize("fault", [None, "500", "tokens_not_list"])
@pytest.mark.parametrize("fmt", list(FORMATS))
def test_customer_tokens_never_leak(token_api, tmp_path, isolated_env, fmt, fault):
    if fault:
        token_api.fail(fault, times=-1, when=lambda p: "start_date" in p and "T" in p["start_date"])
    args = [a.replace("{tmp}", str(tmp_path)) for a in FORMATS[fmt]]
    out = run_cli(
        "chargeback",
        "--month",
        "2026-10",
        "--timezone",
        "Europe/Kyiv",
        *args,
        "-vv",
        env={"GENERECT_API_MAX_ATTEMPTS": "2"},
    )
    assert out.returncode == (0 if fault is None else 4), out.stderr
    blobs = [out.stdout.encode(), out.stderr.encode()]
    blobs += [
        p.read_bytes()
        for folder in (tmp_path, isolated_env)
        for p in folder.rglob("*")
        if p.is_file()
    ]
    if fault is None:
        assert len(blobs) > 2  # something was written and cached
        if fmt == "xlsx":
            import zipfile

            with zipfile.ZipFile(tmp_path / "c.xlsx") as z:
                blobs += [z.read(n) for n in z.namelist()]
    for blob in blobs:
        for secret in T.SECRETS + [TOKEN]:
            assert secret.encode() not in blob
    for req in token_api.requests:
        for secret in T.SECRETS:
            assert secret not in req.path + json.dumps(req.params)


def test_assumptions_appear_in_every_rendering():
    usage = load_sample("2026-10-01", "2026-10-31")
    alloc = allocate_credits(usage, load_sample_tokens("2026-09-01", "2026-10-31"), month="2026-10")
    key = ASSUMPTIONS[0][:60]
    assert key in render_chargeback(alloc, "table").replace("\n", " ")
    assert key in render_chargeback(alloc, "json")
    assert any(key in s for s in customers_summary(alloc))


def test_chargeback_help():
    from click.testing import CliRunner

    from generect_reports.cli import cli

    result = CliRunner().invoke(cli, ["chargeback", "--help"])
    assert result.exit_code == 0
    for option in (
        "--month",
        "--customer",
        "--format",
        "--output",
        "--sample",
        "--timezone",
        "--no-cache",
    ):
        assert option in result.output
    assert "2xx" in result.output and "results" in result.output


def test_a_customer_called_unallocated_stays_apart():
    usage = frame([("2026-10-01", "search", 10.0), ("2026-10-01", "unattributed", 1.0)])
    tk = tokens([(UNALLOCATED, "2026-10", "/s/", 5, 5, 0, 0)])
    alloc = allocate_credits(usage, tk, month="2026-10", mapping=MAPPING, prices=PRICES)
    lines = alloc.lines.set_index(["customer", "operation"])["credits_hundredths"]
    assert (
        lines[("unallocated (customer)", "search")] == 1000
        and lines[(UNALLOCATED, "unattributed")] == 100
    )


def test_workbook_is_reproducible():
    usage = load_sample("2026-10-01", "2026-10-31")
    alloc = allocate_credits(usage, load_sample_tokens("2026-09-01", "2026-10-31"), month="2026-10")
    assert render_chargeback_workbook(alloc) == render_chargeback_workbook(alloc)


def test_no_tokens_or_no_usage_still_renders(tmp_path):
    import xlsxwriter

    none = allocate_credits(
        frame([("2026-10-01", "search", 10.0)]),
        tokens([]),
        month="2026-10",
        mapping=MAPPING,
        prices=PRICES,
    )
    assert none.lines["customer"].tolist() == [UNALLOCATED] and none.unallocated_credits == 10.0
    assert any("No token analytics" in n for n in none.notes)
    idle = allocate_credits(
        frame([]),
        tokens([("x", "2026-10", "/s/", 5, 5, 0, 0)]),
        month="2026-10",
        mapping=MAPPING,
        prices=PRICES,
    )
    assert idle.total_credits == 0 and idle.customers["credits"].tolist() == [0.0, 0.0]
    for alloc in (none, idle):
        for fmt in ("table", "csv", "json"):
            assert render_chargeback(alloc, fmt)
        assert render_chargeback_workbook(alloc)[:2] == b"PK"
        wb = xlsxwriter.Workbook(str(tmp_path / "s.xlsx"))
        add_customers_sheet(wb, alloc)
        wb.close()
        assert customers_page(alloc).texts and customers_summary(alloc)[-1].startswith(
            "Customer figures are estimates"
        )


def test_customers_shares_add_up_as_shown_and_match_the_operations():
    """October 2026: 550 unattributed credits of 33,441 are 1.6447 %. The report's operations
    show 1.7 % (largest remainder to 100.0); the chargeback showed 1.6 % and customers adding up
    to 99.9 %. The same figure over the same total now shows one share, and the customers' shown
    shares add up to 100.0."""
    out = run_cli("chargeback", "--sample", "--month", "2026-10")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.split("\n\n")[1].splitlines()[1:]  # the table, below its header
    shares = {
        line.split()[0]: [t for t in line.split() if re.fullmatch(r"\d+\.\d%", t)][-1]
        for line in lines
    }
    assert shares["unallocated"] == "1.7%" and shares["acme-corp"] == "61.6%"
    assert round(sum(float(v[:-1]) for v in shares.values()) * 10) == 1000
    from generect_reports.reports.monthly import build_report

    report = build_report(load_sample("2025-10-01", "2026-10-31"), "2026-10")
    assert report.operations.set_index("operation").at["unattributed", "share_display"] == 1.7


#: Customer names the usage writers already take, through the statement workbook.
HOSTILE_NAMES = [
    "Acme\ufffeCorp",  # a noncharacter: the workbook's XML cannot hold it raw
    "Beta\uffff",
    "Ctrl\x1b[2J\x07Co",  # controls
    "\u202eevil bidi",  # a bidi override
    "zero\u200bwidth",
    "'quoted at both ends'",
    "a" * 30 + "'" + "tail",  # an apostrophe as the 31st character
    "b" * 29 + "''",  # apostrophes at the 30th and 31st
    "x" * 40,  # two names the same after the cut to 31 characters
    "x" * 31 + "y",
    '=HYPERLINK("http://e.example")',
    "history",
]


def test_hostile_customer_names_survive_the_statement_workbook(tmp_path):
    usage = load_sample("2026-10-01", "2026-10-31")
    tokens = load_sample_tokens("2026-09-01", "2026-10-31")
    real = sorted(tokens["customer"].dropna().unique())
    rename = dict(zip(real, HOSTILE_NAMES))
    tokens = tokens.assign(customer=tokens["customer"].map(lambda c: rename.get(c, c)))
    alloc = allocate_credits(usage, tokens, month="2026-10")
    path = tmp_path / "chargeback.xlsx"
    path.write_bytes(render_chargeback_workbook(alloc, include_empty=True))  # every name
    book = openpyxl.load_workbook(path)  # a workbook openpyxl cannot open failed here
    names = book.sheetnames  # the statements only
    assert len(names) == len(set(n.casefold() for n in names)) == len(real)
    for name in names:
        assert 0 < len(name) <= 31 and name.isprintable()
        assert not name.startswith("'") and not name.endswith("'")
        assert not set(name) & set("[]:*?/\\")
    cells = {
        str(c.value) for ws in book.worksheets for row in ws.iter_rows() for c in row if c.value
    }
    assert "Ctrl\x1b[2J\x07Co" in {xlsx_decode(c) for c in cells}  # kept, not lost
    assert any("\\ufffe" in c for c in cells)  # shown visibly, not written raw


@pytest.mark.libreoffice
def test_libreoffice_opens_the_workbook_with_hostile_names(tmp_path):
    usage = load_sample("2026-10-01", "2026-10-31")
    tokens = load_sample_tokens("2026-09-01", "2026-10-31")
    real = sorted(tokens["customer"].dropna().unique())
    rename = dict(zip(real, HOSTILE_NAMES))
    tokens = tokens.assign(customer=tokens["customer"].map(lambda c: rename.get(c, c)))
    alloc = allocate_credits(usage, tokens, month="2026-10")
    path = tmp_path / "chargeback.xlsx"
    path.write_bytes(render_chargeback_workbook(alloc, include_empty=True))  # every name
    recalc = openpyxl.load_workbook(soffice_recalculate(path, tmp_path), data_only=True)
    assert recalc.sheetnames == openpyxl.load_workbook(path).sheetnames
