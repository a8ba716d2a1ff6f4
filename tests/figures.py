"""Reading displayed figures back from the artefacts, by their labels.

Small readers, one per kind of layout, that find a figure by the words printed next to it (a
column header, a row name, a line's label), never by its position on the page or in the sheet:

* :func:`text_table` — a table in plain text (``pdftotext -layout`` or the email's text part):
  the header line is found by its labels, each cell is matched to the header it sits under.
* :func:`labelled` — ``Label  value`` or ``Label: value`` on one line.
* :func:`tiles` — labels on one line, their values on the next non-blank one (the PDF's key
  figures).
* :func:`html_rows` — every innermost table row of an HTML part, as cell texts.
* :func:`sheet_table` / :func:`sheet_labels` — a worksheet's table under a header row, or its
  label/value pairs, each cell as the spreadsheet displays it through its number format.

Every reader returns display strings, so the comparisons are of what a reader sees.
"""

from __future__ import annotations

import functools
import html as htmllib
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from generect_reports.reports.formats import format_number

# ------------------------------------------------------------------------ plain text (PDF, email)


def _split(line: str) -> list[tuple[int, int, str]]:
    """Cells separated by two or more spaces, with their character spans."""
    return [(m.start(), m.end(), m.group()) for m in re.finditer(r"\S+(?: \S+)*", line)]


def _label_spans(header: str, labels: list[str]) -> dict[str, tuple[int, int]] | None:
    """Where each label sits in ``header``; None when one is missing.

    A label is a whole cell of the header, or else words bounded by spaces inside a cell (a
    narrow header with single spaces between labels). ``label#2`` names the second of two
    equal labels."""
    cells = _split(header)
    spans: dict[str, tuple[int, int]] = {}
    for spec in labels:
        text, _, nth = spec.partition("#")
        index = int(nth or 1)
        exact = [(s, e) for s, e, c in cells if c == text]
        if len(exact) >= index:
            spans[spec] = exact[index - 1]
            continue
        found = [
            (m.start(), m.end())
            for m in re.finditer(r"(?<!\S)" + re.escape(text) + r"(?!\S)", header)
            if not any(c != text and c in labels and s <= m.start() < e for s, e, c in cells)
        ]
        # Skip a match that is only the start of a longer label (``Change`` of ``Change %``).
        found = [
            (s, e)
            for s, e in found
            if not any(
                header.startswith(other, s) and len(other) > len(text)
                for other in (lab.partition("#")[0] for lab in labels)
            )
        ]
        if len(found) < index:
            return None
        spans[spec] = found[index - 1]
    return spans


def _assign(cells: list[tuple[int, int, str]], spans: dict[str, tuple[int, int]]) -> dict[str, str]:
    """Each label's cell: the one overlapping its header most, else the one whose left or
    right edge is nearest the header's (left- or right-aligned columns)."""
    out: dict[str, str] = {}
    for label, (hs, he) in spans.items():
        best = None
        for s, e, text in cells:
            overlap = min(e, he) - max(s, hs)
            distance = min(abs(s - hs), abs(e - he))
            key = (overlap > 0, max(overlap, 0), -distance)
            if best is None or key > best[0]:
                best = (key, text)
        if best is not None:
            out[label] = best[1]
    return out


def text_table(text: str, labels: list[str], rows: list[str]) -> dict[str, dict[str, str]]:
    """``{row: {label: cell}}`` of the first table whose header line carries every label.

    The table's lines are the non-blank lines under the header; a line belongs to ``row`` when
    one of its cells is the row's name (the cells right of the name are its figures, so a table
    set beside another is read too)."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        spans = _label_spans(line, labels)
        if spans is None:
            continue
        found: dict[str, dict[str, str]] = {}
        blanks = 0
        for body in lines[i + 1 :]:
            if not body.strip():
                blanks += 1
                if found and blanks >= 2:
                    break  # the table ends at a gap (a single blank line may sit inside it)
                continue
            blanks = 0
            cells = _split(body)
            if found and (cells[0][2] == "Operation" or _label_spans(body, labels)):
                break  # the next table's header
            for k, (_s, _e, name) in enumerate(cells):
                if name in rows and name not in found:
                    found[name] = _assign(cells[k + 1 :], spans)
                    break
        if found:
            return found
    return {}


def text_records(text: str, labels: list[str]) -> list[dict[str, str]]:
    """The rows under the first header line carrying every label, each as ``{label: cell}``
    (for a table whose rows are named by more than one column), up to the first gap."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        spans = _label_spans(line, labels)
        if spans is None:
            continue
        records = []
        for body in lines[i + 1 :]:
            if not body.strip():
                if records:
                    break
                continue
            records.append(_assign(_split(body), spans))
        return records
    return []


def labelled(text: str, label: str, pattern: str = r"\S+") -> str | None:
    """The value printed right after ``label`` (and an optional colon) on the first line that
    has one matching ``pattern``."""
    regex = re.compile(r"(?<!\S)" + re.escape(label) + r":?\s+(" + pattern + r")")
    for line in text.splitlines():
        m = regex.search(line)
        if m:
            return m.group(1)
    return None


def tiles(text: str, labels: list[str]) -> dict[str, str]:
    """Key-figure tiles: a line of labels and, on the next non-blank line, their values."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        cells = _split(line)
        names = [c for _s, _e, c in cells]
        if not any(any(n.startswith(label) for n in names) for label in labels):
            continue
        spans = {}
        for s, e, c in cells:
            match = next((label for label in labels if c.startswith(label)), None)
            if match is not None:
                spans[c] = (s, e)
        if len(spans) < 2:
            continue
        below = next((b for b in lines[i + 1 :] if b.strip()), "")
        return _assign(_split(below), spans)
    return {}


def value_below(text: str, label: str, pattern: str = r".+", lines: int = 3) -> str | None:
    """The cell under ``label`` (a tile's figure below its caption): the first of the next
    ``lines`` lines with a cell overlapping the label's columns and matching ``pattern``."""
    rows = text.splitlines()
    for i, line in enumerate(rows):
        for start, end, cell in _split(line):
            if cell != label:
                continue
            for below in rows[i + 1 : i + 1 + lines]:
                for s, e, value in _split(below):
                    if min(e, end) > max(s, start) and re.fullmatch(pattern, value):
                        return value
    return None


# ------------------------------------------------------------------------------------------ HTML


class _Rows(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.rows: list[list[str]] = []
        self._stack: list[list[list[str]]] = []  # open rows, innermost last
        self._cell: list[str] | None = None
        self._cells: list[list[str]] = []

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag == "tr":
            self._stack.append([])
        elif tag in ("td", "th") and self._stack:
            self._stack[-1].append([])
        elif tag == "br" and self._stack and self._stack[-1]:
            self._stack[-1][-1].append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag == "tr" and self._stack:
            row = self._stack.pop()
            texts = [re.sub(r"[ \t\r\f\v]+", " ", "".join(c)).strip() for c in row]
            if not any("\x00table" in t for t in texts):
                self.rows.append([htmllib.unescape(t) for t in texts])
            if self._stack and self._stack[-1]:
                self._stack[-1][-1].append("\x00table")  # the outer cell holds a table

    def handle_data(self, data: str) -> None:
        if self._stack and self._stack[-1]:
            self._stack[-1][-1].append(data)


def html_rows(html: str) -> list[list[str]]:
    """Every innermost table row of ``html`` as its cells' texts (``<br>`` as a newline)."""
    parser = _Rows()
    parser.feed(html)
    return parser.rows


def html_table(html: str, labels: list[str], rows: list[str]) -> dict[str, dict[str, str]]:
    """``{row: {label: cell}}`` of the first HTML table whose header row carries every label."""
    all_rows = html_rows(html)
    for i, header in enumerate(all_rows):
        if not all(label in header for label in labels):
            continue
        found: dict[str, dict[str, str]] = {}
        for row in all_rows[i + 1 :]:
            if not row or row[0] not in rows:
                break
            found[row[0]] = {h: c for h, c in zip(header, row) if h in labels}
        return found
    return {}


def html_texts(html: str) -> list[str]:
    """The HTML part's texts between tags, in order, blanks left out."""
    return [
        htmllib.unescape(re.sub(r"\s+", " ", t)).strip()
        for t in re.split(r"<[^>]+>", re.sub(r"(?s)<(style|head)\b.*?</\1>", "", html))
        if t.strip()
    ]


def html_pairs(html: str) -> dict[str, str]:
    """Two-cell rows as ``{first line of the label: value}`` (the email's key figures)."""
    return {
        row[0].split("\n")[0].strip(): row[1] for row in html_rows(html) if len(row) == 2 and row[0]
    }


# -------------------------------------------------------------------------------- the workbook


def _decimals(section: str) -> int:
    m = re.search(r"\.(0+)", section)
    return len(m.group(1)) if m else 0


def excel_display(value: Any, number_format: str) -> str:
    """A cell's value as a spreadsheet shows it under its number format (the formats the
    documents use: credits, signed changes, percentages, money, dates)."""
    import datetime as dt

    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d")
    v = float(value)
    # LibreOffice re-saves literals escaped or quoted (\+0.0%, "-$"#,##0.00): read them plain.
    number_format = number_format.replace("\\", "").replace('"', "")
    if number_format == "General":
        return format_number(v, 0 if v == int(v) else 2, grouping=False)
    sections = number_format.split(";")
    if v < 0 and len(sections) > 1:
        section = sections[1]
    elif v == 0 and len(sections) > 2:
        section = sections[2]
    else:
        section = sections[0]
    signed = section.startswith("+") and v > 0
    d = _decimals(section)
    if "%" in section:
        body = format_number(abs(v) * 100, d, grouping=False) + "%"
    elif "$" in section:
        body = "$" + format_number(abs(v), d)
    else:
        body = format_number(abs(v), d, grouping="," in section)
    if v < 0 and format_number(abs(v) * (100 if "%" in section else 1), d) != format_number(0, d):
        return "-" + body
    return ("+" if signed else "") + body


@functools.lru_cache(maxsize=8)
def _book(path: Path) -> Any:
    import openpyxl

    return openpyxl.load_workbook(path, data_only=True)


def _sheet(path: Path, sheet: str) -> Any:
    return _book(path)[sheet]


def sheet_table(
    path: Path, sheet: str, labels: list[str], rows: list[str]
) -> dict[str, dict[str, str]]:
    """``{row: {header: displayed cell}}`` of the table whose header row carries every label
    (a label may be a header's beginning, ``Previous`` for ``Previous: September 2026``); its
    rows are named in any column left of the figures."""
    labels = list(dict.fromkeys(labels))
    ws = _sheet(path, sheet)
    grid = [list(r) for r in ws.iter_rows()]
    for i, header in enumerate(grid):
        names = [str(c.value) if c.value is not None else "" for c in header]
        columns = {}
        for label in labels:
            index = next((k for k, n in enumerate(names) if n == label), None)
            if index is None:
                index = next((k for k, n in enumerate(names) if n.startswith(label)), None)
            if index is None:
                break
            columns[label] = index
        if len(columns) < len(labels):
            continue
        found: dict[str, dict[str, str]] = {}
        for row in grid[i + 1 :]:
            texts = [str(c.value) if c.value is not None else "" for c in row]
            name = next((t for t in texts if t in rows), None)
            if name is None:
                if found:
                    break
                continue
            # A blank cell reads as "" (nothing shown there).
            found[name] = {
                label: excel_display(row[k].value, row[k].number_format) if k < len(row) else ""
                for label, k in columns.items()
            }
        return found
    return {}


def sheet_labels(path: Path, sheet: str) -> dict[str, str]:
    """``{label: displayed value}`` of a sheet's label/value rows (label in the first column,
    the value in the next non-empty cell)."""
    ws = _sheet(path, sheet)
    out: dict[str, str] = {}
    for row in ws.iter_rows():
        if not row or not isinstance(row[0].value, str):
            continue
        rest = [c for c in row[1:] if c.value not in (None, "")]
        if rest:
            out.setdefault(row[0].value, excel_display(rest[0].value, rest[0].number_format))
    return out


def sheet_rows(path: Path, sheet: str) -> dict[str, list[str]]:
    """``{label: [displayed values right of it]}`` of a sheet's label rows."""
    ws = _sheet(path, sheet)
    out: dict[str, list[str]] = {}
    for row in ws.iter_rows():
        if row and isinstance(row[0].value, str):
            values = [excel_display(c.value, c.number_format) for c in row[1:]]
            out.setdefault(row[0].value, [v for v in values if v != ""])
    return out


def sheet_records(path: Path, sheet: str, labels: list[str]) -> list[dict[str, str]]:
    """The rows under the first header row carrying every label, each as ``{label: displayed
    cell}``, up to the first row without a first label's value."""
    ws = _sheet(path, sheet)
    grid = [list(r) for r in ws.iter_rows()]
    for i, header in enumerate(grid):
        names = [str(c.value) if c.value is not None else "" for c in header]
        if not all(label in names for label in labels):
            continue
        columns = {label: names.index(label) for label in labels}
        records = []
        for row in grid[i + 1 :]:
            first = columns[labels[0]]
            if first >= len(row) or row[first].value in (None, ""):
                break
            records.append(
                {
                    label: excel_display(row[k].value, row[k].number_format) if k < len(row) else ""
                    for label, k in columns.items()
                }
            )
        return records
    return []
