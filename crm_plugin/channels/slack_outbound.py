"""Neutral replies rendered as Slack Block Kit; slack_sdk's errors mapped to SendError."""

from __future__ import annotations

import http.client
from typing import Any

from slack_sdk.errors import SlackApiError, SlackClientError

from ..core.chat import ButtonKind, Keyboard, LocationReply, TextReply
from .base import SendError

SECTION_LIMIT = 3000  # characters of one section block's text
BUTTON_LABEL_LIMIT = 75
ACTIONS_LIMIT = 25  # elements in one actions block
# Hints for buttons Slack has no equivalent of (no phone or location sharing in Slack).
CONTACT_HINT = "📞 {label}: напишите номер телефона сообщением"
LOCATION_HINT = "📍 {label}: напишите адрес сообщением"

# Slack "error" strings: the person is gone / the target cannot take messages / transient server trouble.
UNREACHABLE_ERRORS = {"account_inactive", "user_disabled", "user_not_found"}
TRANSIENT_ERRORS = {"internal_error", "fatal_error", "service_unavailable", "request_timeout"}
DEFAULT_RETRY_AFTER = 1.0


def text_blocks(reply: TextReply) -> list[dict[str, Any]]:
    text = escape(reply.text)
    blocks: list[dict[str, Any]] = [{"type": "section", "text": {"type": "mrkdwn", "text": text[i:i + SECTION_LIMIT]}}
                                    for i in range(0, len(text), SECTION_LIMIT)]
    blocks += keyboard_blocks(reply.buttons)
    return blocks


def keyboard_blocks(rows: Keyboard) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    hints: list[str] = []
    for row_index, row in enumerate(rows):
        elements: list[dict[str, Any]] = []
        for col_index, button in enumerate(row):
            label = {"type": "plain_text", "text": button.label[:BUTTON_LABEL_LIMIT], "emoji": True}
            action_id = f"crm_{row_index}_{col_index}"  # unique within a message, as Slack requires
            if button.kind is ButtonKind.PAYLOAD:
                elements.append({"type": "button", "text": label, "action_id": action_id,
                                 "value": button.payload or ""})
            elif button.kind is ButtonKind.URL:
                elements.append({"type": "button", "text": label, "action_id": action_id, "url": button.url})
            elif button.kind is ButtonKind.REQUEST_CONTACT:
                hints.append(CONTACT_HINT.format(label=button.label))
            else:
                hints.append(LOCATION_HINT.format(label=button.label))
        for start in range(0, len(elements), ACTIONS_LIMIT):
            blocks.append({"type": "actions", "elements": elements[start:start + ACTIONS_LIMIT]})
    if hints:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": hint} for hint in hints]})
    return blocks


def thread_chat_id(channel: str, thread_ts: str) -> str:
    """A chat id that answers in a message's thread: the outbox stays neutral (one opaque chat id) and only
    SlackChannel reads the thread out of it. Channel ids are letters and digits, so ":" cannot be in one."""
    return f"{channel}:{thread_ts}"


def split_chat_id(chat_id: str) -> tuple[str, str | None]:
    """(channel, thread_ts or None) of a chat id, plain or made by ``thread_chat_id``."""
    channel, _, thread_ts = chat_id.partition(":")
    return channel, thread_ts or None


def map_link_text(reply: LocationReply) -> str:
    url = (f"https://www.openstreetmap.org/?mlat={reply.latitude:.6f}&mlon={reply.longitude:.6f}"
           f"#map=17/{reply.latitude:.6f}/{reply.longitude:.6f}")
    title = reply.title or f"{reply.latitude:.5f}, {reply.longitude:.5f}"
    return f"📍 <{url}|{escape(title)}>"


def escape(text: str) -> str:
    """Slack reads <...> as links and mentions: the three control characters are escaped in bot texts."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def send_error(exc: Exception) -> SendError:
    """SlackApiError carries the HTTP status and Slack's ``error``; anything else is the network."""
    if isinstance(exc, SlackApiError):
        status = exc.response.status_code
        error = str(exc.response.get("error") or "") if isinstance(exc.response.data, dict) else ""
        if status == 429 or error == "ratelimited":
            return SendError(f"slack: rate limited ({error})", retry_after=_retry_after(exc))
        if status >= 500 or error in TRANSIENT_ERRORS:
            return SendError(f"slack: HTTP {status} {error}")
        if error in UNREACHABLE_ERRORS:
            return SendError(f"slack: {error}", unreachable=True)
        # channel_not_found, not_in_channel, is_archived, invalid_auth, msg_too_long, invalid_blocks, ...:
        # Slack's answers are about the request itself, so sending it again cannot help.
        return SendError(f"slack: {error or f'HTTP {status}'}", permanent=True)
    if isinstance(exc, (SlackClientError, OSError, http.client.HTTPException)):
        return SendError(f"slack: {exc.__class__.__name__}: {exc}")  # upload step, time-out, dropped connection
    raise exc


def _retry_after(exc: SlackApiError) -> float:
    headers = {key.lower(): value for key, value in (exc.response.headers or {}).items()}
    value = headers.get("retry-after")
    if isinstance(value, list):
        value = value[0] if value else None
    try:
        return max(float(value), 0.0) if value is not None else DEFAULT_RETRY_AFTER
    except ValueError:
        return DEFAULT_RETRY_AFTER
