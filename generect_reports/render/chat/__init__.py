"""Chat messages: Slack's incoming-webhook JSON (also Mattermost and Rocket.Chat) and a Microsoft
Teams message with one Adaptive Card. Posting them is ``deliver.webhook``'s.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

__all__ = ["slack_payload", "teams_payload"]


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
