"""Golden files: stable text forms of the artefacts and the one comparison with the stored copy.

A golden file is rewritten only by ``pytest --update-golden`` (review the diff before committing
it). Only what must vary from run to run is normalised: the time a JSON document was generated
and the package version. On a mismatch the failure shows a unified diff of the first lines that
differ.
"""

from __future__ import annotations

import datetime as dt
import difflib
import itertools
import json
import re
from pathlib import Path
from typing import Any

import pytest

GOLDEN = Path(__file__).parent / "golden"

#: Lines of the unified diff shown when a golden file differs.
DIFF_LINES = 40

_GENERATED_AT = re.compile(r'("generated_at": )"[^"]*"')


def _version_pattern() -> re.Pattern[str]:
    from generect_reports._version import __version__

    return re.compile(r"(?<![\w.])" + re.escape(__version__) + r"(?![\w]|\.\d)")


def normalise(text: str) -> str:
    """``text`` with the generation time of a JSON document and the package version replaced
    by placeholders; everything else as it was."""
    text = _GENERATED_AT.sub(r'\1"<generated_at>"', text)
    return _version_pattern().sub("<version>", text)


def assert_golden(name: str, text: str, update: bool) -> None:
    """Compare ``text`` (normalised) with ``tests/golden/<name>``; rewrite it when ``update``."""
    text = normalise(text)
    path = GOLDEN / name
    if update:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text.encode("utf-8"))
        return
    if not path.exists():
        pytest.fail(
            f"no golden file tests/golden/{name}: run pytest --update-golden", pytrace=False
        )
    expected = path.read_bytes().decode("utf-8")
    if text == expected:
        return
    diff = difflib.unified_diff(
        expected.splitlines(),
        text.splitlines(),
        fromfile=f"tests/golden/{name}",
        tofile="as rendered now",
        lineterm="",
    )
    shown = list(itertools.islice(diff, DIFF_LINES))
    pytest.fail(
        f"tests/golden/{name} differs from the rendered artefact (if the change is intended, "
        "run pytest --update-golden and review the diff):\n" + "\n".join(shown),
        pytrace=False,
    )


def _cell_text(value: Any) -> str:
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    return json.dumps(str(value), ensure_ascii=False)


def workbook_dump(path: Path) -> str:
    """Every non-empty cell's value of a (recalculated) workbook, sheet by sheet in the
    workbook's order, one ``Sheet!A1<TAB>value`` line each: numbers as Python writes them
    back, text quoted as JSON, dates in ISO 8601."""
    import openpyxl

    book = openpyxl.load_workbook(path, data_only=True)
    lines = []
    for sheet in book.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                if cell.value is not None and cell.value != "":
                    lines.append(f"{sheet.title}!{cell.coordinate}\t{_cell_text(cell.value)}")
    return "\n".join(lines) + "\n"


def pdf_pages(text: str) -> str:
    """``pdftotext -layout`` output as pages under a ``=== page N ===`` line each, trailing
    blanks of every line dropped."""
    pages = text.split("\f")
    if pages and not pages[-1].strip():
        pages.pop()
    out = []
    for number, page in enumerate(pages, 1):
        out.append(f"=== page {number} ===")
        out.extend(line.rstrip() for line in page.rstrip("\n").splitlines())
    return "\n".join(out) + "\n"
