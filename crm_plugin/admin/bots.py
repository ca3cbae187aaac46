"""Bots: the list, adding one by platform and secret key ("Проверить" asks the platform who it is), and the
webhook page ("Инфо"). Secrets are sealed on save and only ever shown masked."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from flask import flash, jsonify, redirect, request, url_for
from flask_admin import expose
from flask_admin.helpers import get_form_data
from markupsafe import Markup
from sqlalchemy import select
from werkzeug.wrappers import Response
from wtforms.validators import ValidationError

from ..channels import platform_label
from ..channels import registration as service
from ..channels.base import CredentialsError
from ..core.models import Bot, Platform
from ..web.current import get_state
from . import lead_settings
from .base import PluginModelView, csrf_ok, local_time
from .bot_form import BotForm, keyed_channels, with_keys
from .i18n import lazy_t, t

log = logging.getLogger(__name__)


def _platform(view: Any, context: Any, model: Bot, name: str) -> str:
    return t(platform_label(model.platform))


def key_problem(platform: Platform, error: Exception) -> str:
    """A refused key in Russian: an empty field says which (its own words); anything else a platform's SDK
    refused by the key's look (``Token must contain a colon``) says what a key of this platform looks like."""
    text = str(error)
    if isinstance(error, CredentialsError) or text.startswith("Заполните"):
        return text
    hints = [t(f.hint) for f in service.credential_fields(platform) if f.hint]
    return t("Ключ не похож на ключ %(platform)s: скопируйте его целиком.", platform=t(platform_label(platform))) + (
        " " + " ".join(hints) if hints else "")


def _bot_id(view: Any, context: Any, model: Bot, name: str) -> str:
    return "—" if model.platform is Platform.WEB else model.platform_bot_id or "—"  # the web bot's is internal


def _username(view: Any, context: Any, model: Bot, name: str) -> str:
    return f"@{model.username}" if model.username else "—"


def _iso_when(value: str) -> str:
    """A platform's ISO time in the company's zone, to the minute; as given when it is not one."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return value
    return local_time(None, moment if moment.tzinfo else moment.replace(tzinfo=UTC), "")


def _webhook(view: Any, context: Any, model: Bot, name: str) -> Markup:
    info_url = url_for(".info_view", id=model.id)
    if model.platform is Platform.WEB:
        state = t("не нужен")
    elif model.webhook_url:
        state = t("установлен")
    else:
        state = t("не задан (опрос)")
    return Markup('{} <a class="btn btn-sm btn-outline-secondary ml-2 crm-bot-info" href="{}">{}</a>').format(
        state, info_url, t("Инфо"))


class BotView(PluginModelView):
    can_view_details = False
    column_list = ("platform", "name", "platform_bot_id", "username", "webhook_url", "active", "leads_enabled")
    column_labels = {"platform": lazy_t("Платформа"), "name": lazy_t("Название"),
                     "platform_bot_id": lazy_t("ID бота"), "username": lazy_t("Имя пользователя"),
                     "webhook_url": lazy_t("Вебхук"), "active": lazy_t("Активен"),
                     "leads_enabled": lazy_t("Заявки из каналов")}
    column_formatters = {"platform": _platform, "webhook_url": _webhook, "platform_bot_id": _bot_id,
                         "username": _username}
    column_sortable_list = ("name", "active")
    column_default_sort = ("id", False)
    form = BotForm  # what Flask-Admin inspects at start-up; pages use with_keys(), built on first use
    create_template = edit_template = "crm_plugin/admin/bot_form.html"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(Bot, *args, **kwargs)

    def render(self, template: str, **kwargs: Any) -> str:
        if template == self.edit_template:  # the form page: every keyed platform's inputs
            kwargs.setdefault("keyed_channels", keyed_channels())
            kwargs.setdefault("label_of", platform_label)
        return super().render(template, **kwargs)

    # --- the form ----------------------------------------------------------------------------------------
    def create_form(self, obj: Bot | None = None) -> Any:
        form = with_keys()(get_form_data(), obj=obj)
        lead_settings.fill(form, None, self.session, get_state())
        return form

    def edit_form(self, obj: Bot | None = None) -> Any:
        form = with_keys()(get_form_data(), obj=obj)
        del form.platform  # a bot's platform is fixed: its id and links belong to it
        lead_settings.fill(form, obj, self.session, get_state())
        if obj is not None and obj.credentials_encrypted:
            unreadable = False
            try:
                shown = dict(zip([f.key for f in service.credential_fields(obj.platform)],
                                 (value for _, value in service.masked_credentials(get_state(), obj))))
            except CredentialsError as exc:  # the secret key changed: the saved keys must be typed again
                shown, unreadable = {}, True
                if request.method == "GET":
                    flash(str(exc), "error")
            for field in service.credential_fields(obj.platform):
                widget = form[f"{obj.platform.value}_{field.key}"]
                widget.render_kw = {**(widget.render_kw or {}), "placeholder": shown.get(field.key, "")}
                widget.description = "" if unreadable else t("Пусто: оставить сохранённое")
        return form

    def on_model_change(self, form: BotForm, model: Bot, is_created: bool) -> None:
        state = get_state()
        if is_created:
            model.platform = Platform(form.platform.data)
        typed = form.credentials(model.platform)
        form.credentials_changed = is_created or any(typed.values())
        if not form.credentials_changed:
            service.refresh_seal(state, model)  # sealed with an old key: sealed again with the current one
            return
        try:
            if not is_created:  # fields left empty keep their saved values (unreadable ones: all typed again)
                typed = service.with_stored(state, model, typed)
            credentials = service.clean_credentials(model.platform, typed)
            identity = service.check_credentials(state, model.platform, credentials)
        except (ValueError, CredentialsError) as exc:
            raise ValidationError(key_problem(model.platform, exc)) from None
        with self.session.no_autoflush:  # the new row itself must not be found as the twin
            twin = self.session.scalars(select(Bot).where(Bot.platform == model.platform,
                                                          Bot.platform_bot_id == identity.id,
                                                          Bot.id != (model.id or 0))).first()
        if twin is not None:
            raise ValidationError(t("Этот бот уже добавлен: «%(name)s». Откройте его в списке ботов вместо "
                                    "добавления второй раз.", name=twin.name or twin.platform_bot_id or twin.id))
        service.seal(state, model, credentials, identity)

    def after_model_change(self, form: BotForm, model: Bot, is_created: bool) -> None:
        lead_settings.save(form, model, self.session)
        self.session.commit()
        if getattr(form, "credentials_changed", False):
            self._set_webhook(model)

    def _set_webhook(self, bot: Bot) -> None:
        state = get_state()
        try:
            url = service.set_webhook(state, bot)
        except CredentialsError as exc:
            flash(t("Бот сохранён, но вебхук не установлен: %(error)s", error=str(exc)), "error")
            return
        if url is None:
            flash(t("Адрес CRM (CRM_PLUGIN_PUBLIC_URL) не задан, вебхук не установлен. Чтобы бот получал "
                    "сообщения, запустите опрос: flask crm-plugin poll"), "warning")
            return
        self.session.commit()
        flash(t("Вебхук установлен: %(url)s", url=url), "success")

    # --- "Проверить" ---------------------------------------------------------------------------------
    @expose("/check/", methods=("POST",))
    def check_view(self) -> Response | tuple[Response, int]:
        if not csrf_ok():
            return jsonify(ok=False, error=t("Форма устарела: обновите страницу")), 400
        state = get_state()
        bot = self.get_one(request.form.get("id", "")) if request.form.get("id") else None
        platform_value = bot.platform.value if bot is not None else request.form.get("platform", "")
        try:
            platform = Platform(platform_value)
        except ValueError:
            return jsonify(ok=False, error=t("Выберите платформу")), 400
        try:
            form = with_keys()(request.form, meta={"csrf": False})
            typed = form.credentials(platform)
            if bot is not None:
                typed = service.with_stored(state, bot, typed)
            identity = service.check_credentials(state, platform, service.clean_credentials(platform, typed))
        except (ValueError, CredentialsError) as exc:  # an empty field, a key of the wrong look, a refusal
            return jsonify(ok=False, error=key_problem(platform, exc)), 400
        return jsonify(ok=True, id=identity.id, name=identity.name, username=identity.username or "")

    # --- "Инфо": the webhook as the platform sees it ---------------------------------------------------
    @expose("/info/")
    def info_view(self) -> Any:
        bot = self.get_one(request.args.get("id", ""))
        if bot is None:
            flash(t("Бот не найден"), "error")
            return redirect(self.get_url(".index_view"))
        state = get_state()
        info, error, masked = None, None, []
        try:
            masked = service.masked_credentials(state, bot)
            if bot.platform is not Platform.WEB:
                info = service.webhook_info(state, bot)
        except CredentialsError as exc:
            error = str(exc)
        return self.render("crm_plugin/admin/bot_info.html", bot=bot, info=info, error=error, masked=masked,
                           expected_url=service.public_webhook_url(state, bot),
                           platform_label=t(platform_label(bot.platform)), iso_when=_iso_when)

    @expose("/info/webhook/", methods=("POST",))
    def set_webhook_view(self) -> Response:
        bot = self.get_one(request.form.get("id", ""))
        if bot is None or not csrf_ok():
            flash(t("Форма устарела: обновите страницу"), "error")
            return redirect(self.get_url(".index_view"))
        self._set_webhook(bot)
        return redirect(self.get_url(".info_view", id=bot.id))
