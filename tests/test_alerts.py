"""Alerts that speak once: the state machine on hand-made crossings, a month of hourly runs on
the sample against a real webhook receiver and a real state file, two runs at once, a corrupt
state file, and --notify-test."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import test_notify as TN
from support import run_cli

from generect_reports.deliver.alerts import (
    STATE_FILE,
    Alert,
    alert_once,
    digest_once,
    open_state,
    plan_events,
)
from generect_reports.deliver.webhook import webhook_urls
from generect_reports.fetch.sample import SampleSource
from generect_reports.reports.assemble import account_status

receiver = TN.receiver  # the webhook receiver fixture


def _kinds(events):
    return [(e.kind, e.line, e.level) for e in events]


def test_the_state_machine_speaks_once_per_change():
    warn = Alert("plan limit", 30000, "warn", "plan limit projected at 97%")
    fail = Alert("plan limit", 30000, "fail", "plan limit projected at 101%")
    said: dict = {}
    steps = [
        ([warn], [("crossing", "plan limit", "warn")]),
        ([warn], []),  # no repeat
        ([fail], [("escalation", "plan limit", "fail")]),
        ([fail], []),
        ([warn], []),  # back to warn: remembered, not said
        ([fail], [("escalation", "plan limit", "fail")]),  # a new escalation is said
        ([], [("recovery", "plan limit", "ok")]),
        ([], []),
    ]
    for current, expected in steps:
        events, said = plan_events(said, "acct", "2026-07", current)
        assert _kinds(events) == expected
    # A new period re-arms: the same crossing in August is said again; July's is forgotten.
    events, said = plan_events(said, "acct", "2026-07", [warn])
    events, said = plan_events(said, "acct", "2026-08", [warn])
    assert _kinds(events) == [("crossing", "plan limit", "warn")]
    assert {v["period"] for v in said.values()} == {"2026-08"}
    # Keyed by account and threshold: another account, or a new limit, is a new alert.
    other, said = plan_events(said, "other", "2026-08", [warn])
    assert _kinds(other) == [("crossing", "plan limit", "warn")]
    raised = Alert("plan limit", 40000, "warn", "plan limit projected at 80%")
    events, said = plan_events(said, "acct", "2026-08", [raised])
    assert _kinds(events) == [("crossing", "plan limit", "warn")]  # the old one is not recovered
    assert sorted(v["account"] for v in said.values()) == ["acct", "other"]


@pytest.mark.slow
def test_a_month_of_hourly_runs_posts_once_per_crossing_escalation_and_recovery(receiver, tmp_path):
    """July 2026 of the sample with --warn-at 97 --fail-at 97.7, every hour: the projection
    crosses 97% on the 8th, 97.7% on the 15th, falls back to warn on the 16th (quiet), below
    97% on the 18th, and crosses again on the 21st; 1 August starts a new period."""
    hooks = webhook_urls([receiver.url()], env="")
    state = tmp_path / "state"
    said: list[tuple[str, str, str]] = []
    for day in pd.date_range("2026-07-01", "2026-08-01"):
        # The status only changes when a day completes: computed once, run 24 times.
        status = account_status(
            SampleSource(as_of=day + pd.Timedelta(minutes=30)), warn_at=97.0, fail_at=97.7
        )
        for _hour in range(24):
            before = len(receiver.posts)
            outcome = alert_once(hooks, status, state_dir=state)
            assert outcome.error is None and not outcome.rebuilt
            assert len(receiver.posts) - before == (1 if outcome.events else 0)
            said += [(str(day.date()), e.kind, e.level) for e in outcome.events]
    assert said == [
        ("2026-07-08", "crossing", "warn"),
        ("2026-07-15", "escalation", "fail"),
        ("2026-07-18", "recovery", "ok"),
        ("2026-07-21", "crossing", "warn"),
    ]
    texts = [p["body"]["text"] for p in receiver.posts]
    assert len(texts) == 4
    assert texts[0].startswith("*Generect credits 2026-07: 1 threshold(s) crossed (sample")
    assert "plan limit projected at 97.1% of 30,000 credits (--warn-at 97%)" in texts[0]
    assert texts[1].startswith("*Generect credits 2026-07: 1 escalated to fail (sample")
    assert "• escalated: plan limit projected at 97.8%" in texts[1]
    assert texts[2] == (
        "*Generect credits 2026-07: all clear (sample account)*\n"
        "• all clear: plan limit now at 96.9%"
    )
    stored = json.loads((state / STATE_FILE).read_text())
    assert stored["alerts"] == {}  # August has nothing crossed; July is forgotten
    assert (state / STATE_FILE).stat().st_mode & 0o077 == 0


def _cron(receiver_url: str, state: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "GENERECT_REPORTS_STATE_DIR": str(state)}
    return subprocess.Popen(
        [sys.executable, "-m", "generect_reports", "status", "--sample", "--notify", receiver_url],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_two_runs_at_once_alert_once(receiver, tmp_path):
    state = tmp_path / "state"
    runs = [_cron(receiver.url(), state), _cron(receiver.url(), state)]
    outs = [r.communicate(timeout=300) for r in runs]
    assert [r.returncode for r in runs] == [0, 0], outs
    assert len(receiver.posts) == 1
    assert sum("posted the alert" in err for _, err in outs) == 1


def test_a_corrupt_state_file_is_rebuilt_and_the_next_run_alerts_again(receiver):
    state = Path(os.environ["GENERECT_REPORTS_STATE_DIR"])
    first = run_cli("status", "--sample", "--notify", receiver.url())
    assert first.returncode == 0 and len(receiver.posts) == 1
    again = run_cli("status", "--sample", "--notify", receiver.url())
    assert again.returncode == 0 and len(receiver.posts) == 1  # nothing new
    (state / STATE_FILE).write_bytes(b'{"version": 1, "alerts": [tru')
    rebuilt = run_cli("status", "--sample", "--notify", receiver.url())
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert "warning: the alert state was corrupt or unreadable: rebuilt" in rebuilt.stderr
    assert len(receiver.posts) == 2 and receiver.posts[1]["body"] == receiver.posts[0]["body"]
    assert len(json.loads((state / STATE_FILE).read_text())["alerts"]) == 1


def test_an_unreadable_state_file_is_rebuilt(tmp_path):
    (tmp_path / STATE_FILE).mkdir()  # unreadable as a file, whoever runs the test
    with open_state(tmp_path) as state:
        assert state.rebuilt and state.said == {}


def test_a_failed_post_is_not_remembered(receiver):
    receiver.statuses = [404]
    failed = run_cli("status", "--sample", "--notify", receiver.url())
    assert failed.returncode == 4 and len(receiver.posts) == 1
    retried = run_cli("status", "--sample", "--notify", receiver.url())
    assert retried.returncode == 0 and len(receiver.posts) == 2


def test_notify_test_posts_exactly_one_message_whatever_the_thresholds(receiver):
    out = run_cli(
        "status", "--sample", "--fail-at", "1", "--notify-test", "--notify", receiver.url()
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout == "" and "posted a test message to 1 webhook(s)" in out.stderr
    assert [p["body"] for p in receiver.posts] == [
        {
            "text": "*Generect reports: test message*\n• status --notify-test: threshold alerts "
            "from generect-reports will be posted here"
        }
    ]
    assert not (Path(os.environ["GENERECT_REPORTS_STATE_DIR"]) / STATE_FILE).exists()
    missing = run_cli("status", "--sample", "--notify-test")
    assert missing.returncode == 2 and "--notify-test needs a webhook" in missing.stderr


def test_a_state_folder_that_cannot_be_made_is_a_delivery_error(tmp_path):
    from generect_reports.errors import DeliveryError

    blocker = tmp_path / "file"
    blocker.write_text("x")
    with (
        pytest.raises(DeliveryError, match="cannot create the alert state folder"),
        open_state(blocker / "state"),
    ):
        pass


def test_the_digest_is_sent_when_something_changed_or_once_a_day(receiver, tmp_path):
    import datetime as dt

    hooks = webhook_urls([receiver.url(), receiver.url(TN.TEAMS_PATH)], env="")
    state = tmp_path / "state"
    noon = dt.datetime(2026, 10, 12, 12, tzinfo=dt.UTC)
    status = account_status(SampleSource(as_of="2026-10-12T09:00"), warn_at=80.0)

    def digest(at, st=status):
        return digest_once(hooks, st, every=24.0, now=at, state_dir=state)

    assert digest(noon).sent == 2
    slack, teams = (p["body"] for p in receiver.posts)
    assert [b["type"] for b in slack["blocks"]] == ["header", "section", "section"]
    assert slack["blocks"][0]["text"]["text"] == "Generect credits 2026-10 so far (sample account)"
    fields = [f["text"] for f in slack["blocks"][1]["fields"]]
    assert fields[:2] == [
        "*Used*\n10,936 credits (11 of 31 days)",
        "*Projected month end*\n31,686 credits (80% interval 31,299–32,866)",
    ]
    assert (
        fields[-1] == "*With top-ups*\n34,000 credits every month (detected in the ledger): "
        "the balance never runs out at this burn"
    )
    assert "plan limit projected at 105.6%" in slack["blocks"][2]["text"]["text"]
    assert slack["text"].startswith("*Generect credits 2026-10 so far (sample account)*")
    card = teams["attachments"][0]["content"]
    assert card["body"][1]["type"] == "FactSet"
    assert card["body"][1]["facts"][0] == {
        "title": "Used",
        "value": "10,936 credits (11 of 31 days)",
    }
    # Unchanged an hour later: nothing; a day later: again; a new complete day: at once.
    assert digest(noon + dt.timedelta(hours=1)).sent == 0 and len(receiver.posts) == 2
    assert digest(noon + dt.timedelta(hours=24)).sent == 2 and len(receiver.posts) == 4
    next_day = account_status(SampleSource(as_of="2026-10-13T09:00"), warn_at=80.0)
    assert digest(noon + dt.timedelta(hours=25), next_day).sent == 2
    assert len(receiver.posts) == 6


def test_status_digest_from_the_command_line(receiver):
    args = ("status", "--sample", "--warn-at", "200", "--digest", "--notify", receiver.url())
    first = run_cli(*args)
    assert first.returncode == 0, first.stderr
    assert "posted the digest to 1 webhook(s)" in first.stderr and len(receiver.posts) == 1
    assert receiver.posts[0]["body"]["blocks"][2]["text"]["text"] == "• no threshold crossed"
    again = run_cli(*args)
    assert again.returncode == 0 and len(receiver.posts) == 1  # nothing changed within a day
    missing = run_cli("status", "--sample", "--digest")
    assert missing.returncode == 2 and "--digest needs a webhook" in missing.stderr


def test_a_run_waits_for_the_lock_then_gives_up_with_one_line(tmp_path):
    from generect_reports.errors import DeliveryError

    with open_state(tmp_path) as state:
        state.save({})
        with (
            pytest.raises(DeliveryError, match="locked by another run for more than 0.2s"),
            open_state(tmp_path, timeout=0.2),
        ):
            pass
    with open_state(tmp_path, timeout=0.2) as again:  # released: the next run goes ahead
        assert again.said == {} and not again.rebuilt
