"""The message log (the outbox rows): filters, search in the preview, sending a failed message again, and
one chat's conversation. Pages of 50 rows, newest first, on the table's indexes."""

from __future__ import annotations

from typing import Any

from flask import flash, g, redirect, request, url_for
from flask_admin import expose
from flask_admin.actions import action
from flask_admin.contrib.sqla.filters import FilterEqual
from flask_admin.helpers import get_redirect_target
from markupsafe import Markup
from sqlalchemy import select
from werkzeug.wrappers import Response

from ..core.models import Bot, Direction, EmployeeLink, Message, MessageStatus
from ..delivery.outbox import resend
from .args import arg_id, form_id, storable
from .base import PluginModelView, csrf_ok, csrf_token, user_label
from .filters import EnumChoiceFilter, IntChoiceFilter, LazyOptions, PeriodFilter, named
from .i18n import lazy_t, t
from .labels import DIRECTION_LABELS, MESSAGE_STATUS_LABELS

CONVERSATION_PAGE = 100


def _bots(session: Any) -> dict[int, Bot]:
    if "crm_plugin_bots" not in g:
        g.crm_plugin_bots = {bot.id: bot for bot in session.scalars(select(Bot))}
    return g.crm_plugin_bots  # type: ignore[no-any-return]


def _bot(view: Any, context: Any, message: Message, name: str) -> str:
    bot = _bots(view.session).get(message.bot_id)
    return str(bot) if bot else str(message.bot_id)


def _employee(view: Any, context: Any, message: Message, name: str) -> str:
    link = view.session.get(EmployeeLink, message.link_id) if message.link_id else None
    return user_label(link.crm_user_id) if link else "—"


def _chat(view: Any, context: Any, message: Message, name: str) -> Markup:
    href = url_for(".conversation_view", bot_id=message.bot_id, chat_id=message.chat_id)
    return Markup('<a href="{}" title="{}">{}</a>').format(href, t("Переписка"), message.chat_id)


def _direction(view: Any, context: Any, message: Message, name: str) -> str:
    return str(DIRECTION_LABELS[message.direction])


def _preview(view: Any, context: Any, message: Message, name: str) -> Markup:
    return Markup('<div class="crm-preview" title="{0}">{0}</div>').format(message.preview)


def _status(view: Any, context: Any, message: Message, name: str) -> Markup:
    label = Markup('<span class="crm-status-{}">{}</span>').format(
        message.status.value, MESSAGE_STATUS_LABELS[message.status])
    if message.status is not MessageStatus.FAILED:
        return label
    return label + Markup(
        '<form method="POST" action="{}" class="d-inline ml-1"><input type="hidden" name="csrf_token" value="{}">'
        '<input type="hidden" name="id" value="{}"><button type="submit" class="btn btn-sm btn-outline-primary '
        'crm-resend">{}</button></form>').format(url_for(".resend_view", url=request.full_path),
                                                view.csrf_value(), message.id, t("Повторить"))


def _error(view: Any, context: Any, message: Message, name: str) -> Markup:
    return Markup('<div class="crm-error">{}</div>').format(message.error or "")


def _link_choices(session: Any) -> list[tuple[str, str]]:
    bots = {bot.id: bot for bot in session.scalars(select(Bot))}
    links = session.scalars(select(EmployeeLink).order_by(EmployeeLink.id)).all()
    return [(str(link.id), f"{user_label(link.crm_user_id)} · {bots[link.bot_id]}") for link in links]


class MessageView(PluginModelView):
    can_create = can_edit = can_delete = False
    can_view_details = True
    column_list = ("created_at", "bot_id", "link_id", "chat_id", "direction", "kind", "preview", "status",
                   "attempts", "error")
    column_details_exclude_list = ("claimed_by", "claimed_until")
    column_labels = {"created_at": lazy_t("Время"), "bot_id": lazy_t("Бот"), "link_id": lazy_t("Сотрудник"),
                     "chat_id": lazy_t("Чат"), "direction": lazy_t("Направление"), "kind": lazy_t("Тип"),
                     "preview": lazy_t("Текст"), "status": lazy_t("Состояние"), "attempts": lazy_t("Попыток"),
                     "error": lazy_t("Ошибка")}
    column_formatters = {"bot_id": _bot, "link_id": _employee, "chat_id": _chat, "direction": _direction,
                         "preview": _preview, "status": _status, "error": _error}
    column_sortable_list = ("created_at",)
    column_default_sort = ("id", True)
    column_searchable_list = ("preview",)

    def __init__(self, session: Any, **kwargs: Any) -> None:
        self.column_filters = (
            named(IntChoiceFilter(Message.bot_id, lazy_t("Бот"), options=LazyOptions(
                lambda: [(str(b.id), str(b)) for b in session.scalars(select(Bot).order_by(Bot.id))])), "bot"),
            named(IntChoiceFilter(Message.link_id, lazy_t("Сотрудник"),
                                  options=LazyOptions(lambda: _link_choices(session))), "employee"),
            named(EnumChoiceFilter(Message.direction, lazy_t("Направление"), Direction, DIRECTION_LABELS),
                  "direction"),
            named(EnumChoiceFilter(Message.status, lazy_t("Состояние"), MessageStatus, MESSAGE_STATUS_LABELS),
                  "status"),
            named(PeriodFilter(Message.created_at, lazy_t("Период")), "period"),
            named(FilterEqual(Message.chat_id, lazy_t("Чат")), "chat"),
        )
        super().__init__(Message, session, **kwargs)

    def csrf_value(self) -> str:
        if "crm_plugin_csrf" not in g:
            g.crm_plugin_csrf = csrf_token()
        return g.crm_plugin_csrf  # type: ignore[no-any-return]

    def _resend(self, ids: list[int]) -> int:
        count = sum(1 for message_id in ids if resend(self.session, message_id))
        self.session.commit()
        return count

    @action("resend", lazy_t("Отправить снова"), lazy_t("Отправить выбранные сообщения с ошибкой снова?"))
    def action_resend(self, ids: list[str]) -> None:
        count = self._resend([int(i) for i in ids])
        flash(t("Снова в очереди: %(count)s", count=count), "success" if count else "warning")

    @expose("/resend/", methods=("POST",))
    def resend_view(self) -> Response:
        back = get_redirect_target() or self.get_url(".index_view")  # Flask-Admin's check, as its own pages
        if not csrf_ok():
            flash(t("Форма устарела: обновите страницу"), "error")
        elif (message_id := form_id("id", Message.id)) is not None and self._resend([message_id]):
            flash(t("Сообщение снова в очереди"), "success")
        else:
            flash(t("Сообщение уже не в ошибке"), "warning")
        return redirect(back)

    @expose("/conversation/")
    def conversation_view(self) -> Any:
        bot_id = arg_id("bot_id", Message.bot_id)
        chat_id = request.args.get("chat_id", "")
        before = arg_id("before", Message.id)
        rows: list[Message] = []
        link = None
        if bot_id is not None and storable(chat_id):  # else no such chat: an empty page
            stmt = select(Message).where(Message.bot_id == bot_id, Message.chat_id == chat_id)
            if before:
                stmt = stmt.where(Message.id < before)
            rows = list(self.session.scalars(stmt.order_by(Message.id.desc()).limit(CONVERSATION_PAGE + 1)))
            link = self.session.scalars(select(EmployeeLink).where(EmployeeLink.bot_id == bot_id,
                                                                   EmployeeLink.chat_id == chat_id)).first()
        older = rows[CONVERSATION_PAGE - 1].id if len(rows) > CONVERSATION_PAGE else None
        rows = list(reversed(rows[:CONVERSATION_PAGE]))
        bot = _bots(self.session).get(bot_id) if bot_id is not None else None
        return self.render("crm_plugin/admin/conversation.html", messages=rows, bot=bot, chat_id=chat_id,
                           employee=user_label(link.crm_user_id) if link else None, older=older,
                           status_labels=MESSAGE_STATUS_LABELS)
