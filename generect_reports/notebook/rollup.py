"""The dashboard across accounts: a picker of the configured accounts, and "All accounts", the
roll-up the ``report`` command writes for the same accounts and month.

``generect-reports dashboard --all-accounts`` (or ``--tag``, or ``--account`` more than once)
serves :func:`accounts_notebook`, whose cell calls :func:`open_accounts_dashboard`. The roll-up
is :func:`~generect_reports.reports.rollup.rollup_report` over the accounts' own sources, every
account's report built with :func:`~generect_reports.reports.rollup.account_settings`, so its
figures are those of ``report --all-accounts``: the accounts ranked, the operations across them,
and, when an account could not be read, "partial" in the title, the total and a line naming it.
Picking one account shows that account's own :class:`~generect_reports.notebook.dashboard.
Dashboard` (key figures, explorer, report files), built when first picked.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..fetch.source import MultiSource
    from ..reports.assemble import ReportSettings
    from ..reports.rollup import RollupReport

__all__ = [
    "AccountsDashboard",
    "open_accounts_dashboard",
    "accounts_notebook",
    "rollup_html",
    "ALL_ACCOUNTS",
]

#: The picker's value for the roll-up of every chosen account.
ALL_ACCOUNTS = ""

_MUTED = "#5b6670"  # 5.9:1 on white
_ALERT = "#B03A2E"  # 6.3:1 on white


def _table(caption: str, header: list[str], rows: list[list[str]], css: str, left: int) -> str:
    """An HTML table with a caption and column headers (a screen reader reads both); the first
    ``left`` columns are text, the others figures."""

    def cell(tag: str, i: int, text: str, extra: str = "") -> str:
        align = "left" if i < left else "right"
        return (
            f"<{tag}{extra} style='text-align:{align};padding:3px 10px;"
            f"border-bottom:1px solid #e3e3e3'>{text}</{tag}>"
        )

    head = "".join(cell("th", i, escape(h), " scope='col'") for i, h in enumerate(header))
    body = []
    for r, row in enumerate(rows):
        weight = (
            " style='font-weight:600'" if r == len(rows) - 1 and row[0].startswith("Total") else ""
        )
        body.append(
            f"<tr{weight}>"
            + "".join(
                cell("th" if i == 0 else "td", i, escape(v), " scope='row'" if i == 0 else "")
                for i, v in enumerate(row)
            )
            + "</tr>"
        )
    return (
        f"<div style='overflow-x:auto;max-width:100%' role='region' tabindex='0' "
        f"aria-label='{escape(caption, quote=True)}'><table class='{css}' "
        "style='border-collapse:collapse;font-size:13px;font-variant-numeric:tabular-nums;"
        "margin:4px 0 14px 0'>"
        f"<caption style='text-align:left;font-weight:600;padding:4px 0'>{escape(caption)}"
        f"</caption><thead><tr style='background:#f4f6f8'>{head}</tr></thead>"
        f"<tbody>{''.join(body)}</tbody></table></div>"
    )


def rollup_html(rep: RollupReport) -> str:
    """The roll-up as the "All accounts" view shows it: the title (partial when an account
    failed), the month across accounts, the accounts ranked, the operations across them and the
    accounts that could not be read; every figure formatted as the roll-up PDF formats it."""
    from ..money import money_cents, to_hundredths
    from ..periods import Month
    from .dashboard import _row

    f = rep.formats
    previous = Month.parse(rep.month).shift(-1).first_day.strftime("%B %Y")
    read = len(rep.accounts)
    chosen = read + len(rep.failed)
    total_label = "Total" if rep.complete else "Total (partial)"
    like = "" if rep.month_complete else ", like for like"
    tiles = [
        (
            f"Credits, {rep.month_name}",
            f.credits(rep.total),
            f"{read} of {chosen} accounts (partial)" if not rep.complete else f"{read} accounts",
        ),
        ("Change", f.signed_pct(rep.change_pct), f"vs {previous}{like}"),
        (f"Cost, {rep.month_name}", f.money(rep.cost), "each account's own report's cost"),
    ]
    parts = [
        f"<h3 class='generect-rollup-title' style='margin:8px 0 4px 0'>{escape(rep.title)}</h3>"
    ]
    if not rep.complete:
        names = ", ".join(str(x["account"]) for x in rep.failed)
        parts.append(
            f"<p class='generect-partial' role='alert' style='color:{_ALERT};font-weight:600;"
            f"margin:4px 0 8px 0'>Partial: not included, as they could not be read: "
            f"{escape(names)}.</p>"
        )
    parts.append(_row(tiles))
    accounts = [
        [
            str(r.label),
            f.credits(r.credits),
            f.signed_pct(r.change_pct),
            f.signed_pct(r.yoy_change_pct),
            f.money(r.cost),
            f.pct(r.limit_use),
            str(r.status),
            str(r.exceptions) or "none",
        ]
        for r in rep.accounts.itertuples()
    ]
    accounts.append(
        [total_label, f.credits(rep.total), f.signed_pct(rep.change_pct), "", f.money(rep.cost)]
        + ["", "", ""]
    )
    parts.append(
        _table(
            f"Accounts, ranked by credits ({rep.month_name})",
            [
                "Account",
                "Credits",
                "Change",
                "Year over year",
                "Cost",
                "Limit used",
                "Status",
                "Exceptions",
            ],
            accounts,
            "generect-rollup-accounts",
            1,
        )
    )
    ops = [
        [str(o.operation), f.credits(o.credits), f.share(o.share_display), f.money(o.cost)]
        for o in rep.operations.itertuples()
    ]
    op_credits = int(to_hundredths(rep.operations["credits"].to_numpy(dtype="float64")).sum())
    op_cents = sum(money_cents(c) for c in rep.operations["cost"])
    ops.append(
        [
            total_label,
            f.credits(op_credits / 100),
            f.share(100.0) if len(rep.operations) else "",
            f.money(op_cents / 100),
        ]
    )
    parts.append(
        _table(
            "Operations across accounts",
            ["Operation", "Credits", "Share", "Cost"],
            ops,
            "generect-rollup-operations",
            1,
        )
    )
    if rep.failed:
        parts.append(
            _table(
                "Accounts that could not be read",
                ["Account", "Error", "Exit code"],
                [[str(x["account"]), str(x["error"]), str(x["exit_code"])] for x in rep.failed],
                "generect-rollup-failed",
                2,
            )
        )
    parts.append(
        f"<p style='color:{_MUTED};font-size:12px;margin:0'>Days in {escape(rep.timezone)}; "
        "each account's figures are its own report's.</p>"
    )
    return "<div class='generect-rollup'>" + "".join(parts) + "</div>"


class AccountsDashboard:
    """A picker of accounts over "All accounts" (the roll-up) and each account's dashboard.

    Parameters
    ----------
    sources
        The chosen accounts' sources (:func:`~generect_reports.fetch.source.open_sources`);
        they stay open for the accounts' explorers.
    settings_for
        Each account's report settings, by name.
    month
        The month of the roll-up and of every account's dashboard (default: the last full one).
    labels
        What the picker and the tables call each account (default: its name).
    export_dir
        Where report files and exports are written (default: the working folder).
    """

    def __init__(
        self,
        sources: MultiSource,
        settings_for: Callable[[str], ReportSettings],
        *,
        month: str | None = None,
        labels: Mapping[str, str] | None = None,
        export_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        import ipywidgets as w

        from ..reports.rollup import rollup_report

        self.sources = sources
        self.settings_for = settings_for
        self.labels = {name: (labels or {}).get(name, name) for name in sources.accounts}
        self.export_dir = Path(export_dir) if export_dir is not None else Path.cwd()
        self.rollup = rollup_report(sources, month, settings_for, labels=self.labels)
        self.views: dict[str, Any] = {}
        #: The accounts' own dashboards built so far, by name.
        self.dashboards: dict[str, Any] = {}
        failed = {str(x["account"]) for x in self.rollup.failed}
        options = [("All accounts", ALL_ACCOUNTS)] + [
            (self.labels[n] + (" (could not be read)" if n in failed else ""), n)
            for n in sources.accounts
        ]
        self.picker = w.Dropdown(
            options=options,
            value=ALL_ACCOUNTS,
            description="Account",
            layout=w.Layout(width="auto", max_width="100%"),
            style={"description_width": "initial"},
        )
        self.picker.add_class("generect-account-picker")
        self.header = w.HTML(
            "<h2 style='margin:4px 0'>Generect credit usage across accounts</h2>"
            f"<p style='color:{_MUTED};margin:0 0 8px 0'>{len(sources.accounts)} accounts, "
            f"{escape(self.rollup.month_name)}; pick one to see its own figures.</p>"
        )
        self.rollup_view = w.HTML(rollup_html(self.rollup))
        self.report_button = w.Button(
            description="Prepare the roll-up report",
            button_style="primary",
            layout=w.Layout(width="260px", max_width="100%"),
        )
        self.report_button.add_class("generect-rollup-report-button")
        self.report_links = w.HTML()
        self.report_links.add_class("generect-report-links")
        self.report_button.on_click(lambda _b: self.write_reports())
        self.views[ALL_ACCOUNTS] = w.VBox(
            [
                self.rollup_view,
                w.HTML(
                    "<h3 style='margin:8px 0 4px 0'>Roll-up report files</h3>"
                    "<p style='margin:0'>The workbook and PDF across accounts, as "
                    "<code>report --all-accounts</code> writes them.</p>"
                ),
                self.report_button,
                self.report_links,
            ]
        )
        self.body = w.Box([self.views[ALL_ACCOUNTS]], layout=w.Layout(display="block"))
        self.picker.observe(lambda change: self.show(change["new"]), names="value")
        self.panel = w.VBox([self.header, self.picker, self.body])
        self.panel.add_class("generect-dashboard")
        self.panel.add_class("generect-accounts-dashboard")

    def view(self, name: str) -> Any:
        """The widget of ``name`` (:data:`ALL_ACCOUNTS` for the roll-up), built on first use:
        the account's own dashboard, or one line saying why it could not be read."""
        if name not in self.views:
            from ..errors import GenerectError
            from .dashboard import Dashboard, failure_message

            failed = {str(x["account"]): x for x in self.rollup.failed}
            if name in failed:
                error = str(failed[name]["error"])
                self.views[name] = failure_message(
                    GenerectError(error), f"Account {self.labels[name]} could not be read"
                )
            else:
                try:
                    one = Dashboard(
                        self.sources.sources[name],
                        month=self.rollup.month,
                        settings=self.settings_for(name),
                        export_dir=self.export_dir,
                    )
                    self.dashboards[name] = one
                    self.views[name] = one.panel
                except GenerectError as exc:
                    self.views[name] = failure_message(
                        exc, f"Account {self.labels[name]} could not be read"
                    )
        return self.views[name]

    def show(self, name: str) -> None:
        """Show ``name``'s view under the picker (and move the picker there)."""
        if self.picker.value != name:
            self.picker.value = name  # its observer comes back here
            return
        self.body.children = [self.view(name)]

    def write_reports(self) -> list[Path]:
        """Write the roll-up workbook and PDF (the ``report`` command's across the same
        accounts) into the export folder and show download links."""
        from ..render.pdf.rollup import write_rollup_pdf
        from ..render.xlsx.rollup import write_rollup_workbook
        from .widgets import _download_link

        self.report_links.value = "<i>Building the workbook and the PDF…</i>"
        xlsx = self.export_dir / f"generect-usage-accounts-{self.rollup.month}.xlsx"
        pdf = self.export_dir / f"generect-usage-accounts-{self.rollup.month}.pdf"
        write_rollup_workbook(self.rollup, xlsx)
        write_rollup_pdf(self.rollup, pdf)
        links = [
            _download_link(
                xlsx,
                xlsx.read_bytes(),
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            ),
            _download_link(pdf, pdf.read_bytes(), "application/pdf"),
        ]
        self.report_links.value = (
            f"<p>Saved in <code>{escape(str(self.export_dir))}</code>: "
            + " · ".join(links)
            + "</p>"
        )
        return [xlsx, pdf]

    def close(self) -> None:
        self.sources.close()

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> Any:
        bundle = dict(self.panel._repr_mimebundle_())
        bundle["text/plain"] = "Generect usage dashboard across accounts (run the notebook)"
        return bundle


def _settings(config: Any, as_of: Any) -> ReportSettings:
    """The base report settings from the configuration's ``[budget]`` and ``[money]``."""
    from ..analysis.budget import parse_budget_table
    from ..reports.assemble import ReportSettings
    from ..reports.valuation import load_money

    return ReportSettings(
        as_of=as_of,
        budgets=parse_budget_table(config.table("budget"), where=f"[budget] of {config.where}"),
        money=load_money(
            config.table("money"), config_path=config.path, where=f"[money] of {config.where}"
        ),
    )


def open_accounts_dashboard(
    *,
    config: str | None,
    accounts: Sequence[str] = (),
    tags: Sequence[str] = (),
    all_accounts: bool = False,
    month: str | None = None,
    as_of: Any = None,
    timezone: str | None = None,
    export_dir: str | None = None,
    api_url: str | None = None,
    no_cache: bool = False,
    view: str | None = None,
) -> Any:
    """The dashboard of the accounts chosen in ``config`` (by name, tag or all), or one line
    saying why it cannot open. One account alone is that account's own dashboard.

    ``view`` is the page's URL query (by default ``QUERY_STRING``): ``account=NAME``
    opens on that account, the explorer's keys set its controls.

    Returns
    -------
    AccountsDashboard, Dashboard or ipywidgets.HTML
    """
    from urllib.parse import parse_qs

    from ..accounts import parse_accounts, select_accounts
    from ..config import load_config
    from ..errors import GenerectError
    from ..fetch.source import open_sources
    from ..reports.rollup import account_settings
    from .dashboard import Dashboard, failure_message

    query = os.environ.get("QUERY_STRING", "") if view is None else view
    try:
        cfg = load_config(config)
        specs = select_accounts(
            parse_accounts(cfg.table("accounts"), where=cfg.where),
            names=accounts,
            tags=tags,
            all_accounts=all_accounts,
        )
        base = _settings(cfg, as_of)
        by_name = {spec.name: spec for spec in specs}

        def settings_for(name: str) -> ReportSettings:
            return account_settings(by_name[name], base, where=cfg.where, config_path=cfg.path)

        sources = open_sources(specs, api_url=api_url, timezone=timezone, no_cache=no_cache)
        if len(specs) == 1:
            name = specs[0].name
            single = Dashboard(
                sources.sources[name],
                month=month,
                settings=settings_for(name),
                export_dir=export_dir,
            )
            single.explorer.apply_view(query)
            return single
        dashboard = AccountsDashboard(
            sources,
            settings_for,
            month=month,
            labels={spec.name: spec.title for spec in specs},
            export_dir=export_dir,
        )
    except GenerectError as exc:
        return failure_message(exc)
    chosen = parse_qs(query.lstrip("?")).get("account", [""])[-1]
    if chosen in dashboard.sources.accounts:
        dashboard.show(chosen)
        if chosen in dashboard.dashboards:
            dashboard.dashboards[chosen].explorer.apply_view(query)
    return dashboard


PARAMETERS_TEMPLATE = """\
# Parameters (the dashboard command sets these)
CONFIG = {config!r}  # the config file with the [accounts.NAME] tables
ACCOUNTS = {accounts!r}  # configured accounts chosen by name
TAGS = {tags!r}  # configured accounts chosen by tag
ALL_ACCOUNTS = {all_accounts!r}  # True: every configured account
MONTH = {month!r}  # 'YYYY-MM' of the figures and report files; None for the last full month
AS_OF = {as_of!r}  # time the data is complete up to; None for the data's own
TIMEZONE = {timezone!r}  # IANA timezone of the day buckets; None for the accounts' own
EXPORT_DIR = {export_dir!r}  # where exports and report files go; None for the working folder
API_URL = {api_url!r}  # None for each account's own
NO_CACHE = {no_cache!r}  # True: neither read nor write the cache of closed periods"""

SHOW = """\
from generect_reports.notebook.rollup import open_accounts_dashboard

open_accounts_dashboard(config=CONFIG, accounts=ACCOUNTS, tags=TAGS, all_accounts=ALL_ACCOUNTS,
                        month=MONTH, as_of=AS_OF, timezone=TIMEZONE, export_dir=EXPORT_DIR,
                        api_url=API_URL, no_cache=NO_CACHE)"""


def accounts_notebook(
    *,
    config: str,
    accounts: Sequence[str] = (),
    tags: Sequence[str] = (),
    all_accounts: bool = False,
    month: str | None = None,
    as_of: str | None = None,
    timezone: str | None = None,
    export_dir: str | None = None,
    api_url: str | None = None,
    no_cache: bool = False,
) -> Any:
    """The dashboard across accounts as a two-cell notebook (a ``parameters`` cell and the cell
    showing :func:`open_accounts_dashboard`). The parameters name the config file, the chosen
    accounts and the variables' names, never a token: each kernel reads the tokens from the
    environment, as the ``report`` command does."""
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook

    params = new_code_cell(
        PARAMETERS_TEMPLATE.format(
            config=config,
            accounts=list(accounts),
            tags=list(tags),
            all_accounts=all_accounts,
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
    show.metadata["tags"] = ["nbval-ignore-output"]
    nb = new_notebook(cells=[params, show])
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.metadata["language_info"] = {"name": "python"}
    nbformat.validate(nb)
    return nb
