"""The dashboard in a notebook: the month's key figures, the usage explorer and the report
downloads, as one widget (``notebooks/04_dashboard.ipynb`` is :func:`dashboard_notebook`).

``generect-reports dashboard`` serves the same figures without a kernel
(:mod:`~generect_reports.notebook.server`); the key-figure functions here are shared by both.

The data comes from one :class:`~generect_reports.fetch.source.Source` (the parameters name it),
by the report's fetch plan: the figures, the plan-limit row and the report files are those of
:func:`~generect_reports.reports.assemble.monthly_report`, the very report the ``report``
command writes, and the explorer shows the days that report was built from.

Needs the ``notebooks`` extra (ipywidgets).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

if TYPE_CHECKING:
    from ..fetch.source import Source
    from ..periods import Month
    from ..reports.assemble import ReportSettings

__all__ = [
    "Dashboard",
    "open_dashboard",
    "load_usage",
    "notebook_source",
    "dashboard_notebook",
    "KPI_PROVIDERS",
    "Kpi",
    "HISTORY_MONTHS",
    "failure_message",
]

#: Months of daily history the dashboard and the notebooks load from the live API.
HISTORY_MONTHS = 22

#: One key figure: (label, value as text, a short note or "").
Kpi = tuple[str, str, str]

#: Extra key figures shown in their own row under the month's figures (for example plan-limit
#: use and balance runway). Each provider is called as ``provider(usage, report)`` and returns
#: a list of :data:`Kpi`; an empty list shows nothing. Append to this list to add a row.
KPI_PROVIDERS: list[Callable[[pd.DataFrame, Any], list[Kpi]]] = []


def plan_limit_kpis(usage: pd.DataFrame, report: Any) -> list[Kpi]:
    """Plan-limit use (with its projection for a running month) and the balance runway: the
    figures of the report's own budget section, as its Budget sheet shows them."""
    import math

    from generect_reports.reports.monthly import fmt_pct

    status = report.sections.budget
    if status is None:
        return []
    out: list[Kpi] = []
    limit = status[status["kind"] == "limit"]
    if len(limit):
        row = limit.iloc[0]
        note = f"of {row['threshold']:,.0f} credits ({row['threshold_note']})"
        if not math.isnan(row["projected_share"]):
            note += f"; projected {fmt_pct(row['projected_share'])} at month end"
            low, high = row.get("interval_80_low"), row.get("interval_80_high")
            if low is not None and high is not None and not (math.isnan(low) or math.isnan(high)):
                f = report.formats
                note += f" (80% interval {f.projection(low)}–{f.projection(high)} credits)"
        out.append(("Plan limit used", fmt_pct(row["share_used"]), note))
    else:
        out.append(("Plan limit", "none", "the plan has no monthly limit"))
    runway = status.attrs.get("runway_days")
    if runway is not None and math.isfinite(runway):
        out.append(
            (
                "Balance runway",
                f"{runway:,.0f} days",
                f"balance runs out about {status.attrs['run_out_date']:%d %b %Y}",
            )
        )
    return out


KPI_PROVIDERS.append(plan_limit_kpis)


def notebook_source(
    use_live_api: bool,
    timezone: str | None = None,
    *,
    api_url: str | None = None,
    no_cache: bool = False,
) -> Source:
    """The source a notebook's parameters name, through
    :func:`~generect_reports.fetch.source.open_source` (no progress bars in a notebook).

    Asking for live data without ``GENERECT_API_TOKEN`` raises
    :class:`~generect_reports.errors.MissingTokenError` saying which parameter to change; it
    never falls back to the sample.
    """
    from ..errors import MissingTokenError
    from ..fetch.source import open_source

    try:
        return open_source(
            sample=not use_live_api,
            api_url=api_url,
            timezone=timezone,
            no_cache=no_cache,
            progress=False,
        )
    except MissingTokenError:
        raise MissingTokenError(
            "USE_LIVE_API is True but GENERECT_API_TOKEN is not set: "
            "set it, or set USE_LIVE_API = False for the sample"
        ) from None


def load_usage(
    use_live_api: bool,
    timezone: str,
    *,
    start: Any = None,
    as_of: Any = None,
    api_url: str | None = None,
) -> pd.DataFrame:
    """Daily usage for a notebook: the live API or the bundled sample (see
    :func:`notebook_source`), from ``start`` to the source's today.

    Parameters
    ----------
    use_live_api
        True for the account behind ``GENERECT_API_TOKEN``; False for the sample.
    timezone
        IANA timezone of the day buckets (the sample exists in Europe/Kyiv only).
    start
        First local day (default: the first of the month ``HISTORY_MONTHS`` before today).
    as_of
        Keep only the days complete at this local time (to look at the data as it was then).
    """
    with notebook_source(use_live_api, timezone, api_url=api_url) as source:
        today = source.today()
        if start is None:
            start = (pd.Timestamp(today).to_period("M") - HISTORY_MONTHS).start_time.date()
        usage = source.usage(start, today)
    if as_of is None:
        return usage
    cut = pd.Timestamp(as_of)
    cut = cut.tz_localize(None) if cut.tzinfo else cut
    keep = (usage["period_start"].dt.tz_localize(None) + pd.Timedelta(days=1) <= cut).to_numpy()
    attrs = dict(usage.attrs)
    usage = usage[keep].reset_index(drop=True)
    usage.attrs.update(attrs)
    usage.attrs["fetched_at"] = pd.Timestamp(cut).tz_localize(usage.attrs.get("timezone") or "UTC")
    if len(usage):
        usage.attrs["end"] = str(usage["period_start"].max().date())
    return usage


def _tile(label: str, value: str, note: str = "") -> str:
    return (
        "<div class='generect-kpi' style='border:1px solid #dde3ea;border-radius:6px;"
        "padding:8px 14px;margin:0 10px 8px 0;min-width:150px'>"
        f"<div style='color:#5b6670;font-size:12px'>{escape(label)}</div>"
        f"<div style='font-size:22px;font-weight:600'>{escape(value)}</div>"
        f"<div style='color:#5b6670;font-size:11px'>{escape(note)}</div></div>"
    )


def _row(tiles: list[Kpi]) -> str:
    return (
        "<div style='display:flex;flex-wrap:wrap'>" + "".join(_tile(*t) for t in tiles) + "</div>"
    )


def month_kpis(report: Any) -> list[Kpi]:
    """The month's key figures, worded as in the report."""
    from generect_reports.reports.monthly import fmt_credits, fmt_money, fmt_signed_pct

    status = (
        "complete" if report.complete else f"{report.elapsed_days} of {report.days_in_month} days"
    )
    tiles: list[Kpi] = [
        (f"Credits, {report.month_name}", fmt_credits(report.total, 0), status),
        (
            "Change",
            fmt_signed_pct(report.change_pct),
            f"vs {report.previous_month_name}" + ("" if report.complete else ", like for like"),
        ),
        ("Top operation", report.top_operation or "–", ""),
        (
            ("Estimated cost", fmt_money(report.estimated_cost, report.currency), "at list prices")
            if getattr(report, "booked", None) is None
            else (
                "Booked cost",
                fmt_money(report.booked.booked_cost, report.booked.currency),
                f"list-price value {fmt_money(report.estimated_cost, report.currency)}",
            )
        ),
    ]
    if report.projection is not None:
        from generect_reports.reports.narrative import projection_detail

        detail = projection_detail(report)
        tiles.append(
            (
                "Month-end projection",
                report.formats.projection(report.projection),
                "an estimate" + (f"; {detail}" if detail else ""),
            )
        )
    return tiles


class Dashboard:
    """The month's key figures, an extra row of figures, the explorer and the report downloads.

    Parameters
    ----------
    source
        Where the data comes from (:func:`notebook_source` or
        :func:`~generect_reports.fetch.source.open_source`); it stays open for the explorer.
    month
        The month of the key figures and the report files (default: the last full month).
    settings
        The report's settings (history, template, budgets, sections, look-back time).
    export_dir
        Where exports and report files are written (default: the working folder).

    The report is :func:`~generect_reports.reports.assemble.monthly_report`, built once from
    its fetch plan; the explorer shows the days of that plan (the month and the weeks before
    it), and a live source lets it re-bucket them in another timezone.
    """

    def __init__(
        self,
        source: Source,
        *,
        month: Month | str | None = None,
        settings: ReportSettings | None = None,
        export_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        import ipywidgets as w

        from ..reports.assemble import ReportSettings, monthly_report, report_month, report_usage
        from .widgets import UsageExplorer

        self.source = source
        self.settings = settings or ReportSettings()
        self.export_dir = Path(export_dir) if export_dir is not None else Path.cwd()
        self.month = report_month(source, month, self.settings)
        fetched = report_usage(source, self.month, self.settings)
        self.usage = usage = fetched.daily
        self.report = rep = monthly_report(source, self.month, self.settings, usage=fetched)
        where = (
            "the bundled sample account"
            if usage.attrs.get("source") == "sample"
            else "the live API"
        )
        start, end = usage.attrs.get("start"), usage.attrs.get("end")
        self.header = w.HTML(
            f"<h2 style='margin:4px 0'>Generect credit usage: {escape(rep.account)}</h2>"
            "<p style='color:#5b6670;margin:0 0 8px 0'>"
            f"Data from {escape(where)}, {escape(str(start))} to {escape(str(end))}, "
            f"days in {escape(rep.timezone)}; as of {rep.as_of:%Y-%m-%d %H:%M}.</p>"
        )
        self.kpis = w.HTML(_row(month_kpis(rep)))
        self.kpis.add_class("generect-kpis")
        # The row for figures computed elsewhere (plan limit, runway, budgets): only providers
        # registered in KPI_PROVIDERS fill it; hidden while there are none.
        extra = [kpi for provider in KPI_PROVIDERS for kpi in provider(usage, rep)]
        self.extra_kpis = w.HTML(_row(extra), layout=w.Layout(display="flex" if extra else "none"))
        self.extra_kpis.add_class("generect-extra-kpis")
        loader = self._load_timezone if source.any_timezone else None
        self.explorer = UsageExplorer(usage, loader=loader, export_dir=self.export_dir)
        self.report_button = w.Button(
            description=f"Prepare the {rep.month_name} report",
            button_style="primary",
            layout=w.Layout(width="260px"),
        )
        self.report_button.add_class("generect-report-button")
        self.report_links = w.HTML()
        self.report_links.add_class("generect-report-links")
        self.report_button.on_click(lambda _b: self.write_reports())
        downloads = w.VBox(
            [
                w.HTML(
                    "<h3 style='margin:8px 0 4px 0'>Report files</h3>"
                    "<p style='margin:0'>The monthly Excel workbook and PDF, as sent to "
                    "finance.</p>"
                ),
                self.report_button,
                self.report_links,
            ]
        )
        self.panel = w.VBox(
            [
                self.header,
                self.kpis,
                self.extra_kpis,
                w.HTML("<h3 style='margin:8px 0 4px 0'>Explore usage</h3>"),
                self.explorer.panel,
                downloads,
            ]
        )
        self.panel.add_class("generect-dashboard")

    def _load_timezone(self, timezone: str) -> pd.DataFrame:
        """The explorer's days in another timezone: the same plan, asked again."""
        from ..reports.assemble import report_usage

        return report_usage(self.source.in_timezone(timezone), self.month, self.settings).daily

    @classmethod
    def from_parameters(
        cls,
        *,
        use_live_api: bool,
        month: str | None = None,
        as_of: Any = None,
        timezone: str = "Europe/Kyiv",
        export_dir: str | None = None,
        api_url: str | None = None,
        no_cache: bool = False,
    ) -> Dashboard:
        """The dashboard from a notebook's parameters (see :func:`dashboard_notebook`)."""
        from ..reports.assemble import ReportSettings

        source = notebook_source(use_live_api, timezone, api_url=api_url, no_cache=no_cache)
        return cls(source, month=month, settings=ReportSettings(as_of=as_of), export_dir=export_dir)

    def write_reports(self) -> list[Path]:
        """Write the month's workbook and PDF into the export folder and show download links:
        the bytes the ``report`` command writes for the same data."""
        from generect_reports.deliver.parallel import write_report_files

        from .widgets import _download_link

        self.report_links.value = "<i>Building the workbook and the PDF…</i>"
        xlsx = self.export_dir / f"generect-usage-{self.report.month}.xlsx"
        pdf = self.export_dir / f"generect-usage-{self.report.month}.pdf"
        write_report_files(self.report, xlsx, pdf)
        links = [
            _download_link(
                xlsx,
                xlsx.read_bytes(),
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            ),
            _download_link(pdf, pdf.read_bytes(), "application/pdf"),
        ]
        self.report_links.value = (
            "<p>Saved in <code>"
            + escape(str(self.export_dir))
            + "</code>: "
            + " · ".join(links)
            + "</p>"
        )
        return [xlsx, pdf]

    def close(self) -> None:
        """Close the source's connections (a served dashboard keeps them for its session)."""
        self.source.close()

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> Any:
        bundle = dict(self.panel._repr_mimebundle_())
        bundle["text/plain"] = "Generect usage dashboard (run the notebook to use it)"
        return bundle


def failure_message(exc: BaseException, what: str = "The dashboard cannot open") -> Any:
    """One plain line saying why ``what`` failed (never a traceback), as a widget."""
    import ipywidgets as w

    from .._text import escape_invisible

    lines = escape_invisible(str(exc)).splitlines()
    reason = (lines[0] if lines else type(exc).__name__).rstrip(".")
    message = w.HTML(
        "<p class='generect-failure' role='alert' style='font-size:15px;margin:16px 0'>"
        f"{escape(what)}: {escape(reason)}.</p>"
    )
    message.add_class("generect-dashboard-failure")
    return message


def open_dashboard(*, view: str | None = None, **parameters: Any) -> Any:
    """:meth:`Dashboard.from_parameters`, or, when it cannot open (a month without data, a
    refused token, the API down), one plain line saying why: never a traceback in the page.

    ``view`` is a shared view's URL query (the explorer's "Link to this view"); by default the
    page's query when one is given in ``QUERY_STRING``, so a shared link reopens its view.

    Returns
    -------
    Dashboard or ipywidgets.HTML
        The dashboard, or a widget holding the one-line reason.
    """
    from ..errors import GenerectError

    try:
        dashboard = Dashboard.from_parameters(**parameters)
    except GenerectError as exc:
        return failure_message(exc)
    dashboard.explorer.apply_view(os.environ.get("QUERY_STRING") if view is None else view)
    return dashboard


PARAMETERS_TEMPLATE = """\
# Parameters (papermill and the dashboard command set these)
USE_LIVE_API = {use_live_api!r}  # True: the account behind GENERECT_API_TOKEN; False: the sample
MONTH = {month!r}  # 'YYYY-MM' of the key figures and report files; None for the last full month
AS_OF = {as_of!r}  # time the data is complete up to; None for the data's own
TIMEZONE = {timezone!r}  # IANA timezone of the day buckets (the sample exists in Europe/Kyiv only)
EXPORT_DIR = {export_dir!r}  # where exports and report files go; None for the working folder
API_URL = {api_url!r}  # None for $GENERECT_API_URL or the public API
NO_CACHE = {no_cache!r}  # True: neither read nor write the cache of closed periods"""

SHOW = """\
from generect_reports.notebook.dashboard import open_dashboard

open_dashboard(use_live_api=USE_LIVE_API, month=MONTH, as_of=AS_OF, timezone=TIMEZONE,
               export_dir=EXPORT_DIR, api_url=API_URL, no_cache=NO_CACHE)"""


def dashboard_notebook(
    *,
    use_live_api: bool = False,
    month: str | None = None,
    as_of: str | None = None,
    timezone: str = "Europe/Kyiv",
    export_dir: str | None = None,
    api_url: str | None = None,
    no_cache: bool = False,
) -> Any:
    """The dashboard as a two-cell notebook (``nbformat`` node): a ``parameters`` cell and the
    cell that shows :class:`Dashboard`. Run in JupyterLab, it shows the dashboard widget."""
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook

    params = new_code_cell(
        PARAMETERS_TEMPLATE.format(
            use_live_api=use_live_api,
            month=month,
            as_of=as_of,
            timezone=timezone,
            export_dir=export_dir,
            api_url=api_url,
            no_cache=no_cache,
        )
    )
    params.metadata["tags"] = ["parameters"]
    show = new_code_cell(SHOW)
    show.metadata["tags"] = ["nbval-ignore-output"]  # a live widget: nothing to compare
    nb = new_notebook(cells=[params, show])
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.metadata["language_info"] = {"name": "python"}
    nbformat.validate(nb)
    return nb
