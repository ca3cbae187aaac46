"""Slack Events API callbacks and interactivity payloads turned into neutral events and leads.

Slack's main job in this product is leads: a person's message in a channel the bot is in becomes a lead
draft (``ParsedRequest.leads``); a direct message to the bot (``channel_type == "im"``) and an @-mention are
conversation events. Nothing here calls the network: a lead carries the author's user id, and a later step
resolves the name and e-mail with ``SlackChannel.user_profile``.
"""

from __future__ import annotations

import logging
import re
from typing import Any
from urllib.parse import parse_qs

from ..core.chat import ButtonPress, Document, Event, FileRef, Inbound, Photo, Sender, Text, check_inbound
from ..core.untrusted import load_json
from . import slack_outbound
from .base import MalformedRequest, ParsedRequest

log = logging.getLogger(__name__)

# Message subtypes that are still a person writing; every other subtype (message_changed, message_deleted,
# bot_message, channel_join, ...) is an edit, a system notice or a bot, and is ignored.
PERSON_SUBTYPES = {None, "file_share", "thread_broadcast"}
LEAD_CHANNEL_TYPES = {"channel", "group", "mpim"}
_MENTION = re.compile(r"<@[UW][A-Z0-9]+>\s*")


def parse_body(body: bytes) -> ParsedRequest:
    if body.startswith(b"payload="):  # interactivity: application/x-www-form-urlencoded, one JSON field
        return _interaction(_json(_form_payload(body)))
    data = _json(body)
    kind = data.get("type")
    try:
        if kind == "url_verification":
            return ParsedRequest(response={"challenge": str(data["challenge"])})
        if kind == "event_callback":
            parsed = _event_callback(data)
            parsed.inbound = [check_inbound(item) for item in parsed.inbound]
            return parsed
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
        raise MalformedRequest(f"Slack {kind} is missing or has a bad field: {exc!r}") from exc
    if not isinstance(kind, str):
        raise MalformedRequest("Slack request without a type")
    log.info("slack: ignoring request type %r", kind)
    return ParsedRequest()


def _event_callback(data: dict[str, Any]) -> ParsedRequest:
    parsed = ParsedRequest(dedupe_key=f"slack:{data['event_id']}")
    event = data["event"]
    kind = event["type"]
    if kind == "message":
        _message(event, parsed)
    elif kind == "app_mention":
        if not event.get("bot_id"):
            text = _MENTION.sub("", str(event.get("text") or "")).strip()
            parsed.inbound.append(Inbound(_sender(event, is_group=True), Text(text), str(event["ts"])))
    else:
        log.debug("slack: ignoring event %r", kind)
    return parsed


def _message(event: dict[str, Any], parsed: ParsedRequest) -> None:
    if event.get("bot_id") or event.get("subtype") not in PERSON_SUBTYPES or not event.get("user"):
        return
    text = str(event.get("text") or "")
    channel_type = event.get("channel_type")
    if channel_type == "im":
        sender = _sender(event, is_group=False)
        files = event.get("files") or []
        # Several files shared in one message are one album (answered once, as VK's attachments are).
        group = f"slack:{event['channel']}:{event['ts']}" if len(files) > 1 else None
        # With files, the text is their caption (as in Slack's own view); without, it is a text message.
        events: list[Event] = ([_file_event(item, text or None, group) for item in files] if files
                               else [Text(text)] if text else [])
        parsed.inbound.extend(Inbound(sender, item, str(event["ts"])) for item in events)
    elif channel_type in LEAD_CHANNEL_TYPES and text.strip():
        parsed.leads.append(channel_lead(event, text))


def channel_lead(event: dict[str, Any], text: str) -> dict[str, Any]:
    """A person's message in a channel as a lead capture (crm_plugin.inbound.leads). A reply in a thread
    (``thread_ts`` other than its own ``ts``) makes no lead of its own: ``thread_of`` names the lead it joins.
    No "name": the author is resolved later from user_id (SlackChannel.user_profile), never here."""
    channel, ts = str(event["channel"]), str(event["ts"])
    thread_ts = str(event.get("thread_ts") or "") or None
    link = f"https://slack.com/archives/{channel}/p{ts.replace('.', '')}"
    lead = {"event": "message", "source": f"slack:{channel}", "channel": channel, "text": text,
            "user_id": str(event["user"]), "external_id": f"slack:{channel}:{ts}", "chat_id": channel,
            "thread_ts": thread_ts or ts, "link": link,
            "reply_chat_id": slack_outbound.thread_chat_id(channel, thread_ts or ts)}  # the auto-reply: in the thread
    if thread_ts and thread_ts != ts:
        lead["thread_of"] = f"slack:{channel}:{thread_ts}"
        lead["link"] = f"{link}?thread_ts={thread_ts}&cid={channel}"
    return lead


def _interaction(payload: dict[str, Any]) -> ParsedRequest:
    if payload.get("type") != "block_actions":
        log.info("slack: ignoring interaction %r", payload.get("type"))
        return ParsedRequest()
    try:
        user = payload["user"]
        channel = (payload.get("channel") or {}).get("id") or payload["container"]["channel_id"]
        sender = Sender(user_id=str(user["id"]), chat_id=str(channel),
                        name=str(user.get("name") or user.get("username") or ""),
                        is_group=not str(channel).startswith("D"))
        actions = payload["actions"]
        # URL buttons report a click too, but carry no value: the browser already opened the link.
        # No callback_id: Slack needs no answer to a click beyond the HTTP 200 of this request.
        presses = [Inbound(sender, ButtonPress(str(action["value"])), str(action.get("action_ts") or ""))
                   for action in actions if action.get("value") is not None]
        first_ts = actions[0].get("action_ts") if actions else None
        presses = [check_inbound(press) for press in presses]
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
        raise MalformedRequest(f"Slack block_actions is missing a field: {exc}") from exc
    return ParsedRequest(inbound=presses, dedupe_key=f"slack:action:{first_ts}" if first_ts else None)


def _file_event(item: dict[str, Any], caption: str | None, group: str | None) -> Event:
    url = item.get("url_private_download") or item["url_private"]
    size = item.get("size")
    ref = FileRef(str(url), name=_str_or_none(item.get("name")), content_type=_str_or_none(item.get("mimetype")),
                  size=size if isinstance(size, int) and not isinstance(size, bool) else None)
    if str(item.get("mimetype") or "").startswith("image/"):
        return Photo(ref, media_group_id=group, caption=caption)
    return Document(ref, media_group_id=group, caption=caption)


def _sender(event: dict[str, Any], *, is_group: bool) -> Sender:
    return Sender(user_id=str(event["user"]), chat_id=str(event["channel"]), is_group=is_group)


def _str_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


def timestamp_is_readable(timestamp: str | None) -> bool:
    """Whether ``X-Slack-Request-Timestamp`` is seconds since 1970 as Slack writes them (ASCII digits):
    slack_sdk's verifier turns it into an int and a float, which a 400-digit or superscript value breaks."""
    return timestamp is not None and 0 < len(timestamp) <= 12 and timestamp.isascii() and timestamp.isdigit()


def _form_payload(body: bytes) -> bytes:
    try:
        values = parse_qs(body.decode("utf-8"), strict_parsing=True).get("payload")
    except (UnicodeDecodeError, ValueError) as exc:
        raise MalformedRequest(f"Slack interaction is not a form: {exc}") from exc
    if not values:
        raise MalformedRequest("Slack interaction without a payload")
    return values[0].encode()


def _json(body: bytes) -> dict[str, Any]:
    try:
        data = load_json(body)
    except ValueError as exc:
        raise MalformedRequest(f"Slack request is not JSON a platform sends: {exc}") from exc
    if not isinstance(data, dict):
        raise MalformedRequest("Slack request is not a JSON object")
    return data
