"""The FinOps Foundation's focus-validator (2.2.1, FOCUS 1.2 rules) on a two-year export.

The validator needs Python 3.12 and its own pinned numpy/pyarrow, so it runs from the venv that
``scripts/focus_validator.sh setup`` builds (CI builds it first; the fixture below builds it when it
is missing, so the test never silently goes away). Version 2.2.1 scores InvoiceId-C-004-C
("must be null") and InvoiceId-C-005-C ("must not be null") as stand-alone rules, so exactly
one of them fails on any consistent file: nothing else may fail.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest
from test_focus import ledger

from generect_reports import load_sample
from generect_reports.render.records import focus as F

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "focus_validator.sh"
VENV = Path(
    os.environ.get("GENERECT_FOCUS_VENV")
    or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    / "generect-reports"
    / "focus-validator-2.2.1"
)
#: The validator's own defect: exactly one of these fails on any file.
INVOICE_PAIR = {"InvoiceId-C-004-C", "InvoiceId-C-005-C"}

_SUMMARY = re.compile(
    r"Total:\s*(\d+)\s*\|\s*Pass:\s*(\d+)\s*\|\s*Fail:\s*(\d+)\s*\|\s*Skipped:\s*(\d+)"
)
_FAIL = re.compile(r"^\S*\s*([A-Za-z]+-[A-Z]-\d{3}-[A-Z]): FAIL\b", re.MULTILINE)


def validate(path: Path) -> tuple[dict[str, int], set[str], str]:
    """Run the validator; return its summary counts, the rules that failed, and its output."""
    out = subprocess.run(
        [str(SCRIPT), "run", str(path)],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "GENERECT_FOCUS_VENV": str(VENV)},
    )
    text = out.stdout + out.stderr
    assert out.returncode == 0, text[-2000:]
    match = _SUMMARY.search(text)
    assert match, text[-2000:]
    counts = dict(zip(("total", "pass", "fail", "skipped"), map(int, match.groups())))
    return counts, set(_FAIL.findall(text)), text


@pytest.fixture(scope="module")
def validator_venv() -> Path:
    """The validator's venv, built with the project's own script when it is not there yet."""
    if not (VENV / "bin" / "focus-validator").exists():
        out = subprocess.run(
            [str(SCRIPT), "setup"],
            capture_output=True,
            text=True,
            timeout=900,
            env={**os.environ, "GENERECT_FOCUS_VENV": str(VENV)},
        )
        assert out.returncode == 0, (out.stdout + out.stderr)[-2000:]
    return VENV


@pytest.mark.focus
@pytest.mark.slow
@pytest.mark.parametrize(
    "suffix, with_ledger, booked",
    [
        (".csv", False, False),
        (".csv", True, False),
        (".parquet", True, False),
        (".csv", False, True),
    ],
)
def test_validator_finds_nothing_beyond_its_invoice_defect(
    validator_venv, tmp_path, suffix, with_ledger, booked
):
    target = tmp_path / f"focus{suffix}"
    options: dict[str, object] = {"ledger": ledger(), "topup_price": 0.01} if with_ledger else {}
    if booked:  # costs from the sample's purchases, as `usage --sample --format focus` gives
        import datetime as dt

        from generect_reports.analysis.valuation import MoneySettings
        from generect_reports.fetch.sample import SampleSource
        from generect_reports.reports.valuation import booked_months

        options["booked"] = booked_months(
            SampleSource(), MoneySettings(), dt.date(2025, 1, 1), dt.date(2026, 10, 31)
        )
    F.write_focus(load_sample(), target, **options)
    counts, failed, text = validate(target)
    assert len(failed) == counts["fail"] == 1, text[-3000:]
    assert failed <= INVOICE_PAIR, failed
    # the applicability criteria were taken: the conditional rules ran, not only the basics
    assert counts["total"] >= 500 and counts["pass"] >= 200, counts
