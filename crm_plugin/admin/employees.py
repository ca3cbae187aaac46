"""Employees on bots (EmployeeLink): who is bound where, their role and state; invite links, approving a
waiting binding, blocking, unbinding."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import flash, redirect, request, url_for
from flask_admin import expose
from flask_admin.actions import action
from markupsafe import Markup
from sqlalchemy import select
from werkzeug.wrappers import Response
from wtforms import BooleanField, IntegerField, SelectField, StringField
from wtforms.validators import Length, NumberRange, Optional, StopValidation, ValidationError

from ..bot import binding
from ..channels import channel_class
from ..core.models import BindingRequest, Bot, EmployeeLink, LinkStatus, Platform, utcnow
from ..host import Role
from ..web.current import get_state
from .args import form_id
from .base import PluginForm, PluginModelView, crm_user, csrf_ok, user_label
from .filters import EnumChoiceFilter, IntChoiceFilter, LazyOptions, named
from .i18n import lazy_t, t
from .labels import CRM_INACTIVE, LINK_STATUS_LABELS, ROLE_LABELS, TRIAL, bot_label


def link_status(link: EmployeeLink) -> str:
    """The stored state, unless the CRM says the person is gone: then nothing else matters. A bound trial
    link (the web chat's) is a try-out, not «привязан»: it gets no company notifications."""
    user = crm_user(link.crm_user_id)
    if user is None or not user.active:
        return CRM_INACTIVE
    return TRIAL if link.trial and link.status is LinkStatus.BOUND else link.status.value


def _bot_choices(session: Any) -> list[tuple[int, str]]:
    return [(bot.id, bot_label(bot)) for bot in session.scalars(select(Bot).order_by(Bot.id))]


def _user_choices(keep: int | None = None) -> list[tuple[int, str]]:
    """Active CRM users (only they can be bound), plus ``keep`` when an existing row names someone else."""
    users = get_state().gateway.list_users(active_only=True)
    choices = [(u.id, f"{u.full_name} ({u.login})") for u in users]
    if keep is not None and keep not in {u.id for u in users}:
        choices.insert(0, (keep, user_label(keep)))
    return choices


# --- list columns ----------------------------------------------------------------------------------------

def _employee(view: Any, context: Any, link: EmployeeLink, name: str) -> str:
    return user_label(link.crm_user_id)


def _bot(view: Any, context: Any, link: EmployeeLink, name: str) -> str:
    return bot_label(link.bot)


def _user_id(view: Any, context: Any, link: EmployeeLink, name: str) -> str:
    if link.bot.platform is Platform.WEB:
        return "—"  # the web chat's own id (``web-<user>``), nobody's account
    return link.platform_user_id or t("— при первом входе")


def _role(view: Any, context: Any, link: EmployeeLink, name: str) -> str:
    if link.role_override:
        label = ROLE_LABELS.get(Role(link.role_override), link.role_override)
        return t("%(role)s (задано здесь)", role=label)
    user = crm_user(link.crm_user_id)
    if user is None:
        return "—"
    roles = [ROLE_LABELS[r] for r in Role if r in user.roles or (r is Role.ADMIN and user.is_admin)]
    return ", ".join(str(r) for r in roles) or "—"


def _status(view: Any, context: Any, link: EmployeeLink, name: str) -> Markup:
    status = link_status(link)
    return Markup('<span class="crm-status-{}">{}</span>').format(status, LINK_STATUS_LABELS[status])


def _links(view: Any, context: Any, link: EmployeeLink, name: str) -> Markup:
    invite = url_for(".invite_view", bot_id=link.bot_id, user_id=link.crm_user_id)
    messages = url_for("crm_plugin_messages.index_view", flt0_employee=link.id)
    return Markup('<a href="{}" class="crm-invite">{}</a> · <a href="{}">{}</a>').format(
        invite, t("Приглашение"), messages, t("Сообщения"))


class EmployeeForm(PluginForm):
    bot_id = SelectField(lazy_t("Бот"), coerce=int)
    crm_user_id = SelectField(lazy_t("Сотрудник CRM"), coerce=int)
    platform_user_id = StringField(lazy_t("ID в мессенджере"), validators=[Optional(), Length(max=64)],
                                   description=lazy_t("Можно оставить пустым: заполнится при первом входе"))
    role_override = SelectField(lazy_t("Роль в боте"), default="",
                                choices=[("", lazy_t("как в CRM"))] + [(r.value, ROLE_LABELS[r]) for r in Role])
    subscribed_stats = BooleanField(lazy_t("Присылать статистику"))
    subscribed_leads = BooleanField(lazy_t("Присылать заявки из каналов"), default=True,  # issue 10
                                    description=lazy_t("Менеджерам: новая заявка с кнопкой «Взять»"))
    trial = BooleanField(lazy_t("Только проба"), description=lazy_t(
        "Уведомления компании сюда не приходят, и сотрудник не считается привязанным (так привязывает веб-чат)"))


def _days_in_range(form: Any, field: Any) -> None:
    """The range check itself: NumberRange (kept for the input's min and max attributes) raises OverflowError
    for an int too large to be a float (10**400)."""
    if isinstance(field.data, int) and not 1 <= field.data <= 90:
        raise StopValidation(t("Число должно быть от %(min)s до %(max)s.", min=1, max=90))


class InviteForm(PluginForm):
    bot_id = SelectField(lazy_t("Бот"), coerce=int)
    crm_user_id = SelectField(lazy_t("Сотрудник CRM"), coerce=int)
    days = IntegerField(lazy_t("Действует, дней"), default=7, validators=[_days_in_range, NumberRange(1, 90)])


class EmployeeView(PluginModelView):
    # No separate platform column: the bot's label names it («Telegram: Окна Комфорт»), and a narrower table
    # fits a laptop's screen.
    column_list = ("crm_user_id", "bot", "platform_user_id", "display_name", "role", "status",
                   "last_message_at", "links")
    column_labels = {"crm_user_id": lazy_t("Сотрудник"), "bot": lazy_t("Бот"),
                     "platform_user_id": lazy_t("ID в мессенджере"), "display_name": lazy_t("Имя в мессенджере"),
                     "role": lazy_t("Роль"), "status": lazy_t("Состояние"),
                     "last_message_at": lazy_t("Последнее сообщение"), "links": ""}
    column_formatters = {"crm_user_id": _employee, "bot": _bot, "platform_user_id": _user_id,
                         "role": _role, "status": _status, "links": _links}
    column_sortable_list = ("last_message_at", "status")
    column_default_sort = ("id", True)
    list_template = "crm_plugin/admin/employees_list.html"
    form = EmployeeForm
    can_view_details = False

    def __init__(self, session: Any, **kwargs: Any) -> None:
        self.column_filters = (
            named(IntChoiceFilter(EmployeeLink.bot_id, lazy_t("Бот"), options=LazyOptions(
                lambda: [(str(k), v) for k, v in _bot_choices(session)])), "bot"),
            named(EnumChoiceFilter(EmployeeLink.status, lazy_t("Состояние"), LinkStatus, LINK_STATUS_LABELS),
                  "status"),
        )
        super().__init__(EmployeeLink, session, **kwargs)

    # --- forms ---------------------------------------------------------------------------------------
    def create_form(self, obj: Any = None) -> Any:
        form = super().create_form(obj)
        form.bot_id.choices = _bot_choices(self.session)
        form.crm_user_id.choices = _user_choices()
        return form

    def edit_form(self, obj: EmployeeLink | None = None) -> Any:
        form = super().edit_form(obj)
        form.bot_id.choices = _bot_choices(self.session)
        form.crm_user_id.choices = _user_choices(keep=obj.crm_user_id if obj else None)
        return form

    def on_model_change(self, form: Any, link: EmployeeLink, is_created: bool) -> None:
        link.role_override = link.role_override or None
        link.platform_user_id = (link.platform_user_id or "").strip() or None
        with self.session.no_autoflush:  # the new row itself must not be found as "taken"
            taken = self.session.scalars(select(EmployeeLink.id).where(
                EmployeeLink.bot_id == link.bot_id, EmployeeLink.crm_user_id == link.crm_user_id,
                EmployeeLink.id != (link.id or 0))).first()
        if taken is not None:
            raise ValidationError(t("Этот сотрудник уже есть у этого бота"))
        if link.platform_user_id and link.status is not LinkStatus.BLOCKED:
            # An admin typing the account id is the proof: the binding is made at once.
            link.chat_id = link.chat_id or link.platform_user_id
            if link.status is not LinkStatus.BOUND:
                link.status, link.bound_at = LinkStatus.BOUND, utcnow()
        elif not link.platform_user_id and link.status is LinkStatus.BOUND:
            binding.release(link)
        if is_created and link.status is None:
            link.status = LinkStatus.PENDING

    # --- the list page: waiting binding requests above the table --------------------------------------
    @expose("/")
    def index_view(self) -> Any:
        self._template_args["waiting"] = self.session.scalars(
            select(BindingRequest).where(BindingRequest.closed_at.is_(None), BindingRequest.expires_at > utcnow())
            .order_by(BindingRequest.id)).all()
        self._template_args["bots"] = {bot.id: bot_label(bot) for bot in self.session.scalars(select(Bot))}
        return super().index_view()

    @expose("/approve/", methods=("POST",))
    def approve_view(self) -> Response:
        if not csrf_ok():
            flash(t("Форма устарела: обновите страницу"), "error")
        elif (request_id := form_id("request_id", BindingRequest.id)) is None:
            flash(t("Запрос уже закрыт или сотрудник заблокирован"), "warning")
        else:
            state = get_state()
            link = binding.approve_binding(self.session, request_id, gateway=state.gateway, settings=state.settings)
            self.session.commit()
            if link is None:
                flash(t("Запрос уже закрыт или сотрудник заблокирован"), "warning")
            else:
                flash(t("Привязка подтверждена: %(name)s", name=user_label(link.crm_user_id)), "success")
        return redirect(self.get_url(".index_view"))

    # --- bulk actions --------------------------------------------------------------------------------
    def _apply(self, ids: list[str], change: Any) -> int:
        links = self.session.scalars(select(EmployeeLink).where(EmployeeLink.id.in_([int(i) for i in ids]))).all()
        for link in links:
            change(link)
        self.session.commit()
        return len(links)

    @action("block", lazy_t("Заблокировать"), lazy_t("Заблокировать выбранных? Бот перестанет им отвечать."))
    def action_block(self, ids: list[str]) -> None:
        count = self._apply(ids, lambda link: setattr(link, "status", LinkStatus.BLOCKED))
        flash(t("Заблокировано: %(count)s", count=count), "success")

    @action("unblock", lazy_t("Разблокировать"))
    def action_unblock(self, ids: list[str]) -> None:
        def unblock(link: EmployeeLink) -> None:
            if link.status is LinkStatus.BLOCKED:
                link.status = LinkStatus.BOUND if link.platform_user_id else LinkStatus.PENDING
        flash(t("Разблокировано: %(count)s", count=self._apply(ids, unblock)), "success")

    @action("unbind", lazy_t("Отвязать"), lazy_t("Отвязать выбранных от мессенджера?"))
    def action_unbind(self, ids: list[str]) -> None:
        flash(t("Отвязано: %(count)s", count=self._apply(ids, binding.release)), "success")

    # --- invite links --------------------------------------------------------------------------------
    @expose("/invite/", methods=("GET", "POST"))
    def invite_view(self) -> Any:
        form = InviteForm(request.form if request.method == "POST" else None,
                          bot_id=request.args.get("bot_id", type=int),
                          crm_user_id=request.args.get("user_id", type=int))
        form.bot_id.choices = _bot_choices(self.session)
        form.crm_user_id.choices = _user_choices()
        token = link = None
        if request.method == "POST" and form.validate():
            bot = self.session.get(Bot, form.bot_id.data)
            token = binding.make_invite(self.session, bot, form.crm_user_id.data, timedelta(days=form.days.data))
            self._ensure_link(bot, form.crm_user_id.data)
            self.session.commit()
            link = channel_class(bot.platform).deep_link(bot, token)
        return self.render("crm_plugin/admin/invite.html", form=form, token=token, invite_url=link)

    def _ensure_link(self, bot: Bot, crm_user_id: int) -> None:
        """An invited employee shows up in the list as waiting until they open the link."""
        exists = self.session.scalars(select(EmployeeLink.id).where(
            EmployeeLink.bot_id == bot.id, EmployeeLink.crm_user_id == crm_user_id)).first()
        if exists is None:
            self.session.add(EmployeeLink(bot_id=bot.id, crm_user_id=crm_user_id, status=LinkStatus.PENDING))
