"""The "Попробовать бота" page: the bot as a web chat, talked to as a chosen employee.

The view renders the page; crm_plugin.webchat_routes is its JSON API. ``conversation`` turns the web
bot's log rows into what the page draws: the web channel's way of rendering neutral replies.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import url_for
from flask_admin import expose
from flask_wtf.csrf import generate_csrf
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..core.models import Direction, Message, MessageStatus
from ..host import Role
from ..web.current import get_state
from .args import BIGINT_MAX
from .base import PluginBaseView

HISTORY = 100  # rows shown when the page opens a conversation
PAGE = 200  # rows a poll returns at most
ROLE_NAMES = {Role.MEASURER: "замерщик", Role.INSTALLER: "монтажник", Role.MANAGER: "менеджер",
              Role.ADMIN: "админ"}
_PENDING = (MessageStatus.QUEUED, MessageStatus.SENDING)
_MAGIC = ((b"\xff\xd8\xff", "image/jpeg"), (b"\x89PNG\r\n\x1a\n", "image/png"), (b"GIF87a", "image/gif"),
          (b"GIF89a", "image/gif"), (b"%PDF-", "application/pdf"))


class WebChatView(PluginBaseView):
    @expose("/")
    def index(self) -> str:
        state = get_state()
        employees = [{"id": u.id, "name": u.full_name, "roles": _roles(u)} for u in state.gateway.list_users()]
        api = {name: url_for(f"crm_plugin.webchat_{name}") for name in ("session", "messages", "send", "upload")}
        return self.render("crm_plugin/webchat.html", employees=employees, api=api, csrf_token=generate_csrf())


def _roles(user: Any) -> str:
    roles = [ROLE_NAMES[r] for r in sorted(user.roles, key=lambda r: r.value)]
    if user.is_admin:
        roles.append(ROLE_NAMES[Role.ADMIN])
    return ", ".join(roles)


def sniff_type(data: bytes) -> str | None:
    """The real type of an attached file from its first bytes; None for anything but photos and PDF."""
    for magic, content_type in _MAGIC:
        if data.startswith(magic):
            return content_type
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def conversation(session: Session, bot_id: int, chat_id: str, after: int, *,
                 file_url: Callable[[int, int], str], upload_url: Callable[[str], str]) -> dict[str, Any]:
    """Rows after ``after`` as the page draws them. Replies still waiting for the worker are not shown
    yet, and ``after`` in the answer stops before the first of them, so the next poll picks it up."""
    base = select(Message).where(Message.bot_id == bot_id, Message.chat_id == chat_id)
    after = min(after, BIGINT_MAX)  # a cursor past any id finds nothing (2**63 would not reach the database)
    if after <= 0:  # a long history opens at its last rows
        floor = session.scalar(select(Message.id).where(Message.bot_id == bot_id, Message.chat_id == chat_id)
                               .order_by(Message.id.desc()).offset(HISTORY).limit(1))
        after = floor or 0
    rows = session.scalars(base.where(Message.id > after).order_by(Message.id).limit(PAGE)).all()
    shown, cursor, waiting = [], after, False
    for row in rows:
        if row.direction == Direction.OUT and row.status in _PENDING:
            waiting = True
            continue
        shown.append(_render(row, file_url, upload_url))
        if not waiting:
            cursor = row.id
    busy = waiting or session.scalar(
        base.where(Message.direction == Direction.IN, Message.status == MessageStatus.RECEIVED).limit(1)) is not None
    return {"messages": shown, "after": cursor, "busy": busy}


def _render(row: Message, file_url: Callable[[int, int], str], upload_url: Callable[[str], str]) -> dict[str, Any]:
    item: dict[str, Any] = {"id": row.id, "direction": row.direction.value, "kind": row.kind,
                            "status": row.status.value, "time": row.created_at.isoformat()}
    if row.direction == Direction.IN:
        item.update(_render_event(row.payload.get("inbound") or {}, (row.payload.get("raw") or {}).get("web") or {},
                                  upload_url))
        if row.status == MessageStatus.FAILED:
            item["error"] = "Бот не смог обработать это сообщение."
        return item
    # A chart that could not be drawn left a note in the row's error: the text went alone.
    item.update(_render_reply(row.id, row.payload, file_url, chart_drawn=not row.error))
    if row.status == MessageStatus.FAILED:
        item["error"] = "Не доставлено."
    return item


def _render_event(inbound: dict[str, Any], shown: dict[str, Any], upload_url: Callable[[str], str]) -> dict[str, Any]:
    event_type, event = inbound.get("event_type"), inbound.get("event") or {}
    if event_type == "Text":
        return {"text": event["text"]}
    if event_type == "Start":
        return {"text": f"/start {event.get('payload') or ''}".strip()}
    if event_type == "ButtonPress":
        return {"text": shown.get("label") or event["payload"], "pressed": True}
    if event_type == "Contact":
        return {"text": event["phone"], "contact": True}
    if event_type in ("Photo", "Document"):
        file = event["file"]
        return {"files": [{"name": file.get("name") or "файл", "url": upload_url(file["file_id"]),
                           "image": event_type == "Photo"}],
                "caption": event.get("caption"), "group": event.get("media_group_id")}
    if event_type == "Location":
        return {"location": _place(event["latitude"], event["longitude"], None)}
    return {"text": "[неизвестное событие]"}


def _render_reply(message_id: int, reply: dict[str, Any], file_url: Callable[[int, int], str],
                  chart_drawn: bool = True) -> dict[str, Any]:
    kind = reply.get("type")
    if kind == "text":
        rows = [[_button(b) for b in row] for row in reply.get("buttons") or ()]
        return {"text": reply["text"], "buttons": [row for row in rows if row]}
    if kind == "media":
        return {"files": [{"name": f["name"], "url": file_url(message_id, index), "image": f["kind"] == "photo"}
                          for index, f in enumerate(reply["files"])],
                "caption": reply.get("caption")}
    if kind == "location":
        return {"location": _place(reply["latitude"], reply["longitude"], reply.get("title"))}
    if kind == "stats":  # the chart inline above the text (drawn by the worker before the row was SENT)
        rows = [[_button(b) for b in row] for row in reply.get("buttons") or ()]
        item: dict[str, Any] = {"text": reply["text"], "buttons": [row for row in rows if row]}
        if reply.get("chart_key") and chart_drawn:
            item["files"] = [{"name": "chart.png", "url": file_url(message_id, 0), "image": True, "chart": True}]
        return item
    return {"text": "[неизвестный ответ]"}


def _button(button: dict[str, Any]) -> dict[str, Any]:
    out = {"label": button["label"], "kind": button["kind"]}
    if button["kind"] == "payload":
        out["payload"] = button.get("payload")
    elif button["kind"] == "url":
        url = str(button.get("url") or "")
        out["url"] = url if url.startswith(("https://", "http://")) else None  # never javascript: links
    return out


def _place(latitude: float, longitude: float, title: str | None) -> dict[str, Any]:
    return {"latitude": latitude, "longitude": longitude, "title": title,
            "url": f"https://www.openstreetmap.org/?mlat={latitude:.6f}&mlon={longitude:.6f}"
                   f"#map=17/{latitude:.6f}/{longitude:.6f}"}
