"""The message log (the outbox rows): filters, search in the preview, sending a failed message again, and
one chat's conversation. Pages of 50 rows, newest first, on the table's indexes."""

from __future__ import annotations

from typing import Any

from flask import abort, flash, g, redirect, request, url_for
from flask_admin import expose
from flask_admin.actions import action
from flask_admin.contrib.sqla.filters import FilterEqual
from flask_admin.helpers import get_redirect_target
from markupsafe import Markup
from sqlalchemy import select
from werkzeug.wrappers import Response

from ..core.models import Bot, Direction, EmployeeLink, Message, MessageStatus
from ..delivery.charts import images_for
from ..delivery.outbox import resend
from ..web.current import get_state
from .args import arg_id, form_id, storable
from .base import PluginModelView, csrf_ok, csrf_token, user_label
from .filters import EnumChoiceFilter, IntChoiceFilter, LazyOptions, PeriodFilter, named
from .i18n import lazy_t, t
from .labels import DIRECTION_LABELS, MESSAGE_STATUS_LABELS, bot_label
from .message_text import KIND_LABELS, kind_label, shown_preview

CONVERSATION_PAGE = 100


def _bots(session: Any) -> dict[int, Bot]:
    if "crm_plugin_bots" not in g:
        g.crm_plugin_bots = {bot.id: bot for bot in session.scalars(select(Bot))}
    return g.crm_plugin_bots  # type: ignore[no-any-return]


def _bot(view: Any, context: Any, message: Message, name: str) -> str:
    bot = _bots(view.session).get(message.bot_id)
    return bot_label(bot) if bot else str(message.bot_id)


def _employee(view: Any, context: Any, message: Message, name: str) -> str:
    link = view.session.get(EmployeeLink, message.link_id) if message.link_id else None
    return user_label(link.crm_user_id) if link else "—"


def _chat(view: Any, context: Any, message: Message, name: str) -> Markup:
    href = url_for(".conversation_view", bot_id=message.bot_id, chat_id=message.chat_id)
    return Markup('<a href="{}" title="{}">{}</a>').format(href, t("Переписка"), message.chat_id)


def _direction(view: Any, context: Any, message: Message, name: str) -> str:
    return str(DIRECTION_LABELS[message.direction])


def _preview(view: Any, context: Any, message: Message, name: str) -> Markup:
    shown = Markup('<div class="crm-preview" title="{0}">{0}</div>').format(shown_preview(view.session, message))
    return shown + _chart_link(message)


def _chart_link(message: Message) -> Markup:
    """A statistics message's chart, opened from its row (only once the worker has drawn it)."""
    if message.kind != "stats" or not (message.payload or {}).get("chart_key"):
        return Markup("")
    return Markup('<a class="crm-chart" href="{}" target="_blank" rel="noopener" title="{}">📊</a>').format(
        url_for(".chart_view", id=message.id), kind_label("stats"))


def _kind(view: Any, context: Any, message: Message, name: str) -> str:
    return kind_label(message.kind)


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
    # The platform's or the library's own words, often English: shown as what they are, technical text.
    return Markup('<code class="crm-error">{}</code>').format(message.error) if message.error else Markup("")


def _link_choices(session: Any) -> list[tuple[str, str]]:
    bots = {bot.id: bot for bot in session.scalars(select(Bot))}
    links = session.scalars(select(EmployeeLink).order_by(EmployeeLink.id)).all()
    return [(str(link.id), f"{user_label(link.crm_user_id)} · {bot_label(bots[link.bot_id])}") for link in links]


class MessageView(PluginModelView):
    can_create = can_edit = can_delete = False
    can_view_details = True
    column_list = ("created_at", "bot_id", "link_id", "chat_id", "direction", "kind", "preview", "status",
                   "attempts", "error")
    column_details_list = ("id", "created_at", "bot_id", "link_id", "chat_id", "direction", "kind", "preview",
                           "status", "attempts", "next_attempt_at", "sent_at", "platform_message_id", "error")
    column_labels = {"created_at": lazy_t("Время"), "bot_id": lazy_t("Бот"), "link_id": lazy_t("Сотрудник"),
                     "chat_id": lazy_t("Чат"), "direction": lazy_t("Направление"), "kind": lazy_t("Тип"),
                     "preview": lazy_t("Текст"), "status": lazy_t("Состояние"), "attempts": lazy_t("Попыток"),
                     "error": lazy_t("Ошибка"), "id": lazy_t("Номер"), "next_attempt_at": lazy_t("Следующая попытка"),
                     "sent_at": lazy_t("Отправлено"), "platform_message_id": lazy_t("Номер на платформе")}
    column_formatters = {"bot_id": _bot, "link_id": _employee, "chat_id": _chat, "direction": _direction,
                         "kind": _kind, "preview": _preview, "status": _status, "error": _error}
    column_formatters_detail = {**column_formatters, "status": lambda v, c, m, n: str(MESSAGE_STATUS_LABELS[m.status]),
                                "preview": lambda v, c, m, n: shown_preview(v.session, m)}
    column_sortable_list = ("created_at",)
    column_default_sort = ("id", True)
    column_searchable_list = ("preview",)

    def __init__(self, session: Any, **kwargs: Any) -> None:
        self.column_filters = (
            named(IntChoiceFilter(Message.bot_id, lazy_t("Бот"), options=LazyOptions(
                lambda: [(str(b.id), bot_label(b)) for b in session.scalars(select(Bot).order_by(Bot.id))])), "bot"),
            named(IntChoiceFilter(Message.link_id, lazy_t("Сотрудник"),
                                  options=LazyOptions(lambda: _link_choices(session))), "employee"),
            named(EnumChoiceFilter(Message.direction, lazy_t("Направление"), Direction, DIRECTION_LABELS),
                  "direction"),
            named(EnumChoiceFilter(Message.status, lazy_t("Состояние"), MessageStatus, MESSAGE_STATUS_LABELS),
                  "status"),
            named(PeriodFilter(Message.created_at, lazy_t("Период")), "period"),
            named(FilterEqual(Message.chat_id, lazy_t("Чат")), "chat"),
            named(FilterEqual(Message.kind, lazy_t("Тип"), options=LazyOptions(
                lambda: [(kind, str(label)) for kind, label in KIND_LABELS.items()])), "kind"),
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

    @expose("/chart/")
    def chart_view(self) -> Response:
        """The chart of a statistics message as the worker drew it (404 before that, or without one)."""
        message_id = arg_id("id", Message.id)
        message = self.session.get(Message, message_id) if message_id is not None else None
        key = (message.payload or {}).get("chart_key") if message is not None and message.kind == "stats" else None
        data = images_for(get_state().db).stored_png(str(key)) if key else None
        if data is None:
            abort(404)
        return Response(data, content_type="image/png", headers={"Cache-Control": "private, max-age=3600"})

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
                           bot_name=bot_label(bot) if bot is not None else "",
                           employee=user_label(link.crm_user_id) if link else None, older=older,
                           status_labels=MESSAGE_STATUS_LABELS, kind_label=kind_label,
                           preview=lambda m: shown_preview(self.session, m))
