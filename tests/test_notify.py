"""Chat alerts against a real local webhook receiver (http.server on 127.0.0.1): one post per
crossing run, the exact Slack and Teams payloads, retries, and webhook URLs kept secret."""

from __future__ import annotations

import json
import os
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from fakeapi import TOKEN
from support import run_cli

from generect_reports.deliver.webhook import (
    Webhook,
    check_webhook_url,
    is_teams_url,
    notify,
    post_webhook,
    webhook_urls,
)
from generect_reports.errors import DeliveryError, InputError
from generect_reports.render.chat import slack_payload, teams_payload

HOOK_CANARY = "hook-canary-5e1d07b2c4a9"
SLACK_PATH = f"/services/T000/B000/{HOOK_CANARY}"
TEAMS_PATH = (
    f"/workflows/{HOOK_CANARY}/triggers/manual/paths/invoke?api-version=1&sig={HOOK_CANARY}"
)

SAMPLE_TITLE = "Generect credits 2026-11: 1 threshold(s) crossed (sample account)"
SAMPLE_LINES = [
    "plan limit projected at 105.4% of 30,000 credits (--warn-at 80%), reaches it on 2026-11-29",
    "balance 93,862.27 credits, runway 87.8 days (runs out 2027-01-27; "
    "80% range 2027-01-19 to 2027-01-30)",
]


class Receiver:
    """A webhook endpoint: records every POST, answers with the next queued status (then 200)."""

    def __init__(self) -> None:
        self.posts: list[dict[str, Any]] = []
        self.statuses: list[int] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.posts.append(
                    {
                        "path": self.path,
                        "body": json.loads(body),
                        "type": self.headers.get("Content-Type"),
                    }
                )
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                answer = b"ok" if status == 200 else b"error"
                self.send_response(status)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        # A short poll: shutdown() waits up to one poll interval, at every test's teardown.
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        ).start()

    def url(self, path: str = SLACK_PATH) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.stop()


def test_payload_shapes():
    assert slack_payload("T", ["a", "b"]) == {"text": "*T*\n• a\n• b"}
    card = teams_payload("T", ["a"])
    assert card["type"] == "message"
    attachment = card["attachments"][0]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    assert (
        attachment["content"]["type"] == "AdaptiveCard"
        and attachment["content"]["version"] == "1.4"
    )
    assert [b["text"] for b in attachment["content"]["body"]] == ["T", "- a"]


def test_teams_urls_are_recognised():
    assert is_teams_url(
        "https://prod-12.westeurope.logic.azure.com:443/workflows/x/triggers/manual/paths/invoke"
    )
    assert is_teams_url("https://default1.environment.api.powerplatform.com/powerautomate/x")
    assert is_teams_url("https://contoso.webhook.office.com/webhookb2/x")
    assert not is_teams_url("https://hooks.slack.com/services/T/B/x")
    assert is_teams_url("http://127.0.0.1:8080/workflows/abc/triggers/manual/paths/invoke?sig=s")


@pytest.mark.parametrize(
    "url, fragment",
    [
        (f"http://chat.example.com/{HOOK_CANARY}", "must use https"),
        (f"http://hooks.localhost/{HOOK_CANARY}", "must use https"),
        (f"ftp://chat.example.com/{HOOK_CANARY}", "not a valid https://"),
        (f"https://user:{HOOK_CANARY}@chat.example.com/x", "credentials"),
        (f"https://chat.example.com/{HOOK_CANARY} x", "whitespace"),
    ],
)
def test_bad_webhook_urls_are_refused_without_echo(url, fragment):
    with pytest.raises(InputError) as info:
        check_webhook_url(url, "--notify 1")
    assert fragment in str(info.value) and HOOK_CANARY not in str(info.value)


def test_webhook_repr_hides_the_url():
    hook = webhook_urls([f"https://hooks.slack.com/services/{HOOK_CANARY}"], env="")[0]
    assert HOOK_CANARY not in repr(hook) + str(hook) and hook.name == "webhook 1 of 1 (slack)"


def test_retry_after_a_500(receiver):
    receiver.statuses = [500]
    waits: list[float] = []
    hook = Webhook(receiver.url(), 1, 1)
    assert post_webhook(hook, {"text": "x"}, sleep=waits.append) == 2
    assert len(receiver.posts) == 2 and len(waits) == 1
    assert receiver.posts[0]["body"] == receiver.posts[1]["body"] == {"text": "x"}


def test_client_errors_are_not_retried_and_the_url_stays_secret(receiver):
    receiver.statuses = [404]
    with pytest.raises(DeliveryError) as info:
        post_webhook(Webhook(receiver.url(), 1, 1), {"text": "x"}, sleep=lambda s: None)
    assert len(receiver.posts) == 1
    assert str(info.value) == "webhook 1 of 1 (slack): HTTP 404"
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_bounded_retries_and_unreachable_webhook(receiver):
    receiver.statuses = [503] * 10
    with pytest.raises(DeliveryError, match="HTTP 503 after 4 attempts"):
        post_webhook(Webhook(receiver.url(), 1, 1), {"text": "x"}, sleep=lambda s: None)
    assert len(receiver.posts) == 4
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(DeliveryError) as info:
        post_webhook(
            Webhook(f"http://127.0.0.1:{port}{SLACK_PATH}", 2, 2),
            {"text": "x"},
            sleep=lambda s: None,
            max_attempts=2,
        )
    assert "webhook 2 of 2 (slack): connection failed" in str(info.value)
    assert HOOK_CANARY not in str(info.value) and str(port) not in str(info.value)


def test_every_webhook_is_tried(receiver):
    receiver.statuses = [400]
    hooks = webhook_urls([receiver.url(), receiver.url(TEAMS_PATH)], env="")
    with pytest.raises(DeliveryError, match="1 of 2 webhook"):
        notify(hooks, "T", ["a"], sleep=lambda s: None)
    assert [p["body"] for p in receiver.posts] == [
        slack_payload("T", ["a"]),
        teams_payload("T", ["a"]),
    ]


def test_status_posts_one_message_with_the_exact_slack_payload(receiver):
    out = run_cli("status", "--sample", "--notify", receiver.url())
    assert out.returncode == 0, out.stderr
    assert len(receiver.posts) == 1
    post = receiver.posts[0]
    assert post["path"] == SLACK_PATH and post["type"] == "application/json; charset=utf-8"
    assert post["body"] == {"text": f"*{SAMPLE_TITLE}*\n• {SAMPLE_LINES[0]}\n• {SAMPLE_LINES[1]}"}
    assert "posted the alert to 1 webhook(s)" in out.stderr


def test_status_posts_an_adaptive_card_to_teams(receiver):
    out = run_cli(
        "status",
        "--sample",
        "--fail-at",
        "100",
        env={"GENERECT_NOTIFY_URL": receiver.url(TEAMS_PATH)},
    )
    assert out.returncode == 5, out.stderr
    assert len(receiver.posts) == 1
    lines = [SAMPLE_LINES[0].replace("--warn-at 80%", "--fail-at 100%"), SAMPLE_LINES[1]]
    assert receiver.posts[0]["body"] == teams_payload(SAMPLE_TITLE, lines)
    assert receiver.posts[0]["body"]["attachments"][0]["content"]["body"][1] == {
        "type": "TextBlock",
        "text": f"- {lines[0]}",
        "wrap": True,
    }


def test_status_retries_a_500_then_delivers(receiver):
    receiver.statuses = [500]
    out = run_cli("status", "--sample", "--notify", receiver.url())
    assert out.returncode == 0, out.stderr
    assert len(receiver.posts) == 2 and receiver.posts[0]["body"] == receiver.posts[1]["body"]


def test_no_post_when_nothing_is_crossed(receiver):
    out = run_cli("status", "--sample", "--warn-at", "120", "--notify", receiver.url())
    assert out.returncode == 0 and out.stderr == "" and receiver.posts == []


def test_delivery_failure_is_exit_4_or_5_with_a_failed_check(receiver):
    receiver.statuses = [500] * 20
    out = run_cli(
        "status", "--sample", "--notify", receiver.url(), env={"GENERECT_API_MAX_ATTEMPTS": "2"}
    )
    assert out.returncode == 4 and "error: 1 of 1 webhook(s) failed" in out.stderr
    assert "plan limit  30,000" in out.stdout
    receiver.statuses = [500] * 20
    out = run_cli("status", "--sample", "--fail-at", "100", "--notify", receiver.url())
    assert out.returncode == 5
    assert "webhook(s) failed" in out.stderr and "check failed: plan limit" in out.stderr


def test_notify_urls_from_a_private_config_only(receiver, tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'[notify]\nurls = ["{receiver.url()}"]\n')
    os.chmod(cfg, 0o644)
    out = run_cli("status", "--sample", "--config", str(cfg))
    assert out.returncode == 2 and "chmod 600" in out.stderr and receiver.posts == []
    assert HOOK_CANARY not in out.stderr
    os.chmod(cfg, 0o600)
    out = run_cli("status", "--sample", "--config", str(cfg))
    assert out.returncode == 0, out.stderr
    assert len(receiver.posts) == 1


def test_insecure_webhook_refused_before_anything(token_env):
    out = run_cli("status", "--notify", f"http://chat.example.com/{HOOK_CANARY}")
    assert out.returncode == 2 and "--notify 1: webhook URLs must use https" in out.stderr
    assert HOOK_CANARY not in out.stderr and token_env.requests == []


def _files(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()]


def test_canary_webhook_and_token_absent_from_every_output(
    receiver, token_env, tmp_path, isolated_env
):
    """-vv against the local API, a webhook from the command line and one from the environment,
    a config file with another, JSON to a file: no secret in stdout, stderr or any file."""
    token_env.me["monthly_limit"] = 100  # 12.5 a day crosses it: the alert is posted
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'[notify]\nurls = ["{receiver.url("/cfg" + SLACK_PATH)}"]\n')
    os.chmod(cfg, 0o600)
    work = tmp_path / "out"
    work.mkdir()
    receiver.statuses = [500]  # one retry, so retry logging runs too
    for n, fmt in enumerate(("json", "table")):
        out = run_cli(
            "status",
            "-vv",
            "--config",
            str(cfg),
            "--format",
            fmt,
            "--output",
            str(work / f"status.{fmt}"),
            "--notify",
            receiver.url(),
            env={"GENERECT_NOTIFY_URL": receiver.url(TEAMS_PATH)},
            cwd=work,
        )
        assert out.returncode == 0, out.stderr
        # The second run has nothing new to say: the alert state remembers the first.
        assert "DEBUG" in out.stderr
        assert ("posted the alert to 3 webhook(s)" in out.stderr) is (n == 0)
        for text in (out.stdout, out.stderr):
            assert HOOK_CANARY not in text and TOKEN not in text
    assert len(receiver.posts) == 4  # 3 webhooks once, plus one retry
    state = Path(os.environ["GENERECT_REPORTS_STATE_DIR"])
    assert [p.name for p in _files(state)] != []
    files = _files(work) + _files(isolated_env) + _files(tmp_path) + _files(state)
    assert any(p.name == "status.json" for p in files)
    for path in files:
        if path == cfg:
            continue
        data = path.read_bytes()
        assert HOOK_CANARY.encode() not in data and TOKEN.encode() not in data, path


def test_two_crossings_are_one_message_naming_both(receiver):
    out = run_cli(
        "status",
        "--sample",
        "--fail-at",
        "100",
        "--min-runway-days",
        "120",
        "--notify",
        receiver.url(),
    )
    assert out.returncode == 5
    assert len(receiver.posts) == 1
    text = receiver.posts[0]["body"]["text"]
    assert text.startswith("*Generect credits 2026-11: 2 threshold(s) crossed (sample account)*")
    assert "plan limit projected at 105.4%" in text and "below --min-runway-days 120" in text


def _digest_of_many(accounts: int = 500) -> tuple[str, list[tuple[str, str]], list[str]]:
    title = f"Generect usage digest: {accounts} accounts, October 2026 (partial: 1 failed)"
    facts = [(f"acct{k:03d}", f"{1000 + k:,} credits, 84.2% of the limit") for k in range(accounts)]
    lines = [f"acct{k:03d}: daily credits crossed 80% of the budget 'ops'" for k in range(accounts)]
    return title, facts, lines


def test_a_digest_of_500_accounts_stays_inside_slacks_limits_and_says_what_it_left_out():
    from generect_reports.render.chat import SLACK_BLOCKS_LIMIT, SLACK_TEXT_LIMIT, slack_digest

    title, facts, lines = _digest_of_many()
    body = slack_digest(title, facts, lines)
    blocks = body["blocks"]
    assert len(blocks) <= SLACK_BLOCKS_LIMIT and len(body["text"]) <= SLACK_TEXT_LIMIT
    assert len(blocks[0]["text"]["text"]) <= 150
    texts = []
    for block in blocks[1:]:
        if "fields" in block:
            assert len(block["fields"]) <= 10
            assert all(len(f["text"]) <= 2000 for f in block["fields"])
            texts += [f["text"] for f in block["fields"]]
        elif block["type"] == "section":
            assert len(block["text"]["text"]) <= 3000
            texts += block["text"]["text"].split("\n")
    assert sum(len(t) for t in texts) <= 11_000
    shown_facts = sum(len(b.get("fields", [])) for b in blocks)
    shown_lines = sum(
        len(b["text"]["text"].split("\n")) for b in blocks if b["type"] == "section" and "text" in b
    )
    note = blocks[-1]["elements"][0]["text"]
    left = int(note.split()[0])
    assert left == len(facts) + len(lines) - shown_facts - shown_lines > 0
    assert "generect-reports status" in note
    # The notification text says the same, and never cuts a line in two.
    assert body["text"].splitlines()[-1].startswith("• ") and "more not shown" in body["text"]


def test_a_small_digest_is_whole():
    from generect_reports.render.chat import slack_digest, teams_digest

    title, facts, lines = _digest_of_many(3)
    blocks = slack_digest(title, facts, lines)["blocks"]
    assert [b["type"] for b in blocks] == ["header", "section", "section"]
    assert blocks[2]["text"]["text"].count("•") == 3
    card = teams_digest(title, facts, lines)["attachments"][0]["content"]["body"]
    assert len(card[1]["facts"]) == 3 and len(card) == 2 + 3
    assert not any("more not shown" in json.dumps(b) for b in card)


def test_teams_and_plain_slack_messages_of_500_accounts_fit_and_count_the_rest():
    from generect_reports.render.chat import (
        TEAMS_BYTES_LIMIT,
        slack_payload,
        teams_digest,
        teams_payload,
    )

    title, facts, lines = _digest_of_many()
    for card in (teams_digest(title, facts, lines), teams_payload(title, lines)):
        assert len(json.dumps(card).encode("utf-8")) <= TEAMS_BYTES_LIMIT
        body = card["attachments"][0]["content"]["body"]
        shown = [b for b in body[1:] if b["type"] == "TextBlock"]
        facts_shown = sum(len(b["facts"]) for b in body if b["type"] == "FactSet")
        left = int(shown[-1]["text"].split()[1])
        total = len(lines) + (len(facts) if facts_shown else 0)
        assert left == total - facts_shown - (len(shown) - 1) > 0
    plain = slack_payload(title, lines)["text"].splitlines()
    assert int(plain[-1].split()[1]) == len(lines) - (len(plain) - 2)
