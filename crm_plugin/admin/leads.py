"""«Заявки из каналов»: the captured leads (message log rows of kind "lead") with their source, state, the
fields parsed from them, the link back to the platform and the CRM's lead; a failed one is sent again with
«Повторить», as in the message log. The counts per source for the dashboard are here too."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from markupsafe import Markup
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..core.models import Message
from ..core.settings import Settings
from ..inbound.leads import LEAD_KIND
from .i18n import lazy_t
from .messages import MessageView

ACTION_LABELS = {"created": lazy_t("новая"), "appended": lazy_t("добавлена к заявке"),
                 "ignored": lazy_t("не заявка")}


def _lead(message: Message) -> dict[str, Any]:
    lead = (message.payload or {}).get("lead")
    return lead if isinstance(lead, dict) else {}


def _parsed(message: Message) -> dict[str, Any]:
    parsed = ((message.payload or {}).get("result") or {}).get("parsed")
    return parsed if isinstance(parsed, dict) else {}


def _source(view: Any, context: Any, message: Message, name: str) -> str:
    return str(_lead(message).get("source") or "—")


def _contact(view: Any, context: Any, message: Message, name: str) -> Markup:
    parsed = _parsed(message)
    lead = _lead(message)
    parts = [str(value) for value in (parsed.get("name") or lead.get("name"), parsed.get("phone"),
                                      parsed.get("email")) if value]
    return Markup("<br>").join(parts) if parts else Markup("—")


def _link(view: Any, context: Any, message: Message, name: str) -> Markup:
    link = _lead(message).get("link")
    if not isinstance(link, str) or not link.startswith("https://"):
        return Markup("—")
    return Markup('<a href="{}" target="_blank" rel="noopener">↗</a>').format(link)


def _crm_lead(view: Any, context: Any, message: Message, name: str) -> str:
    result = (message.payload or {}).get("result") or {}
    lead_id, action = result.get("lead_id"), result.get("action")
    label = ACTION_LABELS.get(str(action))
    if lead_id is None:
        return str(label) if label else "—"
    return f"№ {lead_id} ({label})" if label else f"№ {lead_id}"


class LeadView(MessageView):
    """The message log narrowed to leads, with the lead's own columns."""

    column_list: tuple[str, ...] = (  # type: ignore[assignment]
        "created_at", "bot_id", "source", "status", "contact", "preview", "link", "crm_lead", "error")
    column_labels = {  # noqa: RUF012 - Flask-Admin's own class attributes
        **MessageView.column_labels, "source": lazy_t("Источник"), "contact": lazy_t("Имя, телефон, почта"),
        "link": lazy_t("Ссылка"), "crm_lead": lazy_t("Заявка в CRM")}
    column_formatters = {  # noqa: RUF012 - Flask-Admin's own class attribute
        **MessageView.column_formatters, "source": _source, "contact": _contact, "link": _link, "crm_lead": _crm_lead}
    list_template = "admin/model/list.html"

    def get_query(self) -> Any:
        return super().get_query().filter(Message.kind == LEAD_KIND)

    def get_count_query(self) -> Any:
        return super().get_count_query().filter(Message.kind == LEAD_KIND)


def counts_by_source(session: Session, settings: Settings, now: datetime) -> list[tuple[str, int, int]]:
    """(source, today, last 7 days) of the captured leads, by the company's days; most this week first."""
    today = datetime.combine(now.astimezone(settings.tz).date(), datetime.min.time(), tzinfo=settings.tz)
    week_start = today - timedelta(days=6)
    rows = session.execute(select(Message.payload, Message.created_at).where(
        Message.kind == LEAD_KIND, Message.created_at >= week_start))
    week: Counter[str] = Counter()
    day: Counter[str] = Counter()
    for payload, created_at in rows:
        lead = (payload or {}).get("lead") or {}
        source = str(lead.get("source") or "—")
        week[source] += 1
        if created_at >= today:
            day[source] += 1
    return [(source, day[source], count) for source, count in week.most_common()]
