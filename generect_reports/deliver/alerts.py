"""Alerts that speak once: what was already said, kept in a small state file.

A cron job that runs ``status --notify`` every hour must not post the same message every hour.
The alerts already posted are kept in ``alerts.json`` in the platform's user *state* folder
(``$GENERECT_REPORTS_STATE_DIR`` overrides it), never in the cache, which may be cleared. Each
is keyed by account, line, threshold and period (the month), with the level it was posted at:

- a crossing alerts once; an escalation (warn → fail) alerts again; a fall back from fail to
  warn is remembered silently, so a new escalation alerts again;
- a recovery (the line no longer crosses) sends a short all-clear and forgets the alert;
- alerts of an earlier period are forgotten silently: a new month re-arms them.

The file is locked for the whole read → post → write, so two runs at once cannot both alert;
it is written atomically, and only once the message was delivered (a failed post is tried again
by the next run). A corrupt or unreadable file is rebuilt: the next run alerts again rather
than never. The file holds no webhook URL and no token: the account is a one-way key.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from generect_reports.deliver.webhook import Webhook
    from generect_reports.reports.accounts import AcrossAccounts
    from generect_reports.reports.assemble import StatusReport

from generect_reports._atomic import private_file, private_folder, write_bytes_atomic
from generect_reports.errors import DeliveryError, GenerectError

__all__ = [
    "STATE_ENV",
    "STATE_FILE",
    "Alert",
    "AlertEvent",
    "AlertState",
    "default_state_dir",
    "open_state",
    "plan_events",
    "Outcome",
    "alert_once",
    "alert_once_across",
    "DIGEST_FILE",
    "digest_once",
    "digest_once_across",
]

log = logging.getLogger(__name__)

STATE_ENV = "GENERECT_REPORTS_STATE_DIR"
STATE_FILE = "alerts.json"
DIGEST_FILE = "digests.json"
_VERSION = 1
_LEVELS = {"warn": 1, "fail": 2}


def default_state_dir() -> Path:
    """``$GENERECT_REPORTS_STATE_DIR`` or the platform's user state folder."""
    override = os.environ.get(STATE_ENV)
    if override:
        return Path(override)
    from platformdirs import user_state_dir

    return Path(user_state_dir("generect-reports", appauthor=False))


@dataclass(frozen=True)
class Alert:
    """A threshold crossed now: the ``line`` (or 'balance runway'), its ``threshold`` (credits,
    USD or days), the ``level`` (``warn``/``fail``) and the crossing in words."""

    line: str
    threshold: float
    level: str
    text: str


@dataclass(frozen=True)
class AlertEvent:
    """What a run has to say: ``crossing``, ``escalation`` or ``recovery`` of ``line``."""

    kind: str
    line: str
    level: str
    text: str


def _key(account: str, line: str, threshold: float, period: str) -> str:
    return json.dumps([account, line, round(float(threshold), 2), period])


def plan_events(
    said: dict[str, dict[str, Any]], account: str, period: str, current: Sequence[Alert]
) -> tuple[list[AlertEvent], dict[str, dict[str, Any]]]:
    """The events of this run and the state to keep once they are delivered (pure).

    ``said`` maps keys to ``{"account", "line", "threshold", "period", "level"}``; entries of
    other accounts are kept as they are.
    """
    keep = {k: v for k, v in said.items() if v.get("account") != account}
    mine = {k: v for k, v in said.items() if v.get("account") == account}
    events: list[AlertEvent] = []
    seen: set[str] = set()
    for alert in current:
        key = _key(account, alert.line, alert.threshold, period)
        seen.add(key)
        before = mine.get(key)
        entry = {
            "account": account,
            "line": alert.line,
            "threshold": round(float(alert.threshold), 2),
            "period": period,
            "level": alert.level,
        }
        if before is None:
            events.append(AlertEvent("crossing", alert.line, alert.level, alert.text))
        elif _LEVELS.get(alert.level, 0) > _LEVELS.get(str(before.get("level")), 0):
            events.append(AlertEvent("escalation", alert.line, alert.level, alert.text))
        keep[key] = entry
    lines = {alert.line for alert in current}
    for key, entry in mine.items():
        if key in seen or entry.get("period") != period or entry.get("line") in lines:
            # Still crossed; an earlier period (re-armed); or the same line crossed at a new
            # threshold (said as its own crossing): forgotten silently.
            continue
        events.append(AlertEvent("recovery", str(entry.get("line")), "ok", ""))
    return events, keep


@contextlib.contextmanager
def _locked(path: Path, timeout: float) -> Iterator[None]:
    """An exclusive lock on a file beside the state, shared by every run on this machine."""
    from filelock import FileLock, Timeout

    try:
        with FileLock(str(path), timeout=timeout):
            yield
    except Timeout:
        raise DeliveryError(
            f"the alert state is locked by another run for more than {timeout:g}s: {path}"
        ) from None


@dataclass
class AlertState:
    """The alert state, read under the lock (see :func:`open_state`). ``rebuilt`` is True when
    the file was corrupt or unreadable and starts empty again."""

    path: Path
    said: dict[str, dict[str, Any]] = field(default_factory=dict)
    rebuilt: bool = False

    def events(
        self, account: str, period: str, current: Sequence[Alert]
    ) -> tuple[list[AlertEvent], dict[str, dict[str, Any]]]:
        return plan_events(self.said, account, period, current)

    def save(self, said: dict[str, dict[str, Any]]) -> None:
        """Write ``said`` atomically (a damaged file is replaced)."""
        data = json.dumps({"version": _VERSION, "alerts": said}, indent=1, sort_keys=True)
        try:
            write_bytes_atomic(self.path, data.encode("utf-8"))
        except GenerectError:
            # A write-protected, unreadable file is rebuilt, not kept: remove it and write anew.
            with contextlib.suppress(OSError):
                self.path.unlink()
            write_bytes_atomic(self.path, data.encode("utf-8"))
        private_file(self.path)
        self.said = said


def _read(path: Path) -> tuple[dict[str, dict[str, Any]], bool]:
    """The saved alerts and whether the file had to be rebuilt (corrupt or unreadable)."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return {}, False
    except OSError as exc:
        log.warning("the alert state %s is unreadable (%s): rebuilt", path, type(exc).__name__)
        return {}, True
    try:
        doc = json.loads(raw.decode("utf-8"))
        alerts = doc["alerts"]
        if doc.get("version") != _VERSION or not isinstance(alerts, dict):
            raise ValueError("unknown layout")
        if not all(isinstance(v, dict) for v in alerts.values()):
            raise ValueError("unknown entry")
    except (ValueError, KeyError, TypeError, UnicodeDecodeError):
        log.warning("the alert state %s is corrupt: rebuilt", path)
        return {}, True
    return alerts, False


@contextlib.contextmanager
def open_state(
    directory: str | os.PathLike[str] | None = None, *, timeout: float = 60.0
) -> Iterator[AlertState]:
    """The alert state, locked until the block ends (another run waits up to ``timeout``
    seconds, then :class:`DeliveryError`)."""
    folder = Path(directory) if directory is not None else default_state_dir()
    try:
        private_folder(folder)
    except OSError as exc:
        raise DeliveryError(
            f"cannot create the alert state folder {folder}: {exc.strerror}"
        ) from exc
    path = folder / STATE_FILE
    with _locked(folder / (STATE_FILE + ".lock"), timeout):
        said, rebuilt = _read(path)
        yield AlertState(path, said, rebuilt)


@dataclass(frozen=True)
class Outcome:
    """What :func:`alert_once` did: the ``events`` it had to say, the webhooks ``sent`` to,
    whether the state was ``rebuilt``, and the delivery ``error`` (the state then unchanged)."""

    events: list[AlertEvent]
    sent: int
    rebuilt: bool
    error: GenerectError | None = None


def alert_once(
    hooks: Sequence[Webhook],
    status: StatusReport,
    *,
    state_dir: str | os.PathLike[str] | None = None,
    lock_timeout: float = 60.0,
    **post: Any,
) -> Outcome:
    """Post what ``status`` has to say that was not said before, to every webhook, and
    remember it: the whole under the state's lock (module doc). A delivery failure is
    returned, not raised, with the state left as it was."""
    from generect_reports.deliver.webhook import notify
    from generect_reports.render.budget import alert_events_message

    current = [Alert(*line) for line in status.alert_lines()]
    with open_state(state_dir, timeout=lock_timeout) as state:
        events, said = state.events(status.account_id, status.frame.attrs["month"], current)
        sent = 0
        if events:
            title, lines = alert_events_message(status.frame, status.account, events)
            try:
                sent = notify(hooks, title, lines, **post)
            except GenerectError as exc:
                return Outcome(events, 0, state.rebuilt, exc)
        state.save(said)
        return Outcome(events, sent, state.rebuilt)


def alert_once_across(
    hooks: Sequence[Webhook],
    across: AcrossAccounts[StatusReport],
    *,
    state_dir: str | os.PathLike[str] | None = None,
    lock_timeout: float = 60.0,
    **post: Any,
) -> Outcome:
    """:func:`alert_once` for many accounts: what each account has to say that was not said
    before (the state keyed per account, so each still speaks once), posted as ONE message
    naming every account, and remembered for all of them; the whole under the state's lock."""
    from generect_reports.deliver.webhook import notify
    from generect_reports.render.budget import alert_events_message

    with open_state(state_dir, timeout=lock_timeout) as state:
        said = state.said
        events: list[AlertEvent] = []
        parts: list[tuple[str, str, list[str]]] = []
        for name, status in across.results.items():
            current = [Alert(*line) for line in status.alert_lines()]
            mine, said = plan_events(said, status.account_id, status.frame.attrs["month"], current)
            if mine:
                events += mine
                title, lines = alert_events_message(status.frame, status.account, mine)
                parts.append((across.label(name), title, lines))
        sent = 0
        if events:
            month = next(iter(across.results.values())).frame.attrs["month"]
            names = ", ".join(label for label, _, _ in parts)
            title = f"Generect credits {month}: {len(parts)} account(s) to look at ({names})"
            if not across.complete:
                title += f" [{across.note}]"
            lines = [f"{label}: {text}" for label, head, body in parts for text in (head, *body)]
            try:
                sent = notify(hooks, title, lines, **post)
            except GenerectError as exc:
                return Outcome(events, 0, state.rebuilt, exc)
        state.save(said)
        return Outcome(events, sent, state.rebuilt)


def _digest_fingerprint(status: StatusReport) -> str:
    """What makes a digest new: the month, its complete days, and the crossings."""
    import hashlib

    a = status.frame.attrs
    text = json.dumps([a["month"], a["elapsed_days"], [[c.level, c.line] for c in status.checks]])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _read_digests(folder: Path) -> tuple[dict[str, Any], bool]:
    """The digests sent (by account) and whether their file had to be rebuilt."""
    path = folder / DIGEST_FILE
    try:
        saved = json.loads(path.read_text(encoding="utf-8"))
        return (saved["digests"] if isinstance(saved.get("digests"), dict) else {}), False
    except FileNotFoundError:
        return {}, False
    except (OSError, ValueError, AttributeError, KeyError, TypeError):
        return {}, True


def _digest_due(last: Mapping[str, Any], status: StatusReport, at: Any, every: float) -> bool:
    """Whether ``status`` has something new for its account's digest, or ``every`` hours
    passed since the last one."""
    import datetime as dt

    mine = last.get(status.account_id)
    if not isinstance(mine, dict) or mine.get("fingerprint") != _digest_fingerprint(status):
        return True
    try:
        sent_at = dt.datetime.fromisoformat(str(mine.get("sent_at")))
        return (at - sent_at).total_seconds() >= every * 3600
    except (TypeError, ValueError):
        return True


def _save_digests(folder: Path, last: Mapping[str, Any]) -> None:
    path = folder / DIGEST_FILE
    data = json.dumps({"version": _VERSION, "digests": dict(last)}, indent=1, sort_keys=True)
    write_bytes_atomic(path, data.encode("utf-8"))
    private_file(path)


def _post_digest(
    hooks: Sequence[Webhook],
    title: str,
    facts: Sequence[tuple[str, str]],
    lines: Sequence[str],
    **post: Any,
) -> int:
    from generect_reports.deliver.webhook import post_all
    from generect_reports.render.chat import slack_digest, teams_digest

    return post_all(
        hooks,
        lambda hook: (
            teams_digest(title, facts, lines)
            if hook.kind == "teams"
            else slack_digest(title, facts, lines)
        ),
        **post,
    )


def digest_once(
    hooks: Sequence[Webhook],
    status: StatusReport,
    *,
    every: float = 24.0,
    now: Any = None,
    state_dir: str | os.PathLike[str] | None = None,
    lock_timeout: float = 60.0,
    **post: Any,
) -> Outcome:
    """Post the month-so-far digest when something changed since the last one (a day completed,
    a crossing came or went) or ``every`` hours have passed; remember when. ``now`` is the
    wall-clock instant (default now). The digest's state sits beside the alert state, under
    the same lock."""
    import datetime as dt

    from generect_reports.render.budget import digest_message

    at = dt.datetime.now(dt.UTC) if now is None else now
    folder = Path(state_dir) if state_dir is not None else default_state_dir()
    with open_state(folder, timeout=lock_timeout) as state:
        last, rebuilt = _read_digests(folder)
        if not _digest_due(last, status, at, every):
            return Outcome([], 0, rebuilt or state.rebuilt)
        title, facts, lines = digest_message(
            status.frame,
            status.account,
            status.checks,
            forecast=status.forecast,
            topups=status.topups,
            runway_topups=status.runway_topups,
        )
        try:
            sent = _post_digest(hooks, title, facts, lines, **post)
        except GenerectError as exc:
            return Outcome([], 0, rebuilt, exc)
        last[status.account_id] = {
            "fingerprint": _digest_fingerprint(status),
            "sent_at": at.isoformat(),
        }
        _save_digests(folder, last)
        event = AlertEvent("digest", "", "", title)
        return Outcome([event], sent, rebuilt or state.rebuilt)


def digest_once_across(
    hooks: Sequence[Webhook],
    across: AcrossAccounts[StatusReport],
    *,
    every: float = 24.0,
    now: Any = None,
    state_dir: str | os.PathLike[str] | None = None,
    lock_timeout: float = 60.0,
    **post: Any,
) -> Outcome:
    """:func:`digest_once` for many accounts: ONE digest naming every account (its figures,
    then each account's crossings), posted when any account has something new or ``every``
    hours passed since its last digest. What was said is kept per account, so a repeated run
    with nothing new stays silent."""
    import datetime as dt

    from generect_reports.render.budget import digest_across_message

    at = dt.datetime.now(dt.UTC) if now is None else now
    folder = Path(state_dir) if state_dir is not None else default_state_dir()
    with open_state(folder, timeout=lock_timeout) as state:
        last, rebuilt = _read_digests(folder)
        statuses = list(across.results.values())
        if not any(_digest_due(last, status, at, every) for status in statuses):
            return Outcome([], 0, rebuilt or state.rebuilt)
        title, facts, lines = digest_across_message(across)
        try:
            sent = _post_digest(hooks, title, facts, lines, **post)
        except GenerectError as exc:
            return Outcome([], 0, rebuilt, exc)
        for status in statuses:
            last[status.account_id] = {
                "fingerprint": _digest_fingerprint(status),
                "sent_at": at.isoformat(),
            }
        _save_digests(folder, last)
        return Outcome([AlertEvent("digest", "", "", title)], sent, rebuilt or state.rebuilt)
