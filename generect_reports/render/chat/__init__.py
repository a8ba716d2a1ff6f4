"""Chat messages: Slack's incoming-webhook JSON (also Mattermost and Rocket.Chat) and a Microsoft
Teams message with one Adaptive Card. Posting them is ``deliver.webhook``'s.

Every message stays inside the receiver's limits, however many accounts or crossings it names.
A message over a limit is refused whole (Slack answers ``invalid_blocks`` or
``msg_blocks_too_long``, Teams ``413``), so an alert about 500 accounts would never be seen.
Lines that do not fit are left out, and the message says how many, and where to read them all.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

T = TypeVar("T")

__all__ = [
    "slack_payload",
    "teams_payload",
    "slack_digest",
    "teams_digest",
    "SLACK_TEXT_LIMIT",
    "SLACK_BLOCKS_LIMIT",
    "TEAMS_BYTES_LIMIT",
]

#: Characters of a plain Slack message's ``text`` we send; Slack cuts longer ones silently.
SLACK_TEXT_LIMIT = 3500
#: Slack takes at most 50 blocks in a message, 3,000 characters in a section's text, 2,000 in
#: a field, 150 in a header; messages whose blocks hold more than about 13,000 characters in all
#: are refused (``msg_blocks_too_long``), so we stay under 11,000.
SLACK_BLOCKS_LIMIT = 50
_SLACK_SECTION = 3000
_SLACK_FIELD = 2000
_SLACK_BLOCKS_CHARS = 11_000
#: Teams refuses a card message over about 28 KB: we stay under 24,000 bytes of JSON.
TEAMS_BYTES_LIMIT = 24_000
#: Where the whole list is, named when lines are left out.
MORE = "{n} more not shown here: run generect-reports status for the whole list"


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _fitting(lines: Sequence[T], room: int, cost: Callable[[T], int]) -> tuple[list[T], int]:
    """The first lines whose cost fits in ``room``, and how many are left out."""
    kept: list[T] = []
    used = 0
    for line in lines:
        need = cost(line)
        if used + need > room:
            break
        kept.append(line)
        used += need
    return kept, len(lines) - len(kept)


def slack_payload(title: str, lines: Iterable[str]) -> dict[str, Any]:
    """Slack incoming-webhook body (also Mattermost and Rocket.Chat): plain ``text``, at most
    :data:`SLACK_TEXT_LIMIT` characters."""
    items = [f"• {line}" for line in lines]
    head = f"*{_cut(title, 300)}*"
    room = SLACK_TEXT_LIMIT - len(head) - len(MORE) - 20
    kept, left = _fitting([_cut(x, 1000) for x in items], room, lambda x: len(x) + 1)
    if left:
        kept.append("• " + MORE.format(n=left))
    return {"text": "\n".join([head, *kept]) if kept else head}


def teams_payload(
    title: str, lines: Iterable[str], *, facts: Sequence[tuple[str, str]] = ()
) -> dict[str, Any]:
    """Teams Workflows body: a message with one Adaptive Card (version 1.4), at most
    :data:`TEAMS_BYTES_LIMIT` bytes of JSON; ``facts`` as a FactSet under the title."""
    blocks: list[dict[str, Any]] = [
        {"type": "TextBlock", "text": title, "weight": "Bolder", "size": "Medium", "wrap": True}
    ]
    if facts:
        shown = [{"title": _cut(k, 200), "value": _cut(v, 1000)} for k, v in facts]
        kept_facts, left = _fitting(shown, TEAMS_BYTES_LIMIT // 2, lambda f: len(json.dumps(f)) + 2)
        blocks.append({"type": "FactSet", "facts": kept_facts})
    else:
        left = 0
    rows = [{"type": "TextBlock", "text": f"- {_cut(line, 1000)}", "wrap": True} for line in lines]
    room = TEAMS_BYTES_LIMIT - 1200 - len(json.dumps(blocks).encode("utf-8"))
    kept, more = _fitting(rows, room, lambda b: len(json.dumps(b).encode("utf-8")) + 2)
    blocks += kept
    left += more
    if left:
        blocks.append({"type": "TextBlock", "text": f"- {MORE.format(n=left)}", "wrap": True})
    return {
        "type": "message",
        "attachments": [
            {
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": None,
                "content": {
                    "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                    "type": "AdaptiveCard",
                    "version": "1.4",
                    "body": blocks,
                },
            }
        ],
    }


def slack_digest(
    title: str, facts: Sequence[tuple[str, str]], lines: Iterable[str]
) -> dict[str, Any]:
    """Slack Block Kit body of a digest: a header, the figures as fields, the exceptions; with a
    plain ``text`` fallback for notifications and for Mattermost and Rocket.Chat. Within Slack's
    limits however many accounts it names (see :data:`SLACK_BLOCKS_LIMIT`)."""
    body = list(lines)
    fields = [
        {"type": "mrkdwn", "text": _cut(f"*{label}*\n{value}", _SLACK_FIELD)}
        for label, value in facts
    ]
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": _cut(title, 150)}},
    ]
    used = len(blocks[0]["text"]["text"])
    # Keep one block and its characters for the line that says what was left out.
    block_room, char_room = SLACK_BLOCKS_LIMIT - 1, _SLACK_BLOCKS_CHARS - len(MORE) - 20
    left = 0
    # Slack takes at most 10 fields in a section.
    for i in range(0, len(fields), 10):
        chunk = fields[i : i + 10]
        size = sum(len(f["text"]) for f in chunk)
        if len(blocks) >= block_room or used + size > char_room:
            left += len(fields) - i
            break
        blocks.append({"type": "section", "fields": chunk})
        used += size
    items = [_cut(f"• {x}", _SLACK_SECTION) for x in body]
    section: list[str] = []
    for n, item in enumerate(items):
        if left or len(blocks) >= block_room or used + len(item) + 1 > char_room:
            left += len(items) - n
            break
        if section and len("\n".join([*section, item])) > _SLACK_SECTION:
            blocks.append(
                {"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(section)}}
            )
            section = []
            if len(blocks) >= block_room:
                left += len(items) - n
                break
        section.append(item)
        used += len(item) + 1
    if section:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(section)}})
    if left:
        blocks.append(
            {"type": "context", "elements": [{"type": "mrkdwn", "text": MORE.format(n=left)}]}
        )
    fallback = slack_payload(title, [f"{label}: {value}" for label, value in facts] + body)
    return {"text": fallback["text"], "blocks": blocks}


def teams_digest(
    title: str, facts: Sequence[tuple[str, str]], lines: Iterable[str]
) -> dict[str, Any]:
    """Teams Workflows body of a digest: one Adaptive Card with the figures as a FactSet."""
    return teams_payload(title, lines, facts=facts)
