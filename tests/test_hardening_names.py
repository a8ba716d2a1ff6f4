"""Any operation name the API can send: every writer holds it losslessly and visibly, or the
response is malformed (exit 4, naming the period); never a crash or a corrupt file."""

from __future__ import annotations

import csv
import datetime as dt
import email
import json
import re
import subprocess
import unicodedata
from email import policy

import openpyxl
import pytest
from fakeapi import TOKEN
from hypothesis import given, settings
from hypothesis import strategies as st
from support import run_cli, soffice_recalculate

from generect_reports._text import (
    EXCEL_CELL_MAX,
    display_text,
    name_list,
    truncate_for_layout,
    unholdable_reason,
    xlsx_decode,
    xlsx_text,
    xlsxwriter_text,
)

#: One name per class of code point (each class also mixed with ordinary text).
NAMES = {
    "c0": "c0 \x00\x01\x07\x08\x0b\x0c\x1b[2J\x1f\x7f end",
    "c1": "c1 \x80\x85\x9b\x9f end",
    "nonchar": "nonchar \ufffe\uffff\ufdd0\U0001fffe end",
    "bidi": "bidi \u202eevil\u202c \u2066iso\u2069 \u200f\u061c end",
    "zero_width": "zw \u200b\u200c\u200d\u2060\ufeff end",
    "separators": "sep \u00a0\u2028\u2029\u3000 end",
    "whitespace": "ws \t tab \n lf \r cr end",
    "private_use": "pua \ue000\U000f0000 end",
    "literal_escape": "_x0041_ and _x001B_ literally",
    "formula": '=HYPERLINK("http://evil.example")',
    "long": "L" * 4990 + " end",
}
#: Names no writer can hold: the response is malformed.
REFUSED = {
    "lone_high": "a\ud800b",
    "lone_low": "\udfff",
    "too_long_for_a_cell": "\x1b" * (EXCEL_CELL_MAX // 7 + 1),
}
_INVISIBLE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff\ufff9-\uffff\u061c\u00a0\u3000]"
)


def _no_invisible(text: str) -> bool:
    return _INVISIBLE.search(text.replace("\n", "").replace("\r", "").replace("\t", "")) is None


@pytest.fixture
def named_api(api):
    """The local API with one month of usage under every name of NAMES."""
    api.daily.clear()
    day = dt.date(2026, 4, 1)
    while day <= dt.date(2026, 5, 31):
        api.daily[day] = {name: float(i + 1) for i, name in enumerate(NAMES.values())}
        day += dt.timedelta(days=1)
    return api


def _env(api) -> dict[str, str]:
    return {"GENERECT_API_TOKEN": TOKEN, "GENERECT_API_URL": api.url}


def _usage(api, fmt: str, out=None):
    args = ["usage", "--start", "2026-05-01", "--end", "2026-05-02", "--format", fmt]
    return run_cli(*args, *(["--output", str(out)] if out else []), env=_env(api))


# --- the text helpers ---------------------------------------------------------------------

_DISPLAY_ESCAPE = re.compile(r"\\(\\|x[0-9a-f]{2}|u[0-9a-f]{4}|U[0-9a-f]{8})")


def _undisplay(text: str) -> str:
    return _DISPLAY_ESCAPE.sub(
        lambda m: "\\" if m.group(1) == "\\" else chr(int(m.group(1)[1:], 16)), text
    )


held = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)


@settings(max_examples=400, deadline=None)
@given(held)
def test_display_text_is_visible_and_lossless(text):
    shown = display_text(text)
    assert shown.isprintable() and _undisplay(shown) == text


@settings(max_examples=400, deadline=None)
@given(held)
def test_xlsx_text_is_well_formed_and_lossless(text):
    from xml.etree import ElementTree

    stored = xlsx_text(text)
    assert not re.search("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]", stored)
    ElementTree.fromstring(f"<t>{stored.replace('&', '&amp;').replace('<', '&lt;')}</t>".encode())
    assert xlsx_decode(stored) == text


def test_printable_text_in_any_script_is_shown_unchanged():
    for text in ("Привіт", "日本語", "עברית", "emoji 🙂", "naïve café"):
        assert display_text(text) == text
    assert display_text("a\\b") == "a\\\\b" and display_text("\x1b[2J") == "\\x1b[2J"
    assert display_text("\u202e") == "\\u202e" and display_text("\U000f0000") == "\\U000f0000"


def test_truncate_for_layout():
    assert truncate_for_layout("abc", 3) == "abc"
    assert (
        truncate_for_layout("abcdef", 4) == "abc…"
        and len(truncate_for_layout("x" * 5000, 40)) == 40
    )
    assert name_list(["a\x1b", "b" * 100], width=10) == "a\\x1b, bbbbbbbbb…"
    with pytest.raises(ValueError):
        truncate_for_layout("abc", 0)


def test_unholdable_names():
    assert unholdable_reason(NAMES["long"]) is None and unholdable_reason("\U0001fffe") is None
    for name in REFUSED.values():
        assert unholdable_reason(name)
    assert xlsxwriter_text("a\ufffe\uffffb") == "a\\ufffe\\uffffb"


# --- every writer, through the CLI, against the local API -----------------------------------


def test_csv_keeps_every_name_verbatim(named_api, tmp_path):
    target = tmp_path / "u.csv"
    out = _usage(named_api, "csv", target)
    assert out.returncode == 0, out.stderr
    with target.open(newline="", encoding="utf-8") as fh:
        ops = [row["operation"] for row in csv.DictReader(fh)]
    expected = {("'" + n if n.startswith("=") else n) for n in NAMES.values()}
    assert set(ops) == expected and len(ops) == 2 * len(NAMES)


def test_json_keeps_every_name_verbatim(named_api, tmp_path):
    target = tmp_path / "u.json"
    out = _usage(named_api, "json", target)
    assert out.returncode == 0, out.stderr
    raw = target.read_bytes()
    raw.decode("utf-8", errors="strict")
    assert {r["operation"] for r in json.loads(raw)["rows"]} == set(NAMES.values())


def test_table_shows_every_name_escaped(named_api):
    out = _usage(named_api, "table")
    assert out.returncode == 0, out.stderr
    body = out.stdout.split("\n\ntotal credits")[0]
    assert _no_invisible(body.replace("\n", ""))
    for name in NAMES.values():
        assert display_text(name).split(" ")[0] in body


def test_tidy_xlsx_holds_every_name(named_api, tmp_path):
    target = tmp_path / "u.xlsx"
    out = _usage(named_api, "xlsx", target)
    assert out.returncode == 0, out.stderr
    ws = openpyxl.load_workbook(target)["Usage"]
    ops = [xlsx_decode(c.value) for row in ws.iter_rows(min_row=3) for c in row if c.column == 3]
    assert sorted(ops) == sorted(list(NAMES.values()) * 2)


@pytest.mark.libreoffice
def test_libreoffice_keeps_every_row_and_name(named_api, tmp_path):
    target = tmp_path / "u.xlsx"
    assert _usage(named_api, "xlsx", target).returncode == 0
    resaved = soffice_recalculate(target, tmp_path)
    ws = openpyxl.load_workbook(resaved)["Usage"]
    rows = [r for r in ws.iter_rows(min_row=3, values_only=True) if any(v is not None for v in r)]
    assert len(rows) == 2 * len(NAMES)  # no row dropped, none after a hard name either
    assert sum(r[3] for r in rows) == 2 * sum(range(1, len(NAMES) + 1))
    # LibreOffice stores names as shared strings; openpyxl strips their _x005F_ escapes, so a
    # literal "_x0041_" cannot be told apart there: compare every other name exactly.
    # LibreOffice itself turns a carriage return into a line feed in a cell that also holds a
    # line feed (one paragraph break each); the file we wrote keeps it (see the test above).
    names = {xlsx_decode(r[2]) for r in rows}
    expected = {n.replace("\r", "\n") if "\n" in n else n for n in NAMES.values() if "_x" not in n}
    assert expected <= names


def test_report_email_and_pdf_hold_every_name(named_api, tmp_path):
    out = run_cli(
        "report",
        "--month",
        "2026-05",
        "--xlsx",
        "r.xlsx",
        "--pdf",
        "r.pdf",
        "-q",
        env=_env(named_api),
        cwd=tmp_path,
    )
    assert out.returncode == 0 and out.stderr == "", out.stderr
    wb = openpyxl.load_workbook(tmp_path / "r.xlsx")
    cells = {
        xlsx_decode(c)
        for ws in wb
        for row in ws.iter_rows(values_only=True)
        for c in row
        if isinstance(c, str)
    }
    # The workbook keeps every name whole, U+FFFE/U+FFFF shown as escapes (XlsxWriter cannot
    # store them); openpyxl strips the _x005F_ escape of a literal "_x0041_" in shared strings, so
    # that one name cannot be told apart on reading back (the file holds it, see above).
    assert {xlsxwriter_text(n) for n in NAMES.values() if "_x" not in n} <= cells
    text = subprocess.run(
        ["pdftotext", "-enc", "UTF-8", str(tmp_path / "r.pdf"), "-"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert _no_invisible(text.replace("\x0c", ""))
    assert "\\x1b[2J" in text and "\\u202eevil" in text and "\\ufffe" in text
    assert "L" * 4990 not in text and "LLLL…" in text  # cut in the layout only
    out = run_cli(
        "email",
        "--month",
        "2026-05",
        "--to",
        "a@example.com",
        "--from",
        "r@example.com",
        "--dry-run",
        "m.eml",
        "-q",
        env=_env(named_api),
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr
    msg = email.message_from_bytes((tmp_path / "m.eml").read_bytes(), policy=policy.default)
    for part in msg.walk():
        if part.get_content_type() in ("text/plain", "text/html"):
            content = part.get_content()
            assert _no_invisible(content), part.get_content_type()
            assert "\\x1b[2J" in content and "\\u202eevil" in content


@pytest.mark.parametrize("kind", sorted(REFUSED))
@pytest.mark.parametrize("fmt", ["csv", "json", "table", "xlsx", "report"])
def test_a_name_no_writer_can_hold_is_a_malformed_response(api, tmp_path, kind, fmt):
    api.fail(
        "names",
        times=-1,
        arg={REFUSED[kind]: 1.0, "fine": 2.0},
        when=lambda p: p["start_date"] == "2026-05-02",
    )
    target = tmp_path / ("r.xlsx" if fmt == "report" else f"u.{fmt}")
    target.write_bytes(b"previous")
    if fmt == "report":
        out = run_cli(
            "report", "--month", "2026-05", "--xlsx", str(target), env=_env(api), cwd=tmp_path
        )
    else:
        out = _usage(api, fmt, None if fmt == "table" else target)
    assert out.returncode == 4, out.stderr
    line = out.stderr.strip().splitlines()[-1]
    assert "period 2026-05-02" in line
    assert "operation name" in line or "surrogate (U+D" in line
    assert line.isprintable() and len(line) < 400
    assert target.read_bytes() == b"previous" and [p.name for p in tmp_path.iterdir()] == [
        target.name
    ]


def test_names_survive_the_cache(named_api, tmp_path):
    """A closed period is served from the cache on the second run: the names come back whole."""
    first = _usage(named_api, "json")
    second = _usage(named_api, "json")
    assert first.returncode == second.returncode == 0
    assert len(named_api.usage_requests()) == 2  # the second run asked nothing
    assert json.loads(first.stdout)["rows"] == json.loads(second.stdout)["rows"]


def test_every_class_is_covered():
    cats = {unicodedata.category(c) for n in NAMES.values() for c in n}
    assert {"Cc", "Cf", "Cn", "Co", "Zl", "Zp", "Zs"} <= cats


def test_prose_escapes_invisible_characters_but_keeps_shown_names():
    from generect_reports._text import escape_invisible

    shown = display_text("esc \x1b end")
    assert (
        escape_invisible(f"driver {shown} and raw \x1b\u202e")
        == f"driver {shown} and raw \\x1b\\u202e"
    )
    assert escape_invisible("line\nbreak\tand C:\\path") == "line\nbreak\tand C:\\path"
