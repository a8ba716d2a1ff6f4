"""The one place a command's product is put together: a source and settings in, the complete
model out.

:func:`monthly_report` is the report the ``report`` and ``email`` commands render, notebook 02
writes and the dashboard offers for download: its figures, and the sections (plan limit and
budgets, the ledger tie-out, customers) built in. :func:`quarter_report`, :func:`reconciliation`,
:func:`chargeback` and :func:`account_status` do the same for the other commands. Everything is
asked of the :class:`~generect_reports.fetch.source.Source`; nothing here chooses between the
sample and the API, renders or sends.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pandas as pd

from generect_reports.analysis.budget import Budgets, parse_budget_table
from generect_reports.analysis.calendar import FiscalCalendar
from generect_reports.analysis.chargeback import DEFAULT_TOLERANCE
from generect_reports.analysis.valuation import MoneySettings
from generect_reports.errors import InputError
from generect_reports.periods import Month

if TYPE_CHECKING:
    from generect_reports.analysis.budget import Crossing
    from generect_reports.analysis.chargeback import Allocation
    from generect_reports.analysis.forecast import Forecast, PeriodForecast, Runway, TopUps
    from generect_reports.analysis.reconcile import Reconciliation
    from generect_reports.analysis.valuation import Valuation
    from generect_reports.fetch.account import AccountStatus
    from generect_reports.fetch.ledger import LedgerInputs
    from generect_reports.fetch.plan import ReportUsage
    from generect_reports.fetch.source import Source
    from generect_reports.reports.monthly import MonthlyReport
    from generect_reports.reports.quarterly import QuarterReport
    from generect_reports.reports.statements import Statements, StatementSettings
    from generect_reports.theme import Theme

__all__ = [
    "ReportSettings",
    "DEFAULT_HISTORY",
    "MAX_HISTORY",
    "monthly_report",
    "report_month",
    "report_usage",
    "quarter_report",
    "QuarterResult",
    "reconciliation",
    "Reconciled",
    "chargeback",
    "Chargeback",
    "statements",
    "account_status",
    "StatusReport",
    "StatusMoney",
]

#: Months of history a report shows unless told otherwise (the report model's own default).
DEFAULT_HISTORY = 24
#: Longest history accepted (100 years): beyond it the window leaves the calendar.
MAX_HISTORY = 1200
#: The share of failed requests that flags a customer in the report's customer section.
FAILED_SHARE = 0.20
#: Days of usage before today that a status projection reads (the weekday run rate).
STATUS_LOOKBACK_DAYS = 28
#: Past months of daily usage a status replays to measure its projection: the intervals and the
#: accuracy read the last 12, each of those measured against the 12 before it. Closed months
#: come from the cache after the first run.
STATUS_HISTORY_MONTHS = 24
STATUS_ACCURACY_MONTHS = 12


@dataclass(frozen=True)
class ReportSettings:
    """What the documents read from options and the configuration, decided once per run.

    The timezone is the source's (:attr:`Source.timezone`), so a frame and its buckets can never
    disagree with the settings.

    Parameters
    ----------
    history
        Months in the history chart and the Monthly sheet (1 to :data:`MAX_HISTORY`).
    template
        Template folder (theme, prices, mappings, email templates); None for the bundled one.
    account
        Account name for titles; None for the theme's (or "Sample account").
    budgets
        The ``[budget]`` table, as parsed :class:`~generect_reports.analysis.budget.Budgets` (a
        plain mapping is parsed here).
    calendar
        The fiscal calendar of quarters.
    reconcile, chargeback
        The ledger tie-out and the customer split in the monthly report; None for "when the
        source answers locally" (the sample: they cost nothing; the live ledger is large).
    failed_threshold
        Share of failed requests (0-1) that flags a customer.
    tolerance
        How far a customer's estimate may lie above what its requests prove before it is billed
        its proven lower bound (``[chargeback] tolerance``).
    as_of
        Look at the data as it was then: only days complete at this instant count (a naive time
        is local to the source's timezone). None for the source's own time.
    money
        The ``[money]`` table (purchases or rate, policy, opening): what the credits cost.
    """

    history: int = DEFAULT_HISTORY
    template: str | os.PathLike[str] | None = None
    account: str | None = None
    budgets: Budgets = field(default_factory=Budgets)
    calendar: FiscalCalendar = field(default_factory=FiscalCalendar)
    reconcile: bool | None = None
    chargeback: bool | None = None
    failed_threshold: float = FAILED_SHARE
    tolerance: float = DEFAULT_TOLERANCE
    as_of: pd.Timestamp | None = None
    money: MoneySettings = field(default_factory=MoneySettings)

    def __post_init__(self) -> None:
        if isinstance(self.history, bool) or not isinstance(self.history, int):
            raise InputError(f"history must be a whole number of months, not {self.history!r}")
        if not 1 <= self.history <= MAX_HISTORY:
            raise InputError(
                f"history must be 1 to {MAX_HISTORY} months, not {self.history}"
                if self.history > 0
                else f"history must be at least 1 month, not {self.history}"
            )
        if not 0 <= self.failed_threshold <= 1:
            raise InputError(
                f"the failed-request threshold must be between 0 and 1, not {self.failed_threshold}"
            )
        if not 0 <= self.tolerance <= 1:
            raise InputError(
                f"the allocation tolerance must be between 0 and 1, not {self.tolerance}"
            )
        if not isinstance(self.budgets, Budgets):
            object.__setattr__(self, "budgets", parse_budget_table(self.budgets))
        if self.as_of is not None and not isinstance(self.as_of, pd.Timestamp):
            object.__setattr__(self, "as_of", _instant(self.as_of))


def _instant(value: Any) -> pd.Timestamp:
    try:
        stamp = pd.Timestamp(value)
    except (TypeError, ValueError) as exc:
        raise InputError(f"invalid as-of time {value!r}: expected e.g. 2026-10-15 09:00") from exc
    if pd.isna(stamp):
        raise InputError(f"invalid as-of time {value!r}: expected e.g. 2026-10-15 09:00")
    return stamp


def _now(source: Source, settings: ReportSettings) -> pd.Timestamp:
    """The instant the documents are as of: the settings' look-back time, else the source's."""
    if settings.as_of is None:
        return source.now()
    at = settings.as_of
    return at.tz_localize(source.timezone) if at.tzinfo is None else at.tz_convert(source.timezone)


def _complete_at(frame: pd.DataFrame, at: pd.Timestamp) -> pd.DataFrame:
    """The daily rows of days complete at ``at``, with ``at`` as the frame's as-of time."""
    ends = frame["period_start"].dt.tz_localize(None) + pd.Timedelta(days=1)
    kept = frame[(ends <= at.tz_localize(None)).to_numpy()].reset_index(drop=True)
    kept.attrs.update(frame.attrs)
    kept.attrs["fetched_at"] = at
    if len(kept):
        kept.attrs["end"] = str(kept["period_start"].max().date())
    return kept


def report_month(
    source: Source, month: Month | str | None, settings: ReportSettings | None = None
) -> Month:
    """``month`` as a :class:`Month`; None is the last full month as of the source's time (or
    the settings' look-back time)."""
    if month is not None:
        return Month.parse(month)
    from generect_reports.reports.monthly import last_full_month

    now = _now(source, settings or ReportSettings())
    return Month.parse(last_full_month(timezone=source.timezone, now=now))


def report_usage(
    source: Source, month: Month | str, settings: ReportSettings | None = None
) -> ReportUsage:
    """The daily and monthly usage a report of ``month`` is built from: its fetch plan, as of
    the source's time, or cut to the days complete at the settings' look-back time."""
    settings = settings or ReportSettings()
    month = Month.parse(month)
    if settings.as_of is None:
        return source.report_usage(month, settings.history)
    from generect_reports.fetch.plan import ReportUsage, report_plan

    at = _now(source, settings)
    usage = source.plan_usage(report_plan(month, settings.history, today=at.date()))
    return ReportUsage(_complete_at(usage.daily, at), usage.monthly)


def monthly_report(
    source: Source,
    month: Month | str | None,
    settings: ReportSettings | None = None,
    *,
    usage: ReportUsage | None = None,
) -> MonthlyReport:
    """The complete monthly report of ``month``, sections included, as every artefact shows it.

    Parameters
    ----------
    source
        Where the data comes from (:func:`~generect_reports.fetch.source.open_source`).
    month
        The report month; None for the last full month as of the source's time.
    settings
        History, template, budgets, sections (default :class:`ReportSettings`).
    usage
        The month's :func:`report_usage` when the caller already has it (the dashboard shows
        the same days in its explorer); fetched here otherwise.

    Returns
    -------
    MonthlyReport
        The figures of :func:`~generect_reports.reports.monthly.build_report` from the report's
        fetch plan, with ``sections``: the plan limit and budgets always (one ``/me/`` request),
        the ledger tie-out and the customer split as the settings say.
    """
    from generect_reports.reports.monthly import build_report
    from generect_reports.reports.narrative import report_narrative
    from generect_reports.theme import load_theme

    settings = settings or ReportSettings()
    theme = load_theme(settings.template)  # a bad template is said before any request
    month = report_month(source, month, settings)
    if usage is None:
        usage = report_usage(source, month, settings)
    rep = build_report(
        usage.daily,
        str(month),
        monthly=usage.monthly,
        history=settings.history,
        theme=theme,
        account=settings.account,
        as_of=None if settings.as_of is None else _now(source, settings),
    )
    # The replay reads every day of two years: free for a local source; against the API the
    # report keeps to its plan (the days it already has: a short history, a wide interval
    # that says so) and `status` measures the accuracy over two years.
    forecast = rep.forecast
    if source.offline and not rep.complete:
        forecast = _report_forecast(source, rep)
        rep = dataclasses.replace(rep, forecast=forecast, projection=forecast.projected)
        rep = dataclasses.replace(rep, narrative=report_narrative(rep))
    note = None if forecast is None else _accuracy_note(forecast)
    notes = rep.notes if note is None else [*rep.notes, note]
    valued = _valuation(source, rep, settings)
    booked = None
    if valued is not None:
        from generect_reports.reports.monthly import BookedCost

        mv = valued.month(rep.month)
        booked = BookedCost(
            currency=valued.currency,
            booked_cost=mv.booked_cents / 100,
            consumed=mv.consumed_cents / 100,
            pending_accrual=mv.pending_accrual_cents / 100,
            list_value=rep.estimated_cost,
            basis=f"{valued.policy} of {valued.basis}",
            by_operation={op: c / 100 for op, c in sorted(mv.by_operation.items())},
        )
    sections = _sections(source, rep, usage.daily, settings, valued, forecast)
    return dataclasses.replace(rep, notes=notes, sections=sections, booked=booked)


def _report_forecast(source: Source, rep: MonthlyReport) -> Forecast:
    """A running month's projection with its intervals and the accuracy measured by replaying
    the months before."""
    from generect_reports.analysis.forecast import month_forecast

    month = Month.parse(rep.month)
    first = month.shift(-STATUS_HISTORY_MONTHS).first_day - dt.timedelta(days=STATUS_LOOKBACK_DAYS)
    as_of = pd.Timestamp(rep.as_of)
    last = (as_of - pd.Timedelta(microseconds=1)).date()
    history = _complete_at(source.usage(first, max(last, first), period="day"), as_of)
    return month_forecast(history, as_of=as_of, months=STATUS_ACCURACY_MONTHS)


def _accuracy_note(forecast: Forecast) -> str | None:
    """The report's note: the projection, its 80 % interval and its measured accuracy."""
    from generect_reports.analysis.forecast import accuracy_text

    if forecast.interval_80 is None or forecast.projected is None:
        return None
    from generect_reports.reports.formats import format_number

    low, high = (format_number(v, 0) for v in forecast.interval_80)
    return (
        f"Month-end projection {format_number(forecast.projected, 0)} credits, 80% interval "
        f"{low} to {high} (from the account's own history); "
        f"{accuracy_text(forecast)}."
    )


def _valuation(source: Source, rep: MonthlyReport, settings: ReportSettings) -> Valuation | None:
    """The ledger valued through the report's month, when ``[money]`` (or the source) prices
    the credits; as of the report's time for a running month."""
    from generect_reports.reports.valuation import money_for, value_months

    money = money_for(source, settings.money)
    if not money.configured:
        return None
    operations = sorted(set(map(str, rep.operations["operation"])) - {"unattributed"})
    until = None if rep.complete else rep.as_of
    return value_months(
        source, rep.month, money, template=settings.template, operations=operations, until=until
    )


def _on(choice: bool | None, source: Source, settings: ReportSettings) -> bool:
    # By default a section is on when it costs nothing, and only for the data as it is now:
    # the ledger and the token analytics describe the present, not a look-back time.
    return choice if choice is not None else source.offline and settings.as_of is None


def _sections(
    source: Source,
    rep: MonthlyReport,
    daily: pd.DataFrame,
    settings: ReportSettings,
    valued: Valuation | None = None,
    forecast: Forecast | None = None,
) -> Any:
    from generect_reports.analysis.budget import report_budget
    from generect_reports.reports.monthly import ReportSections

    account = source.account()
    # The balance runway only means something for the month that is still running, now.
    running_now = not rep.complete and settings.as_of is None
    budget, burnup = report_budget(
        daily,
        rep.month,
        current_limit=account.monthly_limit,
        current_month=account.api_month,
        budgets=settings.budgets,
        limit_from=source.limit_history(),
        as_of=rep.as_of,
        prices=rep.price_book,
        balance=account.balance if running_now else None,
        spread=None
        if forecast is None
        else {level: forecast.remaining_factors(level) for level in (0.80, 0.95)},
    )
    tied = (
        reconciliation(source, rep.month, settings, valued=valued)
        if _on(settings.reconcile, source, settings)
        else None
    )
    allocation = (
        chargeback(source, rep.month, settings).allocation
        if _on(settings.chargeback, source, settings)
        else None
    )
    return ReportSections(
        budget=budget,
        burnup=burnup,
        reconciliation=None if tied is None else tied.result,
        ledger=None if tied is None else tied.ledger,
        allocation=allocation,
    )


@dataclass(frozen=True)
class QuarterResult:
    """A quarter report and the theme it is drawn with."""

    report: QuarterReport
    theme: Theme

    @property
    def colors(self) -> dict[str, str]:
        """The theme's colour of each operation the quarter shows."""
        return dict(self.theme.operation_colors(list(self.report.by_month["operation"])))


def quarter_report(
    source: Source, quarter: str, settings: ReportSettings | None = None
) -> QuarterResult:
    """The quarter report of ``quarter`` (``2026-Q3`` or ``FY2027-Q1`` in ``settings.calendar``):
    whole months as monthly buckets, days only for a month a like-for-like window cuts short."""
    from generect_reports.fetch.plan import windows_plan
    from generect_reports.reports.quarterly import (
        build_quarter_report,
        quarter_window,
        quarter_windows,
    )
    from generect_reports.theme import load_theme

    settings = settings or ReportSettings()
    quarter_window(quarter, settings.calendar)  # the label, checked before any request
    theme = load_theme(settings.template)
    # The last day with any data: today for the API, the sample's last day (its as-of time is
    # the midnight that ended it).
    last_day = (_now(source, settings) - pd.Timedelta(microseconds=1)).date()
    plan = windows_plan(
        quarter_windows(quarter, settings.calendar, today=last_day), today=last_day, label=quarter
    )
    usage = source.plan_usage(plan)
    rep = build_quarter_report(
        usage.daily,
        quarter,
        monthly=usage.monthly,
        calendar=settings.calendar,
        theme=theme,
        account=settings.account,
    )
    from generect_reports.reports.valuation import money_for, value_months

    money = money_for(source, settings.money)
    done = [m for m in rep.months if m <= f"{last_day:%Y-%m}"]
    if money.configured and done:
        valued = value_months(source, done[-1], money, template=settings.template)
        booked = {m: valued.month(m).booked_cents / 100 for m in done}
        rep = dataclasses.replace(rep, booked_by_month=booked)
    forecast = None if rep.complete else _quarter_forecast(source, rep, settings)
    if forecast is not None and forecast.label == rep.label:
        from generect_reports.reports.quarterly import quarter_projection_sentence

        rep = dataclasses.replace(
            rep, forecast=forecast, notes=[*rep.notes, quarter_projection_sentence(forecast) + "."]
        )
    return QuarterResult(rep, theme)


def _quarter_forecast(
    source: Source, rep: QuarterReport, settings: ReportSettings
) -> PeriodForecast:
    """A running quarter projected to its last day. A local source replays two years of days
    (the past quarters measure the interval, as `status` does); against the API the quarter's
    days and the window before it are read (closed days are cached), a short history whose
    interval is the wide band and says so."""
    from generect_reports.analysis.forecast import period_forecast

    at = _now(source, settings)
    last = (at - pd.Timedelta(microseconds=1)).date()
    if source.offline:
        month = Month.parse(f"{last:%Y-%m}")
        first = month.shift(-STATUS_HISTORY_MONTHS).first_day
    else:
        first = rep.start
    first -= dt.timedelta(days=STATUS_LOOKBACK_DAYS)
    days = _complete_at(source.usage(first, max(last, first), period="day"), at)
    return period_forecast(
        days, "quarter", calendar=settings.calendar, as_of=at, lookback_days=STATUS_LOOKBACK_DAYS
    )


@dataclass(frozen=True)
class Reconciled:
    """A month tied to the ledger: the reconciliation and the ledger it read."""

    result: Reconciliation
    inputs: LedgerInputs

    @property
    def ledger(self) -> pd.DataFrame:
        return self.inputs.ledger


def reconciliation(
    source: Source,
    month: Month | str,
    settings: ReportSettings | None = None,
    *,
    refresh: bool = False,
    valued: Valuation | None = None,
) -> Reconciled:
    """Tie ``month``'s usage to the ledger and the balance, restatements recorded.

    ``refresh`` fetches cached closed months again (usage and ledger) and lists what changed
    since they were last reported; it needs a source that caches (:attr:`Source.refreshable`).
    """
    from generect_reports.analysis.reconcile import load_ledger_mapping, reconcile, reported_figures

    settings = settings or ReportSettings()
    month = Month.parse(month)
    if refresh and not source.refreshable:
        raise InputError("a refresh fetches cached months again: it needs the API and the cache")
    mapping = load_ledger_mapping(settings.template)
    inputs = source.ledger(month, refresh=refresh)
    usage = source.usage(month.first_day, month.last_day, period="month", refresh=refresh)
    anchor = inputs.anchor
    result = reconcile(
        usage,
        inputs.ledger,
        month=str(month),
        closing_balance=inputs.closing_balance,
        anchor_at=anchor.at if anchor else None,
        in_flight=anchor.in_flight if anchor else 0.0,
        hypothesis=inputs.hypothesis,
        mapping=mapping,
        timezone=source.timezone,
    )
    if anchor is not None:
        result.anchor_balance = anchor.balance
    from generect_reports.reports.valuation import money_for, value_months

    money = money_for(source, settings.money)
    if money.configured:
        operations = [str(op) for op in result.operations["operation"] if ":" not in str(op)]
        if valued is None:
            valued = value_months(
                source, month, money, template=settings.template, operations=operations
            )
        result.money = valued.month(str(month))
        result.currency = valued.currency
    # A month still settling is not remembered: its figures are expected to move.
    closed = source.settled(month.first_day, month.last_day) and not result.pending
    figures = reported_figures(usage, inputs.ledger, month=str(month), timezone=source.timezone)
    result.restatements = [
        *inputs.restatements,
        *source.remember_reported(month, figures, closed=closed, refresh=refresh),
    ]
    return Reconciled(result, inputs)


@dataclass(frozen=True)
class Chargeback:
    """A month's credits and estimated cost per customer, and whether the month is final."""

    allocation: Allocation
    complete: bool
    #: Booked cost in cents by customer (``unallocated`` included) when ``[money]`` values the
    #: credits: each operation's booked cents split by the customers' credits of it.
    booked: Mapping[str, int] | None = None
    booked_currency: str = "USD"
    #: The same booked cents per (customer, operation), the statements' amounts.
    booked_lines: Mapping[tuple[str, str], int] | None = None


def chargeback(
    source: Source,
    month: Month | str,
    settings: ReportSettings | None = None,
    *,
    customer: str | None = None,
    tokens: pd.DataFrame | None = None,
) -> Chargeback:
    """The month's allocation to customer tokens (usage of the month, token analytics of the
    month and the one before, or ``tokens`` when already read), narrowed to ``customer`` when
    given (filtered here, never sent)."""
    from generect_reports.analysis.chargeback import allocate_credits, load_endpoint_mapping
    from generect_reports.theme import load_theme

    settings = settings or ReportSettings()
    month = Month.parse(month)
    theme = load_theme(settings.template)
    mapping = load_endpoint_mapping(settings.template)
    usage = source.usage(month.first_day, month.last_day, period="month")
    if tokens is None:
        tokens = source.tokens(month.shift(-1).first_day, month.last_day)
    alloc = allocate_credits(
        usage,
        tokens,
        month=str(month),
        mapping=mapping,
        prices=theme.price_book,  # the report's own book: its costs are the report's
        threshold=settings.failed_threshold,
        tolerance=settings.tolerance,
    )
    booked = None
    booked_lines = None
    currency = alloc.currency
    from generect_reports.reports.valuation import booked_by_operation, money_for, value_months

    money = money_for(source, settings.money)
    if money.configured:
        from generect_reports.reports.journal import split_by_customer

        operations = sorted(set(map(str, usage["operation"])) - {"unattributed"})
        valued = value_months(
            source, month, money, template=settings.template, operations=operations
        )
        from generect_reports.reports.statements import split_by_line

        by_operation = booked_by_operation(valued.month(str(month)))
        booked = split_by_customer(by_operation, alloc.lines)
        booked_lines = split_by_line(by_operation, alloc.lines)
        currency = valued.currency
    if customer is not None:
        alloc = alloc.for_customer(customer)
        if booked is not None:
            shown = set(map(str, alloc.customers["customer"]))
            booked = {k: v for k, v in booked.items() if k in shown}
    return Chargeback(
        alloc, source.settled(month.first_day, month.last_day), booked, currency, booked_lines
    )


def statements(
    source: Source,
    month: Month | str,
    settings: ReportSettings | None = None,
    billing: StatementSettings | None = None,
    *,
    customer: str | None = None,
    include_empty: bool = False,
) -> tuple[Chargeback, Statements]:
    """The month's chargeback and its customer statements (with the month before for each
    statement's comparison), valued at the booked cost when ``[money]`` values the credits."""
    from generect_reports.reports.statements import build_statements

    settings = settings or ReportSettings()
    month = Month.parse(month)
    # One read of the token analytics serves both months: the month before is in it already.
    tokens = source.tokens(month.shift(-1).first_day, month.last_day)
    split = chargeback(source, month, settings, customer=customer, tokens=tokens)
    try:
        before: Chargeback | None = chargeback(source, month.shift(-1), settings, tokens=tokens)
    except InputError:  # the month before lies outside the data (the sample's first month)
        before = None
    built = build_statements(
        split.allocation,
        settings=billing,
        booked=split.booked_lines,
        currency=split.booked_currency if split.booked_lines is not None else None,
        previous=before.allocation if before is not None else None,
        previous_booked=before.booked_lines if before is not None else None,
        include_empty=include_empty,
    )
    return split, built


@dataclass(frozen=True)
class StatusMoney:
    """The month so far in money: booked cost (consumed + accrual) and its projection, cents."""

    currency: str
    booked_cost: int
    projected_booked_cost: int | None
    consumed: int
    pending_accrual: int
    prepaid_balance: int
    basis: str
    #: Projected credits above the plan limit (hundredths) and their cost (cents), valued at
    #: ``[money] overage_rate`` when the contract has one, else at the lots' rate.
    overage_hundredths: int = 0
    overage_cost: int | None = None
    overage_basis: str = ""


@dataclass(frozen=True)
class StatusReport:
    """The account now: month to date against the limit and budgets, and the thresholds crossed.

    ``frame`` is :func:`~generect_reports.analysis.budget.budget_status`'s, ``checks`` what
    :func:`~generect_reports.analysis.budget.check_thresholds` found (most severe first),
    ``forecast`` the projection's intervals and measured accuracy, ``topups`` the recurring
    top-ups (configured or detected in the ledger; None when there are none),
    ``runway_topups`` the runway with them and ``periods`` the running quarter, fiscal year
    (and calendar year, when it differs) projected to their ends with their intervals."""

    frame: pd.DataFrame
    account: AccountStatus
    checks: list[Crossing]
    timezone: str
    money: StatusMoney | None = None
    forecast: Forecast | None = None
    topups: TopUps | None = None
    runway_topups: Runway | None = None
    account_id: str = "sample"
    min_runway_days: float | None = None
    periods: tuple[PeriodForecast, ...] = ()

    def alert_lines(self) -> list[tuple[str, float, str, str]]:
        """Every crossing as ``(line, threshold, level, text)``: what alert state is keyed by
        (the runway's threshold is ``min_runway_days``)."""
        thresholds = dict(zip(self.frame["line"], self.frame["threshold"]))
        return [
            (c.line, float(thresholds.get(c.line, self.min_runway_days or 0.0)), c.level, c.text)
            for c in self.checks
        ]

    @property
    def today(self) -> dt.date:
        return pd.Timestamp(self.account.fetched_at).tz_convert(self.timezone).date()

    @property
    def failed(self) -> list[Crossing]:
        return [c for c in self.checks if c.level == "fail"]


def _status_topups(source: Source, settings: ReportSettings, as_of: pd.Timestamp) -> TopUps | None:
    """The recurring top-ups: ``[budget] topups`` when set; detected in the ledger of the last
    three months when it says ``"ledger"``, or by default for a source that answers locally."""
    from generect_reports.analysis.forecast import TopUps, detect_topups

    chosen = settings.budgets.topups
    if isinstance(chosen, TopUps):
        return chosen
    if chosen == "none" or (chosen is None and not source.offline):
        return None
    month = Month.parse(f"{as_of:%Y-%m}")
    ledgers = [source.ledger(month.shift(-k)).ledger for k in (3, 2, 1)]
    ledger = pd.concat([x for x in ledgers if len(x)], ignore_index=True) if ledgers else None
    return detect_topups(ledger, as_of=as_of) if ledger is not None else None


def account_status(
    source: Source,
    settings: ReportSettings | None = None,
    *,
    warn_at: float | None = 80.0,
    fail_at: float | None = None,
    min_runway_days: float | None = None,
) -> StatusReport:
    """Plan, balance and this month so far against the plan limit and every budget, with the
    projection and its intervals, the quarter and the fiscal year projected to their ends
    (the settings' fiscal calendar), the runway (with and without recurring top-ups) and the
    thresholds (percent; days for the runway) crossed, as of the source's time."""
    from generect_reports.analysis.budget import budget_status, check_thresholds
    from generect_reports.analysis.forecast import (
        month_forecast,
        period_forecasts,
        runway_with_topups,
    )

    settings = settings or ReportSettings()
    account = source.account()
    as_of = pd.Timestamp(account.fetched_at).tz_convert(source.timezone)
    today = as_of.date()
    month = Month.parse(f"{today:%Y-%m}")
    first = month.shift(-STATUS_HISTORY_MONTHS).first_day - dt.timedelta(days=STATUS_LOOKBACK_DAYS)
    usage = source.usage(first, today, period="day")
    forecast = month_forecast(
        usage, as_of=as_of, lookback_days=STATUS_LOOKBACK_DAYS, months=STATUS_ACCURACY_MONTHS
    )
    frame = budget_status(
        usage,
        str(month),
        limit=account.monthly_limit,
        budgets=settings.budgets,
        balance=account.balance,
        as_of=as_of,
        spread={level: forecast.remaining_factors(level) for level in (0.80, 0.95)},
    )
    checks = check_thresholds(
        frame, warn_at=warn_at, fail_at=fail_at, min_runway_days=min_runway_days
    )
    topups = _status_topups(source, settings, as_of)
    runway = runway_with_topups(
        float(account.balance), float(frame.attrs["daily_burn"]), as_of.date(), topups
    )
    client = getattr(source, "client", None)
    account_id = str(getattr(client, "account_key", None) or source.kind)
    return StatusReport(
        frame,
        account,
        checks,
        source.timezone,
        forecast=forecast,
        topups=topups,
        runway_topups=runway,
        account_id=account_id,
        min_runway_days=min_runway_days,
        money=_status_money(source, settings, frame, as_of),
        periods=period_forecasts(
            usage, calendar=settings.calendar, as_of=as_of, lookback_days=STATUS_LOOKBACK_DAYS
        ),
    )


def _status_money(
    source: Source, settings: ReportSettings, frame: pd.DataFrame, as_of: pd.Timestamp
) -> StatusMoney | None:
    """Booked cost so far and projected, when ``[money]`` (or the source) values the credits:
    the month's settled charges and pending accrual as of ``as_of``, and the projected credits
    still to come valued from the lots they will consume."""
    import math

    from generect_reports.money import to_hundredths
    from generect_reports.reports.valuation import money_for, value_months

    money = money_for(source, settings.money)
    if not money.configured:
        return None
    month = f"{as_of:%Y-%m}"
    valued = value_months(source, month, money, template=settings.template, until=as_of)
    mv = valued.month(month)
    used = float(frame.attrs.get("used_credits", 0.0))
    projected = frame.attrs.get("projected_credits")
    projected_cost = None
    over_h, over_cost, over_basis = 0, None, ""
    if projected is not None and not math.isnan(float(projected)):
        extra = max(int(to_hundredths([float(projected) - used])[0]), 0)
        ahead = mv.pending_hundredths + extra
        projected_cost = mv.consumed_cents + valued.cost_of(ahead)
        limits = frame[frame["kind"] == "limit"]
        if len(limits) and not pd.isna(limits["threshold"].iloc[0]):
            limit = float(limits["threshold"].iloc[0])
            over_h = max(int(to_hundredths([float(projected) - limit])[0]), 0)
            if money.overage_rate is not None:
                from generect_reports.money import cost_cents

                over_cost = cost_cents(over_h, money.overage_rate)
                over_basis = f"contract overage rate {money.overage_rate} per credit"
            else:
                # The last credits of the projection are the ones above the limit.
                over_cost = valued.cost_of(ahead) - valued.cost_of(max(ahead - over_h, 0))
                over_basis = "the rate of the prepaid lots they will consume"
    return StatusMoney(
        valued.currency,
        mv.booked_cents,
        projected_cost,
        mv.consumed_cents,
        mv.pending_accrual_cents,
        mv.closing_cents,
        f"{valued.policy} of {valued.basis}",
        over_h,
        over_cost,
        over_basis,
    )
