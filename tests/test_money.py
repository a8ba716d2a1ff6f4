"""Money: one price book, integer cents, one half-up rule, one largest-remainder split, shares
that add up to 100.0 as shown; and the same cost for the same operation wherever it appears
(report, chargeback, budget, FOCUS, quarter, explorer), at any tier multiplier."""

from __future__ import annotations

import email
import email.policy
import re
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support import run_cli

import generect_reports as g
from generect_reports import money as M
from generect_reports.errors import TemplateError
from generect_reports.theme import bundled_template_dir, load_theme

SAMPLE_MONTH = "2026-10"
MULTIPLIERS = ("1.0", "0.8", "0.75")


def _template(folder: Path, multiplier: str) -> Path:
    """A template folder whose prices.toml is the bundled one at another tier multiplier."""
    folder.mkdir(parents=True, exist_ok=True)
    text = (bundled_template_dir() / "prices.toml").read_text()
    text, n = re.subn(r"(?m)^tier_multiplier = .*$", f"tier_multiplier = {multiplier}", text)
    assert n == 1
    (folder / "prices.toml").write_text(text)
    return folder


@pytest.fixture(scope="module")
def templates(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("templates")
    return {m: _template(root / m.replace(".", "_"), m) for m in MULTIPLIERS}


def _report(month: str, template: Path | None = None):
    from generect_reports.reports.monthly import build_report, report_window

    first, last = report_window(month, 13)
    return build_report(g.load_sample(first, last), month, history=13, template=template)


def _allocation(month: str, template: Path | None = None):
    """The allocation as the report's customers section gets it (``_chargeback_data``)."""
    from generect_reports.fetch.tokens import load_sample_tokens
    from generect_reports.periods import month_bounds, parse_month, shift_month

    year, mon = parse_month(month)
    first, last = month_bounds(year, mon)
    theme = load_theme(template)
    return g.allocate_credits(
        g.load_sample(first, last, period="month"),
        load_sample_tokens(month_bounds(*shift_month(year, mon, -1))[0], last),
        month=month,
        prices=theme.prices,
        multiplier=theme.tier_multiplier,
        currency=theme.currency,
    )


# --- the one half-up rule --------------------------------------------------------------------


def test_half_up_in_decimal_not_binary_float():
    # x.xx5 rounds up, away from zero, as written
    assert M.money_cents(Decimal("0.125")) == 13 and M.money_cents(Decimal("-0.125")) == -13
    assert M.money_cents(Decimal("2.675")) == 268 and M.money_cents(2.675) == 268
    assert M.money_cents("16.935") == 1694 and M.money_cents(Decimal("16.934999")) == 1693
    # 3,292 credits × $0.005 × 0.75 = $12.345 exactly: half up is $12.35 ...
    assert M.cost_cents(329200, Decimal("0.005") * Decimal("0.75")) == 1235
    # ... while the binary product at the multiplied price is just below it, and rounds down
    assert 3292 * (0.005 * 0.75) < 12.345 and M.money_cents(repr(3292 * (0.005 * 0.75))) == 1234
    book = M.PriceBook.from_prices({"email_validation": 0.005}, multiplier=0.75)
    assert book.cost_cents("email_validation", 3292.0) == 1235
    assert book.cost_cents("email_validate", 3292.0) == 1235  # the alias is priced the same
    assert book.cost_cents("email_validation", 3292.0, list_price=True) == 1646
    assert book.cost_cents("not_priced", 3292.0) == 0
    # credits are read to the hundredth: float noise in a sum does not move a cent
    assert book.cost_cents("email_validation", sum([0.1] * 10) * 3292) == 1235


@settings(max_examples=300, deadline=None)
@given(
    st.integers(-(10**10), 10**10),
    st.decimals(min_value=0, max_value=10, places=4, allow_nan=False, allow_infinity=False),
    st.sampled_from(["1", "0.8", "0.75", "0.333", "1.25"]),
)
def test_cost_cents_is_exact_half_up(hundredths, price, multiplier):
    """Against an independent oracle in exact fractions: round half away from zero."""
    exact = Fraction(hundredths, 100) * Fraction(str(price)) * Fraction(multiplier) * 100
    sign = -1 if exact < 0 else 1
    want = sign * int(abs(exact) + Fraction(1, 2))
    assert M.cost_cents(hundredths, price * Decimal(multiplier)) == want


def test_costs_cents_is_cost_cents_line_by_line():
    book = M.load_price_book().with_multiplier("0.75")
    ops = ["email_validation", "preview", "mystery", "email_validation", "phone_find"]
    credits = [3292.0, 5393.0, 10.0, 3292.0, -12.5]
    got = book.costs_cents(ops, credits)
    assert got.dtype == np.int64
    assert got.tolist() == [book.cost_cents(o, c) for o, c in zip(ops, credits)]
    assert got.tolist() == [1235, 809, 0, 1235, -375]


# --- splits and shares -----------------------------------------------------------------------


@given(
    st.integers(-(10**9), 10**9),
    st.lists(st.floats(0, 1e6, allow_nan=False), min_size=1, max_size=30),
)
def test_largest_remainder_parts_add_up(total, weights):
    if sum(weights) == 0:
        return
    parts = M.largest_remainder(total, weights)
    assert parts.dtype == np.int64 and int(parts.sum()) == total
    exact = np.asarray(weights) / sum(weights) * total
    assert (np.abs(parts - exact) < 1 + 1e-6).all()


@given(st.lists(st.integers(-(10**7), 10**7), min_size=1, max_size=40))
def test_split_cents_of_a_line_adds_up_whatever_the_signs(day_hundredths):
    """A month's cost line split over its days (refund days included) adds up to the cent."""
    price = Decimal("0.0375")
    total = M.cost_cents(sum(day_hundredths), price)
    exact = np.asarray(day_hundredths, dtype="float64") / 100 * float(price) * 100
    parts = M.split_cents(total, exact)
    assert int(parts.sum()) == total
    assert (np.abs(parts - exact) < 2).all()


def test_old_import_paths_still_work():
    from generect_reports.analysis import pricing

    assert pricing.largest_remainder is M.largest_remainder
    assert pricing.money_cents is M.money_cents and pricing.round_money is M.round_money
    assert pricing.to_hundredths is M.to_hundredths
    assert pricing.load_prices() == M.load_price_book().prices
    costs = pricing.estimate_cost(
        pd.DataFrame({"operation": ["email_validation"], "credits": [3292.0]}), multiplier=0.75
    )
    assert costs["estimated_cost"].tolist() == [12.35] and costs["price"].tolist() == [0.00375]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.floats(0, 1e6, allow_nan=False), min_size=1, max_size=30).filter(
        lambda v: sum(v) > 0
    ),
    st.integers(0, 2),
)
def test_display_shares_add_up_and_stay_within_one_unit(values, decimals):
    shown = M.display_shares(values, decimals)
    unit = 10**decimals
    assert int(np.round(shown * unit).sum()) == 100 * unit  # exactly 100 at the shown precision
    exact = np.asarray(values) / sum(values) * 100
    assert (np.abs(shown - exact) <= 1 / unit + 1e-9).all()


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 10**9), min_size=2, max_size=25).filter(lambda v: sum(v) > 0))
def test_display_shares_of_whole_numbers_do_not_depend_on_order(values):
    shown = M.display_shares(values)
    order = np.random.default_rng(len(values)).permutation(len(values))
    again = M.display_shares(np.asarray(values)[order])
    by_value: dict[int, set[float]] = {}
    for v, s in zip(values, shown):
        by_value.setdefault(v, set()).add(float(s))
    for v, s in zip(np.asarray(values)[order], again):
        if len(by_value[int(v)]) == 1:  # equal values may split a unit between them
            assert float(s) in by_value[int(v)]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.integers(0, 10**8), min_size=2, max_size=12).filter(lambda v: sum(v[1:]) > 0),
    st.integers(1, 6),
)
def test_a_share_shown_elsewhere_is_kept(values, parts):
    """``fixed``: a figure shown in one set keeps its shown share in another set over the same
    total (the rest re-split differently), and both still add up to 100.0."""
    first = M.display_shares(values)
    rest = sum(values[1:])
    other = [rest // parts] * (parts - 1) + [rest - rest // parts * (parts - 1)]
    second = M.display_shares([values[0], *other], fixed={0: first[0]})
    assert second[0] == first[0]
    assert int(np.round(second * 10).sum()) == 1000
    exact = np.asarray([values[0], *other]) / sum(values) * 100
    assert (np.abs(second - exact) <= 0.1 + 1e-9).all()


def test_display_shares_edges():
    assert M.display_shares([]).tolist() == []
    assert M.display_shares([0, 0]).tolist() == [0.0, 0.0]
    assert np.isnan(M.display_shares([1.0, -1.0])).all()
    assert np.isnan(M.display_shares([1.0, float("nan")])).all()
    assert M.display_shares([1, 1, 1]).tolist() == [33.4, 33.3, 33.3]
    with pytest.raises(ValueError):
        M.display_shares([1, 1], fixed={0: 80.0})


# --- the price book --------------------------------------------------------------------------


def test_price_book_from_a_template_folder(templates):
    book = M.load_price_book(templates["0.75"])
    assert book.multiplier == Decimal("0.75") and book.currency == "USD"
    assert book.list_price("email_validation") == Decimal("0.005")  # as written, not binary
    assert book.unit_price("email_validate") == Decimal("0.00375")
    assert book.source == str(templates["0.75"] / "prices.toml")
    theme = load_theme(templates["0.75"])
    # the theme keeps only the look; its price fields read the same book
    assert theme.price_book == book
    assert theme.tier_multiplier == 0.75 and theme.prices == book.prices
    assert theme.currency == "USD" and theme.aliases == dict(book.aliases)
    assert M.load_price_book() == load_theme().price_book
    assert M.as_price_book({"a": 0.5}).multiplier == 1
    assert M.as_price_book(book, multiplier=0.8).unit_price("preview") == Decimal("0.0016")


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("[prices]\nsearch = 'x'\n", r"\[prices\] search in .* must be a number"),
        ("[prices]\nsearch = -0.5\n", "not negative"),
        ("[prices]\nsearch = nan\n", "finite"),
        ("[prices]\nsearch = inf\n", "finite"),
        ("[prices]\nsearch = 1e308\n", r"\[prices\] search in .* at most 1,000,000"),
        ("tier_multiplier = 1e17\n", "tier_multiplier in .* at most"),
        ("tier_multiplier = true\n", "must be a number"),
        ("[aliases]\nsearch_v2 = 3\n", "map names to names"),
    ],
)
def test_bad_price_files_are_template_errors(tmp_path, text, fragment):
    (tmp_path / "prices.toml").write_text(text)
    with pytest.raises(TemplateError, match=fragment):
        M.load_price_book(tmp_path)


# --- the defects, on the sample --------------------------------------------------------------


def test_report_and_chargeback_price_one_line_alike(templates):
    """At a 0.75 multiplier, July 2026's email_validation (3,292 credits × $0.005 × 0.75 =
    $12.345) is $12.35 in the report's cost table and in its customers section, which used to
    multiply floats and show $12.34."""
    rep = _report("2026-07", templates["0.75"])
    alloc = _allocation("2026-07", templates["0.75"])
    line = rep.operations.set_index("operation").loc["email_validation"]
    assert line["credits"] == 3292 and line["estimated_cost"] == 12.35
    ops = alloc.operations.set_index("operation")
    assert ops.loc["email_validation", "cost_cents"] == 1235
    by_customer = alloc.lines[alloc.lines["operation"] == "email_validation"]
    assert int(by_customer["cost_cents"].sum()) == 1235
    assert M.money_cents(alloc.total_cost) == M.money_cents(rep.estimated_cost)


def test_budget_money_line_is_the_summary_cost(templates):
    """At 0.8 the Summary's estimated cost of October 2026 is $652.92; the budget's money line
    was given list prices and summed before rounding ($816.14)."""
    from generect_reports.analysis.budget import report_budget

    rep = _report(SAMPLE_MONTH, templates["0.8"])
    assert M.money_cents(rep.estimated_cost) == 65292
    days = g.load_sample("2026-09-01", "2026-10-31")
    status, _ = report_budget(
        days,
        SAMPLE_MONTH,
        current_limit=30000,
        current_month=SAMPLE_MONTH,
        budgets={"monthly_money": 1000},
        as_of=rep.as_of,
        prices=rep.price_book,
    )
    money = status.set_index("line").loc["money budget"]
    assert M.money_cents(money["used"]) == 65292
    assert money["share_used"] == pytest.approx(0.65292)
    # at list prices the line is the report's at multiplier 1: $816.15, not $816.14
    plain = _report(SAMPLE_MONTH)
    status, _ = report_budget(
        days,
        SAMPLE_MONTH,
        current_limit=30000,
        current_month=SAMPLE_MONTH,
        budgets={"monthly_money": 1000},
        as_of=plain.as_of,
        prices=plain.price_book,
    )
    assert M.money_cents(status.set_index("line").at["money budget", "used"]) == 81615


def test_unattributed_shows_one_share_and_customers_add_up():
    """October 2026: the 550 unattributed credits are 1.6447 % of 33,441. The operations table
    shows 1.7 % (its shares add up to 100.0); the customers section showed 1.6 % with customers
    adding up to 99.9 % under a 100.0 % total. Same figure, same total: same shown share."""
    from generect_reports.render.chargeback import customers_summary

    rep = _report(SAMPLE_MONTH)
    alloc = _allocation(SAMPLE_MONTH)
    ops = rep.operations.set_index("operation")["share_display"]
    assert ops["unattributed"] == 1.7 and round(ops.sum(), 6) == 100.0
    cust = alloc.customers.set_index("customer")
    assert alloc.total_credits == rep.total  # the same denominator
    assert cust.at["unallocated", "credits"] == 550.0
    assert cust.at["unallocated", "share_display"] == 1.7
    assert int(np.round(cust["share_display"] * 10).sum()) == 1000
    exact = cust["credits_hundredths"] / cust["credits_hundredths"].sum() * 100
    assert (np.abs(cust["share_display"] - exact) <= 0.1 + 1e-9).all()
    # the allocation's own operations table shows the report's shares
    assert (
        alloc.operations.set_index("operation")["share_display"].to_dict()
        == ops[ops.index.isin(alloc.operations["operation"])].to_dict()
    )
    text = " ".join(customers_summary(alloc))
    assert "550.00 credits (1.7%) stay unallocated" in text
    assert f"acme-corp {cust.at['acme-corp', 'share_display']:.1f}%" in text


def test_report_email_shows_one_cost_and_one_share(templates, tmp_path):
    """The defects as a reader met them: one email, Summary against Budget, operations against
    customers (multiplier 0.8, a money budget, the customers section on the sample)."""
    config = tmp_path / "config.toml"
    config.write_text("[budget]\nmonthly_money = 1000\n")
    config.chmod(0o600)
    eml = tmp_path / "report.eml"
    out = run_cli(
        "email",
        "--sample",
        "--month",
        SAMPLE_MONTH,
        "--template",
        str(templates["0.8"]),
        "--config",
        str(config),
        "--to",
        "a@example.com",
        "--from",
        "r@example.com",
        "--smtp-host",
        "localhost",
        "--dry-run",
        str(eml),
    )
    assert out.returncode == 0, out.stderr
    msg = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
    text = msg.get_body(("plain",)).get_content()
    assert "Estimated cost at list prices is $652.92" in text
    assert "October 2026 estimated cost was $652.92, 65.3% of the money budget" in text
    assert re.search(r"unattributed +550 +1\.7%", text)
    # in the report's own formats: whole credits, as pages 1-3 show them
    assert "550 credits (1.7%) stay unallocated" in text


# --- one operation, one cost, everywhere ------------------------------------------------------


@pytest.mark.parametrize("multiplier", MULTIPLIERS)
def test_every_artefact_prices_the_month_alike(templates, multiplier):
    """Each operation's October 2026 cost in cents: the report's cost table, the chargeback,
    the budget's money line, FOCUS's contracted cost, the quarter report and the explorer's
    dollar view; and the month's total in the report, the chargeback and the budget."""
    from generect_reports.analysis.budget import budget_status
    from generect_reports.notebook.widgets import filter_usage
    from generect_reports.render.records.focus import focus_frame
    from generect_reports.reports.quarterly import build_quarter_report

    template = templates[multiplier]
    book = M.load_price_book(template)
    rep = _report(SAMPLE_MONTH, template)
    report = {
        op: M.money_cents(c)
        for op, c in zip(rep.operations["operation"], rep.operations["estimated_cost"])
    }
    priced = [op for op in report if book.priced(op)]
    assert report["email_validation"] == book.cost_cents(
        "email_validation", rep.operations.set_index("operation").at["email_validation", "credits"]
    )

    alloc = _allocation(SAMPLE_MONTH, template)
    chargeback = alloc.lines.groupby("operation")["cost_cents"].sum().to_dict()

    days = g.load_sample("2026-09-01", "2026-10-31")
    october = days[days["period_start"].dt.strftime("%Y-%m") == SAMPLE_MONTH]
    october.attrs.update(days.attrs)
    budget = {}
    for op in priced:
        one = days[days["operation"] == op]
        one.attrs.update(days.attrs)
        status = budget_status(
            one, SAMPLE_MONTH, budgets={"monthly_money": 10**6}, prices=book, as_of=rep.as_of
        )
        budget[op] = M.money_cents(status.set_index("line").at["money budget", "used"])
    whole = budget_status(
        days, SAMPLE_MONTH, budgets={"monthly_money": 10**6}, prices=book, as_of=rep.as_of
    )

    focus = focus_frame(october, prices=book)
    focus_cents = (
        pd.Series(M.to_hundredths(focus["ContractedCost"]), index=focus.index)
        .groupby(focus["x_Operation"])
        .sum()
        .to_dict()
    )

    quarter = build_quarter_report(
        g.load_sample("2025-10-01", "2026-10-31"), "2026-Q4", theme=load_theme(template)
    )
    quarter_cents = {
        op: M.money_cents(c)
        for op, c in quarter.cost_by_month.set_index("operation")[SAMPLE_MONTH].items()
    }

    explorer = filter_usage(
        days, months=(SAMPLE_MONTH, SAMPLE_MONTH), granularity="month", unit="usd", prices=book
    )
    explorer_cents = {op: M.money_cents(v) for op, v in explorer.loc[SAMPLE_MONTH].items()}

    for op in priced:
        want = report[op]
        assert want == book.cost_cents(op, rep.operations.set_index("operation").at[op, "credits"])
        got = {
            "chargeback": chargeback.get(op, 0),
            "budget": budget[op],
            "FOCUS": focus_cents.get(op, 0),
            "quarter": quarter_cents[op],
            "explorer": explorer_cents[op],
        }
        assert got == dict.fromkeys(got, want), op
    total = sum(report.values())
    assert M.money_cents(rep.estimated_cost) == total
    assert M.money_cents(alloc.total_cost) == total
    assert M.money_cents(whole.set_index("line").at["money budget", "used"]) == total
    assert sum(focus_cents.values()) == total
    assert M.money_cents(quarter.cost_by_month[SAMPLE_MONTH].sum()) == total
