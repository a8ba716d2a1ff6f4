"""Chat messages: Slack's incoming-webhook JSON (also Mattermost and Rocket.Chat) and a Microsoft
Teams message with one Adaptive Card. Posting them is ``deliver.webhook``'s.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

__all__ = ["slack_payload", "teams_payload", "slack_digest", "teams_digest"]


def slack_payload(title: str, lines: Iterable[str]) -> dict[str, Any]:
    """Slack incoming-webhook body (also Mattermost and Rocket.Chat): plain ``text``."""
    body = "\n".join(f"• {line}" for line in lines)
    return {"text": f"*{title}*\n{body}" if body else f"*{title}*"}


def teams_payload(title: str, lines: Iterable[str]) -> dict[str, Any]:
    """Teams Workflows body: a message with one Adaptive Card (version 1.4)."""
    blocks: list[dict[str, Any]] = [
        {"type": "TextBlock", "text": title, "weight": "Bolder", "size": "Medium", "wrap": True}
    ]
    blocks += [{"type": "TextBlock", "text": f"- {line}", "wrap": True} for line in lines]
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
    plain ``text`` fallback for notifications and for Mattermost and Rocket.Chat."""
    body = list(lines)
    fields = [{"type": "mrkdwn", "text": f"*{label}*\n{value}"} for label, value in facts]
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": title[:150]}},
    ]
    # Slack takes at most 10 fields in a section.
    blocks += [{"type": "section", "fields": fields[i : i + 10]} for i in range(0, len(fields), 10)]
    if body:
        blocks.append(
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": "\n".join(f"• {x}" for x in body)},
            }
        )
    fallback = slack_payload(title, [f"{label}: {value}" for label, value in facts] + body)
    return {"text": fallback["text"], "blocks": blocks}


def teams_digest(
    title: str, facts: Sequence[tuple[str, str]], lines: Iterable[str]
) -> dict[str, Any]:
    """Teams Workflows body of a digest: one Adaptive Card with the figures as a FactSet."""
    card = teams_payload(title, lines)
    body = card["attachments"][0]["content"]["body"]
    body.insert(
        1,
        {"type": "FactSet", "facts": [{"title": label, "value": value} for label, value in facts]},
    )
    return card
