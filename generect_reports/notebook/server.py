"""The dashboard server: one process, pages rendered on the server, the view in the URL.

``generect-reports dashboard`` runs :func:`~generect_reports.notebook.serve.serve_dashboard`,
which serves :func:`make_app` with tornado on 127.0.0.1. What a team can leave running:

- **Stateless per viewer.** Every control is a field of a GET form, so the view is the URL's
  query (the format of :meth:`~generect_reports.notebook.widgets.UsageExplorer.view_query`: a
  link shared from the notebook explorer opens here too). A page holds nothing on the server;
  closing it frees nothing because nothing was taken.
- **Models built once, shared.** The month's :func:`~generect_reports.reports.assemble.
  monthly_report`, the explorer's days and, across accounts, the roll-up are built once per
  (account, month, timezone), kept in a small bounded cache, and every figure on the page comes
  from them through the explorer's pure functions (:func:`~generect_reports.notebook.widgets.
  filter_usage`'s grid, :func:`~generect_reports.notebook.widgets.compare_periods`, the
  comparison rules of :mod:`~generect_reports.analysis.explore`).
- **Heavy work off the IO loop.** Models, charts and files are built by a small pool of worker
  threads, so one slow live fetch does not stop other viewers' pages; the API client's own
  deadlines bound a fetch, and a page that waits longer than :data:`PAGE_DEADLINE` says so.
- **The token.** Every request needs the token printed at start-up: in the query once (it is
  then kept in an HttpOnly, SameSite=Strict cookie and dropped from the address), the cookie, or
  an ``Authorization: Token …`` header; anything else gets 403 with one line.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import numpy as np
import pandas as pd

from ..analysis.explore import check_comparison, comparison_period
from ..render.dashboard import (
    ComparePart,
    DashboardPage,
    DrillPart,
    ExplorerPart,
    SectionPart,
    Table,
    render_failure,
    render_page,
    render_page_end,
    render_page_start,
)

if TYPE_CHECKING:
    from ..fetch.source import Source
    from ..reports.assemble import ReportSettings
    from ..reports.rollup import RollupReport
    from .tabs import SectionTab
    from .widgets import UsageGrid

__all__ = [
    "DashboardServer",
    "Models",
    "ViewState",
    "view_state",
    "make_app",
    "COOKIE",
    "PAGE_DEADLINE",
    "WORKERS",
    "MODEL_CACHE",
    "CHART_CACHE_BYTES",
    "TIDY_SECONDS",
    "single_heap",
]

#: The cookie holding proof of the token (a digest of it, never the token itself).
COOKIE = "generect_dashboard"
#: Seconds a page waits for its models before saying it took too long.
PAGE_DEADLINE = 180.0
#: Worker threads for models, charts and files.
WORKERS = 2
#: Models kept at once: (account, month, timezone) combinations.
MODEL_CACHE = 6
#: Seconds between tidy-ups of memory after work (see :meth:`DashboardServer.tidy`).
TIDY_SECONDS = 2.0
#: Bytes of chart PNGs kept at once (by view; the oldest go first).
CHART_CACHE_BYTES = 6 * 2**20

_TABS = ("totals", "compare", "drill", "export", "customers", "reconciliation")
#: The views the tab links name: the explorer, then the report's sections.
_VIEWS = (("totals", "Usage"), ("customers", "Customers"), ("reconciliation", "Reconciliation"))
_MODES = ("previous", "yoy", "custom")
_XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
ALL = ""  # the picker's value of the roll-up across accounts
_SECTIONS = ("customers", "reconciliation")


@dataclass(frozen=True)
class Explore:
    """What the explorer of one (account, month, timezone) shows: the report's days, built
    first (a chart needs nothing more)."""

    usage: pd.DataFrame
    #: The report's usage (its daily and monthly frames), as the source gave it.
    fetched: Any
    grid: UsageGrid
    anomalies: pd.DataFrame
    colors: Mapping[str, str]
    price_book: Any
    ranked: tuple[str, ...]
    #: The source can bucket days in another timezone (live data; the sample cannot).
    any_timezone: bool
    month: str
    account: str


@dataclass(frozen=True)
class Models(Explore):
    """The explorer's days and the month's report, built from those same days."""

    report: Any


@dataclass(frozen=True)
class ViewState:
    """The controls, read from a query (values that do not fit the data are ignored)."""

    first: pd.Timestamp
    last: pd.Timestamp
    operations: tuple[str, ...] | None
    granularity: str
    unit: str
    tab: str
    compare: str
    a: tuple[pd.Timestamp, pd.Timestamp] | None
    op: str
    ignored: tuple[str, ...]

    def query(self, ranked: Sequence[str]) -> list[tuple[str, str]]:
        """The state as the explorer's query keys (the notebook's "Link to this view")."""
        out = [
            ("from", f"{self.first:%Y-%m-%d}"),
            ("to", f"{self.last:%Y-%m-%d}"),
            ("period", self.granularity),
            ("unit", self.unit),
        ]
        if self.operations is not None and set(self.operations) != set(ranked):
            out.append(("ops", ",".join(self.operations)))
        out += [("tab", self.tab), ("compare", self.compare)]
        if self.compare == "custom" and self.a is not None:
            out += [("a_from", f"{self.a[0]:%Y-%m-%d}"), ("a_to", f"{self.a[1]:%Y-%m-%d}")]
        if self.op:
            out.append(("op", self.op))
        return out


def _last(given: Mapping[str, Sequence[str]], key: str) -> str | None:
    values = given.get(key)
    return str(values[-1]) if values else None


def view_state(
    given: Mapping[str, Sequence[str]], grid: UsageGrid, ranked: Sequence[str]
) -> ViewState:
    """The view a query names, as :meth:`UsageExplorer.apply_view` reads it: ``from``/``to``
    (local days), ``period``, ``unit``, ``ops`` (comma-separated, or repeated as a form sends
    checkboxes), ``tab``, ``compare``, ``a_from``/``a_to`` and ``op``. A value that does not
    fit this data is left at its default and named in ``ignored``; a start after the end is
    kept (the page says so instead of drawing)."""

    ignored: list[str] = []

    def a_day(key: str) -> pd.Timestamp | None:
        return grid.day_in_data(_last(given, key) or "")

    def choice(key: str, allowed: Sequence[str], default: str) -> str:
        value = _last(given, key)
        if value is None or value == "":
            return default
        if value in allowed:
            return value
        ignored.append(key)
        return default

    first, last = grid.first_day, grid.last_day
    f, t = a_day("from"), a_day("to")
    if _last(given, "from") or _last(given, "to"):
        if f is not None and t is not None:
            first, last = f, t
        else:
            ignored += [k for k in ("from", "to") if _last(given, k)]
    operations: tuple[str, ...] | None = None
    if "ops" in given:
        ops = [o for value in given["ops"] for o in str(value).split(",") if o]
        if ops and set(ops) <= set(ranked):
            operations = tuple(o for o in ranked if o in set(ops))
        elif ops:
            ignored.append("ops")
    a = None
    af, at = a_day("a_from"), a_day("a_to")
    if af is not None and at is not None and af <= at:
        a = (af, at)
    elif _last(given, "a_from") or _last(given, "a_to"):
        ignored += [k for k in ("a_from", "a_to") if _last(given, k)]
    granularity = choice("period", ("day", "week", "month"), "month")
    unit = choice("unit", ("credits", "usd"), "credits")
    tab = choice("tab", _TABS, "totals")
    compare = choice("compare", _MODES, "previous")
    op = choice("op", ranked, ranked[0] if ranked else "")
    order = ("from", "to", "period", "unit", "ops", "tab", "compare", "a_from", "a_to", "op")
    return ViewState(
        first=first,
        last=last,
        operations=operations,
        granularity=granularity,
        unit=unit,
        tab=tab,
        compare=compare,
        a=a,
        op=op,
        ignored=tuple(sorted(ignored, key=order.index)),
    )


def _release_memory() -> None:
    """Hand freed heap pages back to the system (glibc keeps them otherwise, and a server left
    running would keep the high-water mark of its busiest minute)."""
    global _TRIM
    if _TRIM is None:
        import ctypes
        import ctypes.util

        try:
            _TRIM = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
        except (OSError, AttributeError):  # not glibc: nothing to hand back this way
            _TRIM = False
    if _TRIM:
        _TRIM(0)


_TRIM: Any = None
_M_ARENA_MAX = -8  # glibc's mallopt parameter


def single_heap() -> None:
    """One malloc arena for the whole process (glibc otherwise gives each thread that
    allocates its own, up to eight per core, and each keeps the pages of its busiest moment:
    a server whose worker threads draw charts grows by tens of MB that way). Call it before
    starting threads; elsewhere than glibc it does nothing."""
    import ctypes
    import ctypes.util

    try:
        ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").mallopt(_M_ARENA_MAX, 1)
    except (OSError, AttributeError):
        pass


def _reason(exc: BaseException) -> str:
    from .._text import escape_invisible

    lines = escape_invisible(str(exc)).splitlines()
    return (lines[0] if lines else type(exc).__name__).rstrip(".")


def _month_name(month: str) -> str:
    from ..periods import Month

    return Month.parse(month).first_day.strftime("%B %Y")


def _amount(unit: str, whole: bool) -> Callable[[float], str]:
    if unit == "usd":
        return lambda v: f"${v:,.2f}"
    return (lambda v: f"{v:,.0f}") if whole else (lambda v: f"{v:,.2f}")


def _whole(values: Any) -> bool:
    arr = np.asarray(values, dtype="float64")
    return bool(np.all(np.abs(arr - np.round(arr)) < 1e-9))


class DashboardServer:
    """The models, the charts and the files behind the pages; the tornado handlers call it.

    Parameters
    ----------
    source
        One account's source (or None with ``sources``).
    sources
        Many accounts (a :class:`~generect_reports.fetch.multi.MultiSource`): the page has an
        account picker whose first entry is the roll-up.
    settings_for
        Each account's report settings by name (with ``sources``).
    labels
        What the picker calls each account.
    month
        The default month of the key figures and report files (None: the last full month).
    settings
        The report settings of the one account.
    export_dir
        Where report files and view exports are also saved.
    token
        The token every request must carry.
    """

    def __init__(
        self,
        *,
        source: Source | None = None,
        sources: Any = None,
        settings_for: Callable[[str], ReportSettings] | None = None,
        labels: Mapping[str, str] | None = None,
        month: str | None = None,
        settings: ReportSettings | None = None,
        export_dir: str | Path | None = None,
        token: str,
        workers: int = WORKERS,
    ) -> None:
        from ..reports.assemble import ReportSettings

        self.source = source
        self.sources = sources
        self.settings = settings or ReportSettings()
        self.settings_for = settings_for
        self.accounts: tuple[str, ...] = tuple(sources.accounts) if sources is not None else ()
        self.labels = {n: (labels or {}).get(n, n) for n in self.accounts}
        self.month = month
        self.export_dir = Path(export_dir) if export_dir is not None else Path.cwd()
        self.cookie_value = hashlib.sha256(b"generect-dashboard:" + token.encode()).hexdigest()
        self.token = token
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="dashboard")
        self._models: OrderedDict[tuple[str, str, str], Future[Any]] = OrderedDict()
        self._explores: OrderedDict[tuple[str, str, str], Future[Any]] = OrderedDict()
        self._charts: OrderedDict[tuple[Any, ...], tuple[bytes, str]] = OrderedDict()
        #: The chargeback's booked cents by customer, per key (when [money] values credits).
        self._booked: OrderedDict[tuple[str, str, str], tuple[dict[str, int], str]] = OrderedDict()
        self._chart_bytes = 0
        self._used = False  # work was done since the last tidy-up
        #: Set once a chart is drawn: the first report build waits for it (a few seconds at
        #: most), so the first chart does not share the interpreter with the report.
        self._first_chart = threading.Event()
        self._drawing: dict[tuple[Any, ...], threading.Lock] = {}
        self._lock = threading.RLock()  # a report's future asks for its explorer's under it
        self._build = threading.Lock()  # one build at a time: sources are asked one by one
        self._files = threading.Lock()

    # -- sources and keys ------------------------------------------------------------------

    @property
    def many(self) -> bool:
        return len(self.accounts) > 1

    def _source(self, account: str) -> Source:
        if self.sources is not None:
            chosen: Source = self.sources.sources[account or self.accounts[0]]
            return chosen
        assert self.source is not None
        return self.source

    def _settings(self, account: str) -> ReportSettings:
        if self.settings_for is not None and self.accounts:
            return self.settings_for(account or self.accounts[0])
        return self.settings

    def default_month(self, account: str = ALL) -> str:
        from ..reports.assemble import report_month

        if self.month is not None:
            return str(self.month)
        return str(report_month(self._source(account), None, self._settings(account)))

    def key(self, given: Mapping[str, Sequence[str]]) -> tuple[str, str, str]:
        """(account, month, timezone) a query names; values that do not fit fall back."""
        from ..periods import Month

        account = _last(given, "account") or ""
        if self.many:
            account = account if account in self.accounts else ALL
        else:
            account = self.accounts[0] if self.accounts else ""
        month = _last(given, "month") or ""
        try:
            month = str(Month.parse(month)) if month else ""
        except Exception:  # noqa: BLE001 - a bad value in a link falls back to the default
            month = ""
        zone = _last(given, "tz") or ""
        source = self._source(account)
        if not source.any_timezone or zone == source.timezone:
            zone = ""
        elif zone:
            from .widgets import TIMEZONES

            zone = zone if zone in TIMEZONES else ""
        return account, month, zone

    def warm(self) -> None:
        """Build the models and the chart of the default view (the printed URL's) in the
        background."""

        def default() -> None:
            account = self.accounts[0] if self.accounts and not self.many else ALL
            try:
                key = (account, self.default_month(account), "")
                self.models(key)  # the report follows the explorer's days
                if not (self.many and account == ALL):
                    self.explore(key).result()
                    self.chart({}, key, "main", "wide")  # matplotlib loaded, the chart drawn
            except Exception:  # noqa: BLE001, S110 - the page says why, when it is asked
                pass
            finally:
                self._first_chart.set()

        def charts() -> None:
            from ..render.dashboard.charts import warm_up

            warm_up()

        # The models and matplotlib load side by side (file reads and drawing let go of the
        # interpreter lock now and then): the first chart waits for the slower of the two.
        threading.Thread(target=charts, name="dashboard-warm-charts", daemon=True).start()
        threading.Thread(target=default, name="dashboard-warm", daemon=True).start()

    # -- models ------------------------------------------------------------------------------

    def _cached(
        self,
        store: OrderedDict[tuple[str, str, str], Future[Any]],
        key: tuple[str, str, str],
        start: Callable[[], Future[Any]],
    ) -> Future[Any]:
        """``store[key]``, started by ``start`` when missing (the future is shared by every
        viewer asking meanwhile); a failed build is not kept, so the next view tries again."""
        with self._lock:
            found = store.get(key)
            if found is not None:
                store.move_to_end(key)
                return found
            future = start()
            store[key] = future
            while len(store) > MODEL_CACHE:
                store.popitem(last=False)

        def forget(done: Future[Any]) -> None:
            if done.exception() is not None:
                with self._lock:
                    if store.get(key) is done:
                        del store[key]

        future.add_done_callback(forget)
        return future

    def explore(self, key: tuple[str, str, str]) -> Future[Any]:
        """The explorer's days of ``key`` (:class:`Explore`), built once by a worker."""
        return self._cached(self._explores, key, lambda: self.pool.submit(self._build_explore, key))

    def models(self, key: tuple[str, str, str]) -> Future[Any]:
        """The complete models of ``key`` (:class:`Models`, or the roll-up across accounts),
        built once. The report is built from the explorer's days once those are in, by a task
        of its own, so a worker never waits for a task still queued."""
        if self.many and key[0] == ALL:
            return self._cached(
                self._models, key, lambda: self.pool.submit(self._build_rollup, key)
            )

        def start() -> Future[Any]:
            out: Future[Any] = Future()

            def chain(done: Future[Any]) -> None:
                error = done.exception()
                if error is not None:
                    out.set_exception(error)
                    return
                try:
                    inner = self.pool.submit(self._build_report, key, done.result())
                except RuntimeError as exc:  # the pool is shut down: the server is stopping
                    out.set_exception(exc)
                    return

                def copy(built: Future[Any]) -> None:
                    failed = built.exception()
                    if failed is not None:
                        out.set_exception(failed)
                    else:
                        out.set_result(built.result())

                inner.add_done_callback(copy)

            self.explore(key).add_done_callback(chain)
            return out

        return self._cached(self._models, key, start)

    def _build_rollup(self, key: tuple[str, str, str]) -> Any:
        from ..reports.rollup import rollup_report

        assert self.settings_for is not None
        with self._build:
            return rollup_report(
                self.sources, key[1] or self.month, self.settings_for, labels=self.labels
            )

    def _zoned(self, key: tuple[str, str, str]) -> Source:
        source = self._source(key[0])
        return source.in_timezone(key[2]) if key[2] else source

    def _build_explore(self, key: tuple[str, str, str]) -> Explore:
        from ..analysis.usage import detect_anomalies
        from ..reports.assemble import report_usage
        from ..theme import load_theme
        from .widgets import UsageGrid

        account, month, _zone = key
        source = self._zoned(key)
        settings = self._settings(account)
        chosen = month or self.default_month(account)
        with self._build:
            fetched = report_usage(source, chosen, settings)
        usage = fetched.daily
        if not len(usage):
            from ..errors import InputError
            from ..reports.assemble import monthly_report

            # The report's own reason (a month before the data, a month not begun) comes first.
            with self._build:
                monthly_report(source, chosen, settings, usage=fetched)
            raise InputError(f"no usage in the days of the {chosen} report")
        grid = UsageGrid(usage)
        theme = load_theme(settings.template)
        book = theme.price_book
        grid.cents(book)  # priced once, here, not on a viewer's first dollar view
        bundled = usage.attrs.get("source") == "sample"
        return Explore(
            usage=usage,
            fetched=fetched,
            grid=grid,
            anomalies=detect_anomalies(usage),
            colors=dict(theme.operation_colors(grid.operations)),
            price_book=book,
            ranked=tuple(grid.totals_by_operation()),
            any_timezone=bool(source.any_timezone),
            month=str(chosen),
            # As the report names the account (its settings, else the sample's or the theme's).
            account=settings.account
            or ("Sample account" if bundled else theme.text.get("account", "Generect account")),
        )

    def _build_report(self, key: tuple[str, str, str], ex: Explore) -> Models:
        import dataclasses

        from ..reports.assemble import monthly_report

        self._first_chart.wait(timeout=3.0)
        with self._build:
            rep = monthly_report(
                self._zoned(key),
                ex.month,
                self._settings(key[0]),
                usage=ex.fetched,
            )
        fields = {f.name: getattr(ex, f.name) for f in dataclasses.fields(ex)}
        fields["account"] = str(rep.account)
        self._used = True
        return Models(report=rep, **fields)

    # -- the page ------------------------------------------------------------------------------

    def _pickers(self, account: str, month: str) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.many:
            failed: set[str] = set()
            for future in list(self._models.values()):
                if future.done() and not future.exception():
                    value = future.result()
                    if not isinstance(value, Models):
                        failed = {str(x["account"]) for x in value.failed}
            out["accounts"] = ((ALL, "All accounts"),) + tuple(
                (n, self.labels[n] + (" (could not be read)" if n in failed else ""))
                for n in self.accounts
            )
            out["account"] = account
        return out

    def failure_page(
        self, given: Mapping[str, Sequence[str]], key: tuple[str, str, str], text: str
    ) -> str:
        """The page with its pickers and one line saying why it cannot show the figures."""
        account, month, _zone = key
        return render_page(
            DashboardPage(
                title="Generect credit usage",
                subtitle="",
                query="",
                failure=text,
                month=month,
                months=((month, _month_name(month)),) if month else (),
                **self._pickers(account, month),
            )
        )

    def page(self, given: Mapping[str, Sequence[str]], key: tuple[str, str, str]) -> str:
        """The whole page of a query, from the models of ``key`` (already built)."""
        value = self.models(key).result()
        if not isinstance(value, Models):
            return self._rollup_page(value, key)
        return self.page_start(given, key) + self.page_end(given, key, "")

    def page_start(self, given: Mapping[str, Sequence[str]], key: tuple[str, str, str]) -> str:
        """The page down to the explorer (its chart, totals, comparison and drill-down), from
        the explorer's days only: sent while the report is still being built."""
        return render_page_start(self._start(self.explore(key).result(), given, key))

    def page_end(
        self, given: Mapping[str, Sequence[str]], key: tuple[str, str, str], problem: str
    ) -> str:
        """The rest of the page: the month's key figures (moved above the explorer by the
        page's script), the downloads, or the one line saying why the figures are missing."""
        if problem:
            return render_page_end(DashboardPage(title="", subtitle="", query="", failure=problem))
        return render_page_end(self._end(self.models(key).result(), given, key))

    def _rollup_failures(self) -> list[Any]:
        for future in list(self._models.values()):
            if future.done() and not future.exception():
                value = future.result()
                if not isinstance(value, Models):
                    return list(value.failed)
        return []

    def _rollup_page(self, rep: RollupReport, key: tuple[str, str, str]) -> str:
        from .rollup import rollup_html

        query = urlencode([("account", ALL), ("month", rep.month)])
        months = self._month_options(rep.month, None)
        return render_page(
            DashboardPage(
                title="Generect credit usage across accounts",
                subtitle=f"{len(self.accounts)} accounts, {rep.month_name}; pick one to see its "
                "own figures.",
                query=query,
                rollup_html=rollup_html(rep),
                months=months,
                month=rep.month,
                report_files=(
                    (f"generect-usage-accounts-{rep.month}.xlsx", f"report.xlsx?{query}"),
                    (f"generect-usage-accounts-{rep.month}.pdf", f"report.pdf?{query}"),
                ),
                **self._pickers(ALL, rep.month),
            )
        )

    def _month_options(self, month: str, ex: Explore | None) -> tuple[tuple[str, str], ...]:
        from ..periods import Month

        if ex is not None:
            months = set(map(str, ex.fetched.monthly["period"])) | set(ex.grid.months())
        else:
            last = Month.parse(month)
            months = {str(last.shift(-i)) for i in range(12)}
        months.add(month)
        return tuple((m, _month_name(m)) for m in sorted(months, reverse=True))

    def _query(self, ex: Explore, state: ViewState, key: tuple[str, str, str]) -> str:
        account, _month, zone = key
        pairs: list[tuple[str, str]] = []
        if self.many:
            pairs.append(("account", account))
        pairs.append(("month", ex.month))
        if zone:
            pairs.append(("tz", zone))
        pairs += state.query(ex.ranked)
        return urlencode(pairs, safe=",")

    def _start(
        self, ex: Explore, given: Mapping[str, Sequence[str]], key: tuple[str, str, str]
    ) -> DashboardPage:
        state = view_state(given, ex.grid, ex.ranked)
        where = (
            "the bundled sample account"
            if ex.usage.attrs.get("source") == "sample"
            else "the live API"
        )
        start, end = ex.usage.attrs.get("start"), ex.usage.attrs.get("end")
        return DashboardPage(
            title=f"Generect credit usage: {ex.account}",
            subtitle=f"Data from {where}, {start} to {end}, days in {ex.grid.timezone}.",
            query=self._query(ex, state, key),
            months=self._month_options(ex.month, ex),
            month=ex.month,
            explorer=self._explorer(ex, state, key[2]),
            tabs=self._tabs(ex, state, key),
            section_tab=state.tab in _SECTIONS,
            **self._pickers(key[0], ex.month),
        )

    def _end(
        self, m: Models, given: Mapping[str, Sequence[str]], key: tuple[str, str, str]
    ) -> DashboardPage:
        from .dashboard import KPI_PROVIDERS, month_kpis

        rep = m.report
        state = view_state(given, m.grid, m.ranked)
        query = self._query(m, state, key)
        extra = tuple(kpi for provider in KPI_PROVIDERS for kpi in provider(m.usage, rep))
        files = tuple(
            (f"generect-usage-{rep.month}.{ext}", f"report.{ext}?{query}")
            for ext in ("xlsx", "pdf")
        )
        return DashboardPage(
            title=f"Generect credit usage: {rep.account}",
            subtitle="",
            query=query,
            kpis=tuple(month_kpis(rep)),
            extra_kpis=extra,
            notes=(f"Key figures as of {rep.as_of:%Y-%m-%d %H:%M} ({rep.timezone}).",),
            explorer=self._explorer(m, state, key[2]),
            report_files=files,
            section=self._section(state, key, query) if state.tab in _SECTIONS else None,
            section_tab=state.tab in _SECTIONS,
        )

    def _tabs(
        self, ex: Explore, state: ViewState, key: tuple[str, str, str]
    ) -> tuple[tuple[str, str, bool], ...]:
        import dataclasses

        current = state.tab if state.tab in _SECTIONS else "totals"
        return tuple(
            (
                label,
                "./?" + self._query(ex, dataclasses.replace(state, tab=tab), key),
                tab == current,
            )
            for tab, label in _VIEWS
        )

    # -- report sections --------------------------------------------------------------------

    def _booked_split(self, m: Models, key: tuple[str, str, str]) -> tuple[dict[str, int], str]:
        """The month's booked cents by customer, as the ``chargeback`` command splits them
        (built once per key, kept with the models)."""
        from ..reports.assemble import chargeback

        with self._lock:
            found = self._booked.get(key)
        if found is not None:
            return found
        with self._build:
            split = chargeback(self._zoned(key), m.month, self._settings(key[0]))
        value = (dict(split.booked or {}), str(split.booked_currency))
        with self._lock:
            self._booked[key] = value
            while len(self._booked) > MODEL_CACHE:
                self._booked.popitem(last=False)
        return value

    def section_tab(self, key: tuple[str, str, str], kind: str) -> SectionTab:
        """The report section ``kind`` (customers, reconciliation) of ``key``'s month."""
        from .tabs import customers_tab, reconciliation_tab

        m = self.models(key).result()
        if not isinstance(m, Models):
            raise LookupError("the roll-up has no report sections")
        rep = m.report
        if kind == "reconciliation":
            return reconciliation_tab(rep)
        if kind != "customers":
            raise LookupError(f"no section {kind!r}")
        if rep.booked is not None and rep.sections.allocation is not None:
            booked, currency = self._booked_split(m, key)
            return customers_tab(rep, booked, currency)
        return customers_tab(rep, None, "")

    def _section(self, state: ViewState, key: tuple[str, str, str], query: str) -> SectionPart:
        tab = self.section_tab(key, state.tab)
        tables = []
        if tab.header:
            tables.append(
                Table(
                    tab.caption,
                    tab.header,
                    tab.shown,
                    total=tab.total,
                    css=f"generect-{tab.kind}-table",
                )
            )
        if tab.extra:
            tables.append(
                Table(tab.extra_caption, tab.extra_header, tab.extra, css="generect-reasons")
            )
        files = (
            ()
            if tab.missing
            else tuple(
                (f"{tab.file_stem()}.{e}", f"{tab.kind}.{e}?{query}") for e in ("csv", "xlsx")
            )
        )
        return SectionPart(
            kind=tab.kind,
            title=tab.title,
            missing=tab.missing,
            tables=tuple(tables),
            lines=tab.lines,
            files=files,
        )

    def section_file(self, key: tuple[str, str, str], kind: str, ext: str) -> tuple[str, bytes]:
        """A report section's tab as CSV or xlsx, saved in the export folder too."""
        from .._atomic import write_bytes_atomic
        from .tabs import tab_csv, write_tab_xlsx

        tab = self.section_tab(key, kind)
        if tab.missing:
            raise LookupError(tab.missing)
        name = f"{tab.file_stem()}.{ext}"
        path = self.export_dir / name
        with self._files:
            if ext == "csv":
                data = tab_csv(tab).encode("utf-8")
                write_bytes_atomic(path, data)
            elif ext == "xlsx":
                write_tab_xlsx(tab, path)
                data = path.read_bytes()
            else:
                raise LookupError(f"no export {ext!r}")
        self._used = True
        return name, data

    def _explorer(self, m: Explore, state: ViewState, zone: str) -> ExplorerPart:
        from ..money import display_shares, to_hundredths
        from .widgets import TIMEZONES, selection_alt

        grid = m.grid
        source_zone = grid.timezone
        movable = m.any_timezone
        zones = tuple(dict.fromkeys([source_zone, *TIMEZONES])) if movable else (source_zone,)
        note = (
            ""
            if movable
            else f"Days are in {source_zone}: the bundled sample is recorded in that timezone "
            "only; live data can be shown in another."
        )
        name = (
            f"generect-usage-{state.first:%Y-%m-%d}-to-{state.last:%Y-%m-%d}-by-"
            f"{state.granularity}{'-usd' if state.unit == 'usd' else ''}"
        )
        common: dict[str, Any] = dict(
            first=f"{state.first:%Y-%m-%d}",
            last=f"{state.last:%Y-%m-%d}",
            data_first=f"{grid.first_day:%Y-%m-%d}",
            data_last=f"{grid.last_day:%Y-%m-%d}",
            timezone=zone or source_zone,
            timezones=zones,
            timezone_note=note,
            operations=m.ranked,
            selected=frozenset(m.ranked if state.operations is None else state.operations),
            granularity=state.granularity,
            unit=state.unit,
            tab=state.tab,
            export_name=name,
            ignored=state.ignored,
        )
        if state.first > state.last:
            return ExplorerPart(
                invalid="Pick a start date on or before the end date: nothing is drawn for "
                f"{state.first:%d %B %Y} – {state.last:%d %B %Y}.",
                chart_alt="",
                totals=None,
                partial_note="",
                compare=None,
                drill=None,
                **common,
            )
        sel = grid.select(
            state.first, state.last, state.operations, state.granularity, state.unit, m.price_book
        )
        title = self._title(state)
        alt = selection_alt(title, sel, state.granularity, state.unit)
        totals = None
        partial = ""
        if sel.labels:
            sums = sel.values.sum(axis=0)
            shares = display_shares(to_hundredths(sums)) if float(sums.sum()) else None
            fmt = _amount(state.unit, _whole(sums))
            label = "estimated USD" if state.unit == "usd" else "credits"
            rows = [
                (op, fmt(float(v)), "–" if shares is None else f"{shares[i]:.1f}%")
                for i, (op, v) in enumerate(zip(sel.operations, sums))
            ]
            total = float(
                to_hundredths(sums).sum() / 100
                if state.unit == "credits"
                else round(float(np.round(sums * 100).sum()) / 100, 2)
            )
            rows.append(("Total", fmt(total), "100.0%" if shares is not None else "–"))
            totals = Table(
                f"Totals by operation, {state.first:%d %B %Y} – {state.last:%d %B %Y}",
                ("Operation", label, "Share"),
                tuple(rows),
                total=True,
                css="generect-totals-table",
            )
            flagged = [lab for lab, p in zip(sel.labels, sel.partial) if p]
            if flagged:
                partial = "Partial periods (hatched in the chart): " + ", ".join(flagged) + "."
        return ExplorerPart(
            invalid="",
            chart_alt=alt,
            totals=totals,
            partial_note=partial,
            compare=self._compare(m, state),
            drill=self._drill(m, state),
            **common,
        )

    @staticmethod
    def _title(state: ViewState) -> str:
        label = "Estimated USD" if state.unit == "usd" else "Credits"
        return f"{label} by {state.granularity}, {state.first:%d %b %Y} – {state.last:%d %b %Y}"

    def _ranges(
        self, state: ViewState
    ) -> tuple[tuple[pd.Timestamp, pd.Timestamp], tuple[pd.Timestamp, pd.Timestamp]]:
        b = (state.first, state.last)
        if state.compare == "custom" and state.a is not None:
            return state.a, b
        mode = "yoy" if state.compare == "yoy" else "previous"
        a = comparison_period(mode, b[0], b[1])
        return (pd.Timestamp(a[0]), pd.Timestamp(a[1])), b

    def _compare_frame(self, m: Explore, state: ViewState) -> tuple[Any, Any, Any, Any]:
        from .widgets import compare_periods

        a, b = self._ranges(state)
        verdict = check_comparison(a, b, m.grid.first_day, m.grid.last_day)
        if not verdict.ok:
            return a, b, verdict, None
        frame = compare_periods(
            m.usage,
            a,
            b,
            operations=state.operations,
            unit=state.unit,
            prices=m.price_book,
            grid=m.grid,
        )
        return a, b, verdict, frame

    def _compare(self, m: Explore, state: ViewState) -> ComparePart:
        a, b, verdict, frame = self._compare_frame(m, state)
        common = dict(mode=state.compare, a_from=f"{a[0]:%Y-%m-%d}", a_to=f"{a[1]:%Y-%m-%d}")
        if frame is None:
            return ComparePart(
                message=verdict.message, refused=True, table=None, chart_alt="", **common
            )
        if frame.empty:
            return ComparePart(message="", refused=False, table=None, chart_alt="", **common)
        fmt = _amount(state.unit, _whole(frame[["a", "b"]].to_numpy()))
        total_a, total_b = float(frame["a"].sum()), float(frame["b"].sum())

        def pct(x: float, y: float) -> str:
            return f"{(y - x) / x:+.1%}" if x else "–"

        def signed(v: float) -> str:
            return ("+" if v > 0 else "") + fmt(v) if v >= 0 else "−" + fmt(-v)

        rows = [
            (str(r.operation), fmt(r.a), fmt(r.b), signed(r.b - r.a), pct(r.a, r.b))
            for r in frame.itertuples()
        ]
        rows.append(
            ("Total", fmt(total_a), fmt(total_b), signed(total_b - total_a), pct(total_a, total_b))
        )
        a_name = f"A: {a[0]:%d %b %Y} – {a[1]:%d %b %Y}"
        b_name = f"B: {b[0]:%d %b %Y} – {b[1]:%d %b %Y}"
        notes = [verdict.message] if verdict.message else []
        if not total_a:
            notes.append("Period A has no usage: no percentages.")
        money = state.unit == "usd"

        def amount(v: float) -> str:
            return f"${v:,.2f}" if money else f"{v:,.0f} credits"

        n = min(len(frame), 10)
        change = f" ({(total_b - total_a) / total_a:+.1%})" if total_a else ""
        alt = (
            f"Chart: period A ({a[0]:%d %b %Y} – {a[1]:%d %b %Y}) against period B "
            f"({b[0]:%d %b %Y} – {b[1]:%d %b %Y}) for the {n} largest operations in B. "
            f"A {amount(total_a)}, B {amount(total_b)}{change}."
        )
        return ComparePart(
            message=" ".join(notes),
            refused=False,
            table=Table(
                "Period A against period B",
                ("Operation", a_name, b_name, "Change", "Change %"),
                tuple(rows),
                total=True,
                css="generect-compare-table",
            ),
            chart_alt=alt,
            **common,
        )

    def _drill(self, m: Explore, state: ViewState) -> DrillPart:
        from ..analysis.usage import ANOMALY_RULE
        from .widgets import drill_alt, drill_data

        op = state.op
        drill = drill_data(m.grid, m.anomalies, op, state.first, state.last)
        mine = drill.anomalies
        n = len(mine)
        alt = drill_alt(op, state.first, state.last, drill)
        if not op or not drill.sel.labels:
            return DrillPart(op, alt, "", None)
        if not n:
            return DrillPart(op, alt, f"No anomalies of {op} in this range.", None)
        fmt = _amount("credits", _whole(mine[["credits", "baseline"]].to_numpy()))
        rows = tuple(
            (
                str(r.day),
                fmt(float(r.credits)),
                fmt(float(r.baseline)),
                fmt(float(r.credits - r.baseline)),
                f"{float(r.score):,.1f}",
            )
            for r in mine.itertuples()
        )
        return DrillPart(
            op,
            alt,
            f"{n} anomal{'y' if n == 1 else 'ies'} ({ANOMALY_RULE}):",
            Table(
                f"Anomalies of {op}",
                ("Day", "Credits", "Baseline (28-day median)", "Above baseline", "Score (× MAD)"),
                rows,
            ),
        )

    # -- charts -------------------------------------------------------------------------------

    def chart(
        self, given: Mapping[str, Sequence[str]], key: tuple[str, str, str], kind: str, layout: str
    ) -> bytes:
        """A chart of the view as PNG bytes, drawn once per view and kept (bounded)."""
        from ..render.dashboard import charts as C

        if self.many and key[0] == ALL:
            raise LookupError("the roll-up has no explorer chart")
        m = self.explore(key).result()
        state = view_state(given, m.grid, m.ranked)
        layout = layout if layout in C.CHART_SIZES else "wide"
        ident = (key, kind, layout, tuple(state.query(m.ranked)))
        with self._lock:
            drawing = self._drawing.setdefault(ident, threading.Lock())
        with drawing:  # a chart being drawn for another viewer is waited for, not drawn again
            try:
                return self._draw(m, state, ident, key, kind, layout)
            finally:
                with self._lock:
                    self._drawing.pop(ident, None)

    def _draw(
        self,
        m: Explore,
        state: ViewState,
        ident: tuple[Any, ...],
        key: tuple[str, str, str],
        kind: str,
        layout: str,
    ) -> bytes:
        from ..render.dashboard import charts as C

        with self._lock:
            hit = self._charts.get(ident)
            if hit is not None:
                self._charts.move_to_end(ident)
                return hit[0]
        if kind == "main":
            sel = m.grid.select(
                state.first,
                state.last,
                state.operations,
                state.granularity,
                state.unit,
                m.price_book,
            )
            png = C.usage_chart(
                title=self._title(state),
                values=sel.values,
                labels=sel.labels,
                operations=sel.operations,
                partial=sel.partial,
                colors=m.colors,
                granularity=state.granularity,
                unit=state.unit,
                layout=layout,
            )
        elif kind == "compare":
            _a, _b, _verdict, frame = self._compare_frame(m, state)
            if frame is None or frame.empty:
                raise LookupError("no comparison in this view")
            png = C.compare_chart(
                operations=list(frame["operation"]),
                a=frame["a"].to_numpy(),
                b=frame["b"].to_numpy(),
                unit=state.unit,
                layout=layout,
            )
        elif kind == "drill":
            from .widgets import drill_chart_args, drill_data

            drill = drill_data(m.grid, m.anomalies, state.op, state.first, state.last)
            color = "#" + str(m.colors.get(state.op, "7F7F7F")).lstrip("#")
            png = C.drill_chart(**drill_chart_args(state.op, drill, color), layout=layout)
        else:
            raise LookupError(f"no chart {kind!r}")
        with self._lock:
            self._charts[ident] = (png, "")
            self._chart_bytes += len(png)
            while self._chart_bytes > CHART_CACHE_BYTES and len(self._charts) > 1:
                _old, (dropped, _alt) = self._charts.popitem(last=False)
                self._chart_bytes -= len(dropped)
        self._used = True
        self._first_chart.set()
        # The figure's own cycles are young: a young-generation pass (a few ms) frees them now,
        # and the pages they held go back to the system; the full pass waits for tidy().
        import gc

        gc.collect(1)
        _release_memory()
        return png

    # -- files --------------------------------------------------------------------------------

    def report_file(self, key: tuple[str, str, str], ext: str) -> tuple[str, bytes]:
        """The month's report file (the ``report`` command's bytes), written with its sibling
        into the export folder as the notebook dashboard does, and read back."""
        from ..deliver.parallel import write_report_files

        value = self.models(key).result()
        with self._files:
            if isinstance(value, Models):
                stem = f"generect-usage-{value.report.month}"
                xlsx, pdf = self.export_dir / f"{stem}.xlsx", self.export_dir / f"{stem}.pdf"
                write_report_files(value.report, xlsx, pdf)
            else:
                from ..render.pdf.rollup import write_rollup_pdf
                from ..render.xlsx.rollup import write_rollup_workbook

                stem = f"generect-usage-accounts-{value.month}"
                xlsx, pdf = self.export_dir / f"{stem}.xlsx", self.export_dir / f"{stem}.pdf"
                write_rollup_workbook(value, xlsx)
                write_rollup_pdf(value, pdf)
            path = xlsx if ext == "xlsx" else pdf
            data = path.read_bytes()
        self._used = True
        return path.name, data

    def view_file(
        self, given: Mapping[str, Sequence[str]], key: tuple[str, str, str], ext: str
    ) -> tuple[str, bytes]:
        """The view as CSV, xlsx or PDF: what is on screen, saved in the export folder too."""
        from .._atomic import write_bytes_atomic
        from ..render.records.view import view_csv
        from .widgets import view_rows

        m = self.models(key).result()
        if not isinstance(m, Models):
            raise LookupError("the roll-up has no view to export")
        state = view_state(given, m.grid, m.ranked)
        if state.first > state.last:
            raise LookupError("the range starts after it ends")
        name = (
            f"generect-usage-{state.first:%Y-%m-%d}-to-{state.last:%Y-%m-%d}-by-"
            f"{state.granularity}{'-usd' if state.unit == 'usd' else ''}.{ext}"
        )
        path = self.export_dir / name
        if ext in ("csv", "xlsx"):
            rows = view_rows(
                m.usage,
                dates=(state.first, state.last),
                operations=state.operations,
                granularity=state.granularity,
                grid=m.grid,
                unit=state.unit,
                prices=m.price_book,
            )
            if ext == "csv":
                data = view_csv(rows).encode("utf-8")
                write_bytes_atomic(path, data)
                return name, data
            from ..render.xlsx.view import write_view_xlsx

            write_view_xlsx(rows, path)
            return name, path.read_bytes()
        if ext != "pdf":
            raise LookupError(f"no export {ext!r}")
        from ..render.pdf.view import render_view_pdf
        from ..theme import load_theme

        explorer = self._explorer(m, state, "")
        tables = []
        if explorer.totals is not None:
            t = explorer.totals
            tables.append((t.caption, t.header, t.rows))
        if explorer.compare is not None and explorer.compare.table is not None:
            t = explorer.compare.table
            tables.append((t.caption, t.header, t.rows))
        elif explorer.compare is not None and explorer.compare.refused:
            tables.append(("Period A against period B", (explorer.compare.message,), ()))
        rep = m.report
        data = render_view_pdf(
            title=f"Generect credit usage: {rep.account}",
            subtitle=f"{self._title(state)}; days in {m.grid.timezone}; as of "
            f"{rep.as_of:%Y-%m-%d %H:%M}."
            + (f" {explorer.partial_note}" if explorer.partial_note else ""),
            chart_png=self.chart(given, key, "main", "wide"),
            chart_alt=explorer.chart_alt,
            tables=tables,
            theme=load_theme(self._settings(key[0]).template),
            created=rep.as_of.to_pydatetime(),
        )
        write_bytes_atomic(path, data)
        return name, data

    def tidy(self) -> None:
        """After work, collect the cycles it left (matplotlib's figures and artists refer to
        each other) and hand the freed memory back: what a page cost is returned within
        seconds of it, not whenever the collector happens to run."""
        if not self._used:
            return
        import gc

        self._used = False
        gc.collect()
        _release_memory()

    def tidy_soon(self) -> None:
        """:meth:`tidy` by a worker, when there was work (the server's periodic call)."""
        if self._used:
            self.pool.submit(self.tidy)

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)


# --- tornado ------------------------------------------------------------------------------------


def make_app(server: DashboardServer) -> Any:
    """The tornado application of ``server``: the page, its charts and its files."""
    from tornado import web

    class Base(web.RequestHandler):
        def prepare(self) -> None:
            token = self.get_query_argument("token", None)
            if token is not None and hmac.compare_digest(token.encode(), server.token.encode()):
                self.set_cookie(
                    COOKIE, server.cookie_value, httponly=True, samesite="Strict", path="/"
                )
                if self.request.method == "GET":
                    rest = [
                        (k, v.decode("utf-8", "replace"))
                        for k, values in self.request.query_arguments.items()
                        if k != "token"
                        for v in values
                    ]
                    self.redirect(self.request.path + (f"?{urlencode(rest)}" if rest else ""))
                return
            cookie = self.get_cookie(COOKIE) or ""
            header = self.request.headers.get("Authorization", "")
            given = header.split(" ", 1)[1] if header.lower().startswith("token ") else ""
            if hmac.compare_digest(cookie.encode(), server.cookie_value.encode()) or (
                given and hmac.compare_digest(given.encode(), server.token.encode())
            ):
                return
            raise web.HTTPError(403)

        def write_error(self, status_code: int, **kwargs: Any) -> None:
            self.set_header("Content-Type", "text/html; charset=utf-8")
            text = {
                403: "This dashboard needs the token from the URL it printed.",
                404: "There is nothing at this address.",
            }.get(status_code, "The request could not be answered.")
            self.finish(render_failure("Generect credit usage", text))

        def given(self) -> dict[str, list[str]]:
            return {
                k: [v.decode("utf-8", "replace") for v in values]
                for k, values in self.request.query_arguments.items()
                if k != "token"
            }

        async def work(self, fn: Callable[..., Any], *args: Any) -> Any:
            loop = asyncio.get_running_loop()
            return await asyncio.wait_for(
                loop.run_in_executor(server.pool, fn, *args), PAGE_DEADLINE
            )

        async def ready(
            self, build: Callable[[tuple[str, str, str]], Future[Any]], key: tuple[str, str, str]
        ) -> str:
            """ "" when ``build(key)`` is done, else the one line saying why not."""
            from ..errors import GenerectError

            try:
                await asyncio.wait_for(asyncio.wrap_future(build(key)), PAGE_DEADLINE)
            except GenerectError as exc:
                if server.many and key[0]:
                    label = server.labels[key[0]]
                    return f"Account {label} could not be read: {_reason(exc)}."
                return f"The dashboard cannot open: {_reason(exc)}."
            except TimeoutError:
                return "The dashboard cannot open: the data took too long to arrive; try again."
            return ""

    class PageHandler(Base):
        async def get(self) -> None:
            given = self.given()
            key = server.key(given)
            if not key[1]:
                try:
                    month = await self.work(server.default_month, key[0])
                except Exception as exc:  # noqa: BLE001 - one line in the page, never a trace
                    self.finish(
                        server.failure_page(
                            given, key, f"The dashboard cannot open: {_reason(exc)}."
                        )
                    )
                    return
                key = (key[0], month, key[2])
            self.set_header("Cache-Control", "no-store")
            if server.many and key[0] == ALL:
                problem = await self.ready(server.models, key)
                if problem:
                    self.finish(server.failure_page(given, key, problem))
                else:
                    self.finish(await self.work(server.page, given, key))
                return
            problem = await self.ready(server.explore, key)
            if problem:
                self.finish(server.failure_page(given, key, problem))
                return
            # The explorer first (its chart starts loading at once), the key figures when the
            # report is in.
            self.write(await self.work(server.page_start, given, key))
            await self.flush()
            problem = await self.ready(server.models, key)
            self.finish(await self.work(server.page_end, given, key, problem))

    class ChartHandler(Base):
        async def get(self, kind: str) -> None:
            given = self.given()
            key = server.key(given)
            if not key[1]:
                key = (key[0], await self.work(server.default_month, key[0]), key[2])
            if await self.ready(server.explore, key):
                raise web.HTTPError(404)
            layout = (given.get("layout") or ["wide"])[-1]
            try:
                png = await self.work(server.chart, given, key, kind, layout)
            except LookupError:
                raise web.HTTPError(404) from None
            self.set_header("Content-Type", "image/png")
            self.set_header("Cache-Control", "private, max-age=600")
            self.finish(png)

    class FileHandler(Base):
        async def get(self, what: str, ext: str) -> None:
            given = self.given()
            key = server.key(given)
            if not key[1]:
                key = (key[0], await self.work(server.default_month, key[0]), key[2])
            if await self.ready(server.models, key):
                raise web.HTTPError(404)
            if what == "report" and ext == "csv":
                raise web.HTTPError(404)
            try:
                if what in _SECTIONS:
                    name, data = await self.work(server.section_file, key, what, ext)
                elif what == "report":
                    name, data = await self.work(server.report_file, key, ext)
                else:
                    name, data = await self.work(server.view_file, given, key, ext)
            except LookupError:
                raise web.HTTPError(404) from None
            mime = {"csv": "text/csv; charset=utf-8", "xlsx": _XLSX, "pdf": "application/pdf"}
            self.set_header("Content-Type", mime[ext])
            self.set_header("Content-Disposition", f'attachment; filename="{name}"')
            self.set_header("Cache-Control", "no-store")
            self.finish(data)

    class Missing(Base):
        def get(self) -> None:
            raise web.HTTPError(404)

        def post(self) -> None:
            raise web.HTTPError(404)

    return web.Application(
        [
            (r"/", PageHandler),
            (r"/chart/(main|compare|drill)\.png", ChartHandler),
            (r"/(report|view|customers|reconciliation)\.(csv|xlsx|pdf)", FileHandler),
            (r"/.*", Missing),
        ],
        serve_traceback=False,
        compress_response=True,
        log_function=_log_request,
    )


def _log_request(handler: Any) -> None:
    """tornado's access log without the query: the first request's carries the token."""
    import logging

    request = handler.request
    logging.getLogger("tornado.access").debug(
        "%d %s %s %.0f ms",
        handler.get_status(),
        request.method,
        request.path,
        1000.0 * request.request_time(),
    )
