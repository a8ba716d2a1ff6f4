"""The four sample reports that the golden files and the cross-artefact check read.

Each case is rendered once per test run: the email by ``email --dry-run`` (its text and HTML
parts, and the workbook and PDF it attaches, which are the files ``report`` writes), every
``--format json`` document the case has, and for a month the dashboard's report files and key
figures. The files are kept in one folder per case under the run's temporary root, built under a
file lock, so pytest-xdist workers share them instead of rendering again. The workbook is
recalculated by LibreOffice on first use only (tests that read it carry the ``libreoffice``
marker).

The running month is October 2026 as of 2026-10-11 09:30: the CLI has no look-back time, so it
is built with the library call the commands make (``assemble.monthly_report`` with
``ReportSettings(as_of=...)``) and the same message builder. ``status`` is always "now": its
document is the sample's own running month (November 2026 at the sample's as-of time, the first
of November, with nothing elapsed yet).
"""

from __future__ import annotations

import contextlib
import email
import email.policy
import fcntl
import functools
import json
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ADDRESSES = ["--to", "finance@example.com", "--from", "reports@example.com"]


@dataclass(frozen=True)
class Case:
    """One sample report: a month (optionally as of a time) or a quarter, and the JSON
    documents (name: command line) that belong to it."""

    name: str
    month: str | None = None
    quarter: str | None = None
    as_of: str | None = None
    documents: dict[str, list[str]] = field(default_factory=dict)

    @property
    def monthly(self) -> bool:
        return self.quarter is None

    @property
    def period(self) -> str:
        return self.quarter or str(self.month)


def _month_documents(month: str, last_day: str) -> dict[str, list[str]]:
    return {
        "usage": ["usage", "--start", f"{month}-01", "--end", f"{month}-{last_day}"],
        "reconcile": ["reconcile", "--month", month],
        "chargeback": ["chargeback", "--month", month],
    }


CASES: dict[str, Case] = {
    c.name: c
    for c in (
        Case("2026-10", month="2026-10", documents=_month_documents("2026-10", "31")),
        Case("2026-03", month="2026-03", documents=_month_documents("2026-03", "31")),
        Case(
            "running-2026-10",
            month="2026-10",
            as_of="2026-10-11 09:30",
            documents={
                # The days complete at the look-back time, as the report counts them.
                "usage": ["usage", "--start", "2026-10-01", "--end", "2026-10-10"],
                "status": ["status"],
            },
        ),
        Case(
            "2026-Q3",
            quarter="2026-Q3",
            documents={
                "usage": [
                    *("usage", "--start", "2026-07-01", "--end", "2026-09-30"),
                    *("--period", "quarter"),
                ],
                "usage-months": [
                    *("usage", "--start", "2026-07-01", "--end", "2026-09-30"),
                    *("--period", "month"),
                ],
            },
        ),
    )
}


def _invoke(args: list[str]) -> None:
    """One command in this process, as the console script runs it; the sample's months tie
    and cross no failing threshold, so every command exits 0."""
    from click.testing import CliRunner

    from generect_reports.cli import cli

    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, (args, result.exit_code, result.output, result.exception)


def _settings(case: Case) -> Any:
    from generect_reports.reports.assemble import ReportSettings

    return ReportSettings(as_of=case.as_of)


def build(case: Case, folder: Path) -> None:
    """Render every artefact of ``case`` into ``folder``."""
    from generect_reports.deliver.smtp import write_eml

    eml = folder / "message.eml"
    if case.as_of is None:
        what = ["--quarter", case.period] if case.quarter else ["--month", case.period]
        _invoke(["email", "--sample", *what, *ADDRESSES, "--dry-run", str(eml)])
    else:
        from generect_reports.fetch.sample import SampleSource
        from generect_reports.render.email.message import build_message
        from generect_reports.reports.assemble import monthly_report

        with SampleSource() as source:
            rep = monthly_report(source, case.month, _settings(case))
        message = build_message(rep, to=[ADDRESSES[1]], sender=ADDRESSES[3])
        write_eml(message, str(eml))
    msg = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
    for kind in ("plain", "html"):
        part = msg.get_body((kind,))
        assert part is not None, kind
        (folder / f"email.{kind}").write_text(part.get_content(), encoding="utf-8")
    (folder / "subject.txt").write_text(str(msg["Subject"]), encoding="utf-8")
    for part in msg.iter_attachments():
        name = str(part.get_filename())
        (folder / ("report.xlsx" if name.endswith(".xlsx") else "report.pdf")).write_bytes(
            part.get_content()
        )
    for name, args in case.documents.items():
        command, *rest = args
        _invoke([command, "--sample", *rest, "--format", "json", "--output", str(folder / name)])


def _dashboard(case: Case, folder: Path) -> None:
    """The dashboard of the case's month: its report files and its key-figure tiles."""
    from generect_reports.fetch.sample import SampleSource
    from generect_reports.notebook.dashboard import Dashboard

    board = Dashboard(SampleSource(), month=case.month, settings=_settings(case), export_dir=folder)
    try:
        xlsx, pdf = board.write_reports()
        xlsx.rename(folder / "report.xlsx")
        pdf.rename(folder / "report.pdf")
        (folder / "kpis.html").write_text(
            board.kpis.value + board.extra_kpis.value, encoding="utf-8"
        )
    finally:
        board.close()


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive lock on ``path`` (POSIX ``flock``), held for the block."""
    with open(path, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _shared(root: Path, key: str, make: Callable[[Path], None]) -> Path:
    """``root/key``, made once by whichever worker gets there first."""
    target = root / key
    with _locked(root / f"{key}.lock"):
        if not (target / ".done").exists():
            if target.exists():
                shutil.rmtree(target)
            target.mkdir(parents=True)
            make(target)
            (target / ".done").touch()
    return target


class Artefacts:
    """The files of one case, read on demand."""

    def __init__(self, case: Case, root: Path) -> None:
        self.case = case
        self.root = root
        self.folder = _shared(root, case.name, functools.partial(build, case))

    def read(self, name: str) -> str:
        return (self.folder / name).read_text(encoding="utf-8")

    @property
    def text(self) -> str:
        return self.read("email.plain")

    @property
    def html(self) -> str:
        return self.read("email.html")

    @property
    def subject(self) -> str:
        return self.read("subject.txt")

    @property
    def xlsx(self) -> Path:
        return self.folder / "report.xlsx"

    @property
    def pdf(self) -> Path:
        return self.folder / "report.pdf"

    def document(self, name: str) -> dict[str, Any]:
        return json.loads(self.read(name))

    @functools.cached_property
    def pdf_text(self) -> str:
        from pdfcheck import pdftotext

        return pdftotext(self.pdf)

    @functools.cached_property
    def dashboard(self) -> Path:
        """The folder of the dashboard's report files and key figures (a month only)."""
        assert self.case.monthly, "the dashboard shows months"
        return _shared(
            self.root, f"{self.case.name}-dashboard", functools.partial(_dashboard, self.case)
        )

    @functools.cached_property
    def dashboard_pdf_text(self) -> str:
        from pdfcheck import pdftotext

        return pdftotext(self.dashboard / "report.pdf")

    @functools.cached_property
    def recalculated(self) -> Path:
        """The workbook after LibreOffice recalculated every formula (made once per run)."""
        from support import require_marker, soffice_recalculate

        require_marker("libreoffice")

        def make(target: Path) -> None:
            shutil.move(str(soffice_recalculate(self.xlsx, target)), target / "report.xlsx")

        return _shared(self.root, f"{self.case.name}-recalculated", make) / "report.xlsx"

    @functools.cached_property
    def model(self) -> Any:
        """The report model the artefacts were rendered from (the library's own builder)."""
        from generect_reports.fetch.sample import SampleSource
        from generect_reports.reports import assemble

        with SampleSource() as source:
            if self.case.quarter:
                return assemble.quarter_report(source, self.case.quarter).report
            return assemble.monthly_report(source, self.case.month, _settings(self.case))


class SampleReports:
    """The cases of a run, each rendered on first use."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self._built: dict[str, Artefacts] = {}

    def __getitem__(self, name: str) -> Artefacts:
        if name not in self._built:
            self._built[name] = Artefacts(CASES[name], self.root)
        return self._built[name]
