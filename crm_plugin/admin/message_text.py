"""How a message log row reads in Russian: its kind, and its preview with a button press shown as the button's
label (the platform sends only the payload, ``job:12``; the label is in the bot's message that had the button)."""

from __future__ import annotations

from typing import Any

from flask import g
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..core.models import Direction, Message
from .i18n import lazy_t, t

KIND_LABELS: dict[str, Any] = {
    "text": lazy_t("текст"), "start": lazy_t("начало"), "button": lazy_t("кнопка"), "contact": lazy_t("контакт"),
    "photo": lazy_t("фото"), "document": lazy_t("документ"), "location": lazy_t("геоточка"),
    "media": lazy_t("файлы"), "stats": lazy_t("статистика"), "host_event": lazy_t("событие CRM"),
    "lead": lazy_t("заявка из канала"), "buttons": lazy_t("кнопки"), "album": lazy_t("альбом"),
}
EVENT_LABELS: dict[str, Any] = {
    "measurement_requested": lazy_t("новый замер"), "installation_scheduled": lazy_t("новый монтаж"),
    "job_changed": lazy_t("заявка изменена"), "job_cancelled": lazy_t("заявка отменена"),
}
LOOK_BACK = 50  # bot messages of the chat searched for a pressed button's label


def kind_label(kind: str) -> str:
    return str(KIND_LABELS.get(kind, kind))


def shown_preview(session: Session, message: Message) -> str:
    """The preview as the admin reads it."""
    if message.kind == "button" and message.direction is Direction.IN:
        label = button_label(session, message)
        return t("«%(label)s»", label=label) if label else message.preview
    if message.kind == "host_event":
        event = str((message.payload or {}).get("event") or "")
        job_id = ((message.payload or {}).get("kwargs") or {}).get("job_id")
        return t("Событие CRM: %(event)s, заявка %(job)s", event=str(EVENT_LABELS.get(event, event)), job=job_id)
    return message.preview


def button_label(session: Session, message: Message) -> str | None:
    """The label of the button whose payload ``message`` carries: the web chat stores what it showed; for a
    messenger, the newest earlier bot message of the chat that had it."""
    shown = ((message.payload or {}).get("raw") or {}).get("web") or {}
    if shown.get("label"):
        return str(shown["label"])
    payload = ((message.payload or {}).get("inbound") or {}).get("event", {}).get("payload") or message.preview
    cache: dict[tuple[int, str, int], str | None] = g.setdefault("crm_plugin_button_labels", {})
    key = (message.bot_id, message.chat_id, message.id)
    if key not in cache:
        cache[key] = _search(session, message, str(payload))
    return cache[key]


def _search(session: Session, message: Message, payload: str) -> str | None:
    rows = session.scalars(select(Message.payload).where(
        Message.bot_id == message.bot_id, Message.chat_id == message.chat_id, Message.id < message.id,
        Message.direction == Direction.OUT).order_by(Message.id.desc()).limit(LOOK_BACK))
    for reply in rows:
        for row in (reply or {}).get("buttons") or ():
            for button in row:
                if isinstance(button, dict) and button.get("payload") == payload:
                    return str(button.get("label") or "") or None
    return None
