"""Customer statements: the model built from the chargeback, the PDF per customer read back with
poppler, the statement sheets, the internal allocation summary and the ``[chargeback]`` table."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import openpyxl
import pytest
import tokendata as T
from fakeapi import TOKEN
from pdfcheck import overlaps, pdftotext, words
from support import run_cli

from generect_reports.errors import ConfigError
from generect_reports.fetch.source import open_source
from generect_reports.render.chargeback import safe_sheet_names
from generect_reports.reports import assemble
from generect_reports.reports.statements import (
    build_statements,
    parse_chargeback_table,
    statement_number,
    statement_period,
)

CONFIG = """
[chargeback]
number_prefix = "ST-"
payment_terms = "Payable within 30 days of the statement date."
issuer = { name = "Example Data Ltd", address = ["1 Quay Street", "Dublin D02"], tax_id = "IE123" }

[chargeback.customers.acme-corp]
bill_to = { name = "Acme Corporation", address = ["Accounts payable", "5 Road Runner Way"] }
cost_centre = "CC-410"

[chargeback.customers.hooli]
bill_to = "Hooli XYZ"
cost_centre = "CC-520"
"""


@pytest.fixture(scope="module")
def october():
    """The sample's October 2026: the chargeback and its statements at the booked cost."""
    source = open_source(sample=True)
    return assemble.statements(source, "2026-10")


def _config(tmp_path: Path, text: str = CONFIG) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def _money(cents: int) -> str:
    return f"${cents / 100:,.2f}"


def test_statements_tie_to_the_account(october):
    split, built = october
    alloc = split.allocation
    # every party's credits and amounts add up to the account's, to the hundredth and the cent
    assert sum(r.credits_hundredths for r in built.allocation) == built.total_hundredths
    assert built.total_hundredths == int(alloc.operations["credits_hundredths"].sum())
    assert sum(r.amount_cents for r in built.allocation) == built.total_cents
    assert built.total_cents == sum(split.booked.values())  # the month's booked cost
    assert built.tied and built.rate_basis == "booked"
    for st in built.statements:
        assert st.subtotal_cents == sum(line.amount_cents for line in st.lines) == st.total_cents
        row = next(r for r in built.allocation if r.customer == st.customer)
        assert (st.credits_hundredths, st.total_cents) == (row.credits_hundredths, row.amount_cents)
        assert st.total_cents == split.booked[st.customer]
    # nothing to bill, no statement: the revoked and the staging token
    billed = {st.customer for st in built.statements}
    assert billed == {"acme-corp", "initech", "hooli", "token ****e5f1"}


def test_retry_loop_customer_statement_bills_its_proven_lower_bound(october):
    split, built = october
    hooli = next(st for st in built.statements if st.customer == "hooli")
    review = {r.operation: r for r in split.allocation.reviews.itertuples(index=False)}
    # email_find: 42,690 requests, 42,157 failed, 3,765 successful in all -> [533, 3,765]
    assert (review["email_find"].lower_successful, review["email_find"].upper_successful) == (
        42690 - 42157,
        3765,
    )
    lines = {line.operation: line for line in hooli.lines}
    assert set(lines) == {"email_find"}  # every other operation's lower bound is 0
    email = split.allocation.lines.set_index(["customer", "operation"])
    assert (
        lines["email_find"].credits_hundredths
        == email.at[("hooli", "email_find"), "credits_hundredths"]
    )
    ops = split.allocation.operations.set_index("operation")
    total = int(ops.at["email_find", "credits_hundredths"])
    # billed on 533 of the operation's weights (every customer's estimate: hooli's is split
    # into the 533 billed and the rest held back), so the others' shares do not move
    weights = email.xs("email_find", level="operation")["estimated_successful"].sum()
    assert abs(lines["email_find"].credits_hundredths - total * 533 / weights) <= 1
    assert hooli.review_hundredths == int(
        split.allocation.customers.set_index("customer").at["hooli", "under_review_hundredths"]
    )
    assert any("bills the lower end" in n and "533 to 3,765" in n for n in hooli.notes)


def test_statement_pdfs_hold_only_their_customers_figures(tmp_path, october):
    split, built = october
    out = run_cli(
        "chargeback", "--sample", "--month", "2026-10", "--pdf", str(tmp_path / "pdf"),
        "--config", str(_config(tmp_path)), "-q",
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    files = sorted(p.name for p in (tmp_path / "pdf").iterdir())
    assert files == sorted(
        f"ST-{n}-2026-10.pdf" for n in ("acme-corp", "initech", "hooli", "token-e5f1")
    )
    customers = split.allocation.customers
    real = customers[customers["kind"] == "customer"]
    account = [
        f"{built.total_hundredths / 100:,.2f}".rstrip("0").rstrip("."),  # 33,441
        _money(built.total_cents),
        _money(int(split.allocation.operations["cost_cents"].sum())),
        "unallocated",
    ]
    for st in built.statements:
        file = tmp_path / "pdf" / f"ST-{st.number}.pdf"  # the number with the configured prefix
        text = pdftotext(file)
        (page,) = words(file)
        assert not overlaps(page), st.customer
        # its own figures: every line, the total, the month before, the period
        assert "1–31 October 2026" in text and f"ST-{st.number}" in text
        assert "Example Data Ltd" in text and "Payable within 30 days" in text
        for line in st.lines:
            assert f"{line.credits_hundredths / 100:,.2f}" in text
            assert _money(line.amount_cents) in text
        assert text.count(_money(st.total_cents)) >= 2  # tile and total row
        assert _money(st.previous_cents) in text and "September 2026" in text
        # no one else's: names, token hints, figures; nothing account-wide
        for _, other in real[real["customer"] != st.customer].iterrows():
            assert str(other["customer"]) not in text
            for hint in str(other["token_hints"]).split(", "):
                assert not hint or hint not in text
        own = {_money(x.amount_cents) for x in st.lines} | {
            _money(st.total_cents),
            _money(st.previous_cents),
        }
        for o in built.statements:
            if o.customer != st.customer and _money(o.total_cents) not in own:
                assert _money(o.total_cents) not in text, (st.customer, o.customer)
        for figure in account:
            assert figure not in text, (st.customer, figure)
    acme = pdftotext(tmp_path / "pdf" / "ST-acme-corp-2026-10.pdf")
    assert "Acme Corporation" in acme and "5 Road Runner Way" in acme
    assert "CC-410" not in acme  # the cost centre is internal
    hooli = pdftotext(tmp_path / "pdf" / "ST-hooli-2026-10.pdf")
    assert "Hooli XYZ" in hooli and "533–3,765" in hooli and "under review" in hooli
    assert "251.64" in hooli and "2,539.69" not in hooli


def test_allocation_summary_is_a_separate_file_with_cost_centres(tmp_path, october):
    split, built = october
    path = tmp_path / "allocation.xlsx"
    book = tmp_path / "statements.xlsx"
    out = run_cli(
        "chargeback", "--sample", "--month", "2026-10", "--allocation", str(path),
        "--format", "xlsx", "--output", str(book), "--config", str(_config(tmp_path)), "-q",
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    ws = openpyxl.load_workbook(path)["Allocation"]
    rows = {r[0]: r for r in ws.iter_rows(min_row=5, values_only=True) if r[0]}
    assert rows["acme-corp"][1] == "CC-410" and rows["hooli"][1] == "CC-520"
    assert rows["hooli"][2] == "lower bound" and rows["acme-corp"][2] == "estimate"
    assert rows["unallocated, under review"][3] == pytest.approx(
        split.allocation.under_review_credits
    )
    assert rows["Account"][3] == pytest.approx(built.total_hundredths / 100)
    assert rows["Account"][4] == pytest.approx(built.total_cents / 100)
    stored = sum(
        r[4]
        for k, r in rows.items()
        if k not in ("Total", "Account", "Difference (must be 0)") and isinstance(r[4], float | int)
    )
    assert round(stored * 100) == built.total_cents
    # the statements workbook: a sheet per customer statement, the same figures as the PDF,
    # and nothing internal (the split by operation is the allocation workbook's)
    sheets = openpyxl.load_workbook(book)
    assert sheets.sheetnames == safe_sheet_names(st.customer for st in built.statements)
    assert openpyxl.load_workbook(path).sheetnames == ["Allocation", "By operation"]
    internal = {
        str(c.value) for ws in sheets.worksheets for row in ws.iter_rows() for c in row if c.value
    }
    assert not {"CC-410", "CC-520", "unallocated", "Account usage"} & internal
    hooli: dict = {}
    for r in sheets["hooli"].iter_rows(values_only=True):
        if r[0]:
            hooli.setdefault(r[0], r)  # the first: the statement lines come before the review
    st = next(s for s in built.statements if s.customer == "hooli")
    assert hooli["Statement number"][1] == "ST-hooli-2026-10"
    assert hooli["Bill to"][1] == "Hooli XYZ" and "CC-520" not in str(list(hooli.values()))
    assert hooli["email_find"][3] == pytest.approx(st.lines[0].amount_cents / 100)
    assert hooli["September 2026"][3] == pytest.approx(st.previous_cents / 100)


def test_include_empty_makes_a_statement_for_nothing_billed(tmp_path):
    folder = tmp_path / "all"
    out = run_cli(
        "chargeback",
        "--sample",
        "--month",
        "2026-10",
        "--pdf",
        str(folder),
        "--include-empty",
        "-q",
    )
    assert out.returncode == 0, out.stderr
    names = sorted(p.name for p in folder.iterdir())
    assert "Staging-2026-10.pdf" in names and "globex-2026-10.pdf" in names and len(names) == 6
    text = pdftotext(folder / "globex-2026-10.pdf")
    assert "No usage in the period" in text and "$0.00" in text


def test_against_the_api_the_retry_loop_customer_is_billed_nothing_it_cannot_be_shown(
    tmp_path, token_env
):
    """The canary's 200 failures could all lie on either endpoint: its proven lower bound is 0
    successful requests, so it gets no statement unless asked, and then one billing nothing."""
    T.install(token_env)
    folder = tmp_path / "pdf"
    base = ("chargeback", "--month", "2026-10", "--timezone", "Europe/Kyiv", "--pdf", str(folder))
    out = run_cli(*base, "-q")
    assert out.returncode == 0, out.stderr
    assert not (folder / "canary-2026-10.pdf").exists()
    assert (folder / "acme-corp-2026-10.pdf").exists()
    out = run_cli(*base, "--include-empty", "-q")
    assert out.returncode == 0, out.stderr
    text = " ".join(pdftotext(folder / "canary-2026-10.pdf").split())
    assert not (folder / "old-co-2026-10.pdf").exists() or "Old Co" not in text
    assert "under review" in text and "bills the lower end" in text
    assert "acme-corp" not in text


@pytest.mark.parametrize(
    "table, fragment",
    [
        ("[chargeback]\nissuer = 5\n", "issuer must be a name or a table"),
        ('[chargeback]\nissuer = { address = ["x"] }\n', "needs a name"),
        ('[chargeback]\nissuer = { name = "X", address = 3 }\n', "address must be a list"),
        ("[chargeback]\ntolerance = 2\n", "tolerance must be from 0 to 1"),
        ('[chargeback]\ntolerance = "5%"\n', "tolerance must be a number"),
        ('[chargeback]\nnumber_prefix = "a b"\n', "number_prefix"),
        ('[chargeback]\ncolour = "red"\n', "unknown setting 'colour'"),
        ("[chargeback.customers.acme-corp]\ncost_centre = 410\n", "cost_centre must be"),
        ('[chargeback.customers.acme-corp]\nbill_to = "A"\nvat = 1\n', "unknown setting 'vat'"),
        ("[chargeback]\ncustomers = 3\n", "customers must be tables"),
    ],
)
def test_chargeback_table_errors_exit_2(tmp_path, table, fragment):
    out = run_cli(
        "chargeback", "--sample", "--month", "2026-10", "--pdf", str(tmp_path / "pdf"),
        "--config", str(_config(tmp_path, table)),
    )  # fmt: skip
    assert out.returncode == 2, out.stderr
    assert fragment in out.stderr and len(out.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "pdf").exists()
    with pytest.raises(ConfigError):
        import tomllib

        parse_chargeback_table(tomllib.loads(table).get("chargeback", {}))


def test_the_configured_tolerance_decides_the_billing(tmp_path):
    loose = _config(tmp_path, "[chargeback]\ntolerance = 0.9\n")
    out = run_cli(
        "chargeback", "--sample", "--month", "2026-10", "--format", "json", "--config", str(loose)
    )
    assert out.returncode == 0, out.stderr
    import json

    doc = json.loads(out.stdout)
    assert doc["tolerance"] == 0.9 and doc["under_review"] == []
    hooli = next(c for c in doc["customers"] if c["customer"] == "hooli")
    assert hooli["billing"] == "estimate" and hooli["credits"] == pytest.approx(2539.69)


def test_statement_number_period_and_list_prices():
    assert statement_period("2026-02") == "1–28 February 2026"
    assert statement_period("2028-02") == "1–29 February 2028"
    assert statement_number("token ****e5f1", "2026-10") == "token-e5f1-2026-10"
    assert statement_number("acme", "2026-10", "INV/") == "INV/acme-2026-10"
    source = open_source(sample=True)
    split = assemble.chargeback(source, "2026-10")
    built = build_statements(split.allocation)  # no money: list prices
    assert built.rate_basis == "list"
    prices = split.allocation.operations.set_index("operation")["price"]
    acme = next(st for st in built.statements if st.customer == "acme-corp")
    for line in acme.lines:
        assert float(line.rate) == pytest.approx(prices[line.operation])
    assert any("list prices" in n for n in acme.notes)
    assert sum(st.total_cents for st in built.statements) + sum(
        r.amount_cents for r in built.allocation if r.kind != "customer"
    ) == int(split.allocation.operations["cost_cents"].sum())


def test_a_statement_pdf_is_the_same_bytes_every_run(october):
    from generect_reports.render.pdf.statement import render_statement_pdf

    _, built = october
    st = next(s for s in built.statements if s.customer == "hooli")
    first = render_statement_pdf(st)
    assert first.startswith(b"%PDF") and render_statement_pdf(st) == first


def test_a_long_statement_keeps_every_line_on_its_page(tmp_path, october):
    """Twenty operations: the table's rows tighten so the notes and footer still fit."""
    import dataclasses
    from decimal import Decimal

    from generect_reports.render.pdf.statement import render_statement_pdf
    from generect_reports.reports.statements import StatementLine

    _, built = october
    base = next(s for s in built.statements if s.customer == "acme-corp")
    lines = tuple(
        StatementLine(f"operation_{i:02d}", 1000 * (i + 1), Decimal("0.0200"), 20 * (i + 1))
        for i in range(20)
    )
    long = dataclasses.replace(base, lines=lines)
    path = tmp_path / "long.pdf"
    path.write_bytes(render_statement_pdf(long))
    text = pdftotext(path)
    assert text.count("\f") == 1  # one page
    for line in lines:
        assert line.operation in text
    assert _money(long.total_cents) in text and "page 1 of 1" in text
    (page,) = words(path)
    total_bottom = max(w.y1 for w in page if w.text == "Total")
    notes_top = min(w.y0 for w in page if w.text == "Notes")
    assert total_bottom < notes_top
    assert not overlaps(page)  # no row drawn over another


def test_an_account_of_its_own_takes_its_own_chargeback_table(tmp_path, token_env):
    T.install(token_env)
    config = _config(
        tmp_path,
        '[chargeback]\nnumber_prefix = "FILE-"\n\n'
        f'[accounts.solo]\ntoken_env = "SOLO_TOKEN"\napi_url = "{token_env.url}"\n\n'
        '[accounts.solo.chargeback]\nnumber_prefix = "SOLO-"\nissuer = "Solo Reseller"\n',
    )
    folder = tmp_path / "pdf"
    out = run_cli(
        "chargeback", "--month", "2026-10", "--timezone", "Europe/Kyiv", "--config", str(config),
        "--account", "solo", "--pdf", str(folder), "-q",
        env={"SOLO_TOKEN": TOKEN},
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    names = sorted(p.name for p in folder.iterdir())
    assert names and all(n.startswith("SOLO-") for n in names), names
    assert "Solo Reseller" in pdftotext(folder / "SOLO-acme-corp-2026-10.pdf")


def _table_column(text: str, heading: str) -> dict[str, str]:
    """A column of the chargeback table by customer: the columns are right-aligned, each cell
    ends where its heading ends."""
    head, *lines = text.split("\n\n")[1].splitlines()
    who_end = head.index("customer") + len("customer")
    end = head.index(heading) + len(heading)
    return {line[:who_end].strip(): line[:end].split()[-1] for line in lines}


def test_booked_money_is_the_same_in_table_csv_json_workbook_and_statements(tmp_path, october):
    """With [money] (the sample has it) the table's money column is the booked cost, the rate
    the statements bill, and says so; CSV rows, JSON, the statement sheets and PDFs show the
    same cents for every customer."""
    split, built = october
    base = ("chargeback", "--sample", "--month", "2026-10")
    table = run_cli(*base)
    assert table.returncode == 0, table.stderr
    head = table.stdout.split("\n\n")[1].splitlines()[0]
    assert "booked USD" in head and "est. cost" not in head
    assert "money: the booked cost ([money]" in table.stdout.splitlines()[1]
    shown = _table_column(table.stdout, "booked USD")
    csv_out = run_cli(*base, "--format", "csv")
    assert csv_out.returncode == 0, csv_out.stderr
    rows = list(csv.DictReader(io.StringIO(csv_out.stdout)))
    by_csv: dict[str, int] = {}
    for r in rows:
        assert r["booked_currency"] == "USD"
        by_csv[r["customer"]] = by_csv.get(r["customer"], 0) + round(float(r["booked_cost"]) * 100)
    doc = json.loads(run_cli(*base, "--format", "json").stdout)
    by_json = {
        c["customer"]: round(c["booked_cost"] * 100) for c in doc["booked_cost"]["customers"]
    }
    by_rows: dict[str, int] = {}
    for r in doc["rows"]:
        by_rows[r["customer"]] = by_rows.get(r["customer"], 0) + round(r["booked_cost"] * 100)
    assert round(doc["totals"]["booked_cost"] * 100) == built.total_cents == sum(by_json.values())
    book = tmp_path / "statements.xlsx"
    folder = tmp_path / "pdf"
    out = run_cli(*base, "--format", "xlsx", "--output", str(book), "--pdf", str(folder), "-q")
    assert out.returncode == 0, out.stderr
    sheets = openpyxl.load_workbook(book, data_only=True)
    pdfs = [" ".join(pdftotext(path).split()) for path in sorted(folder.iterdir())]
    assert len(pdfs) == len(built.statements)
    names = dict(zip((st.customer for st in built.statements), sheets.sheetnames))
    assert len(built.statements) == 4
    for st in built.statements:
        cents = st.total_cents
        assert cents == split.booked[st.customer] > 0
        assert by_csv[st.customer] == by_json[st.customer] == by_rows[st.customer] == cents
        assert shown[st.customer] == f"{cents / 100:,.2f}"
        ws = sheets[names[st.customer]]
        total = next(r for r in ws.iter_rows(values_only=True) if r[0] == "Total")
        assert round(total[3] * 100) == cents
        pdf = next(t for t in pdfs if st.number in t)
        assert _money(cents) in pdf
    # The parties billed to no one carry their booked cents too, in every output.
    for party in ("unallocated, under review", "unallocated"):
        assert shown[party] == f"{split.booked[party] / 100:,.2f}"
        assert by_csv[party] == by_json[party] == split.booked[party]
