"""The base of every plugin admin view: the access check, CSRF for its own buttons, its templates' helpers."""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import datetime
from typing import Any

from flask import abort, current_app, flash, g, redirect, request, url_for
from flask_admin import BaseView
from flask_admin.contrib.sqla import ModelView
from flask_admin.contrib.sqla.typefmt import DEFAULT_FORMATTERS
from flask_admin.form import BaseForm
from flask_admin.helpers import is_safe_url
from flask_admin.model.base import ViewArgs
from flask_admin.model.typefmt import DETAIL_FORMATTERS
from flask_wtf.csrf import generate_csrf, validate_csrf
from markupsafe import Markup
from wtforms.csrf.core import CSRF

from ..host import User
from ..web.current import get_state
from ..web.readiness import refuse_unless_ready
from .access import can_manage
from .args import clean_text, parse_id, parse_ids, parse_page, storable
from .errors import CODES, error_page
from .filters import company_tz
from .i18n import t


class FlaskWtfCsrf(CSRF):
    """Flask-WTF's own token (the one the host's global CSRFProtect checks), so the host exempts nothing.

    Unlike FlaskForm's, it is checked even when the host sets WTF_CSRF_ENABLED = False: the plugin's
    admin changes bots and access, and must not depend on the host's CSRF settings."""

    def generate_csrf_token(self, csrf_token_field: Any) -> str:
        return str(generate_csrf())

    def validate_csrf_token(self, form: Any, field: Any) -> None:
        validate_csrf(field.data)  # raises wtforms' ValidationError with Flask-WTF's reason


class PluginForm(BaseForm):
    """A Flask-Admin form carrying Flask-WTF's CSRF token. ``hidden_tag`` makes Flask-Admin render this
    form's own hidden inputs only: one csrf_token input per form, never a second one from the host."""

    class Meta:
        csrf = True
        csrf_class = FlaskWtfCsrf

    def validate(self, extra_validators: Any = None) -> bool:
        """Fields as declared, and no text the database refuses (PostgreSQL: NUL) saved or looked up."""
        valid = bool(super().validate(extra_validators))
        for field in self:
            if isinstance(field.data, str) and not storable(field.data):
                field.errors = [*field.errors, t("Недопустимый символ в поле")]
                valid = False
        return valid

    def hidden_tag(self) -> Markup:
        return Markup("").join(field() for field in self
                               if getattr(field.widget, "input_type", None) == "hidden")


class CsrfForm(PluginForm):
    """Only the CSRF token: every plugin button that changes something posts one."""


def csrf_token() -> str:
    return str(generate_csrf())


def csrf_ok() -> bool:
    return CsrfForm(request.form).validate()


def crm_user(user_id: int | None) -> User | None:
    """A CRM user through the gateway, looked up once per request (a list page shows each many times)."""
    if user_id is None:
        return None
    cache: dict[int, User | None] = g.setdefault("crm_plugin_users", {})
    if user_id not in cache:
        cache[user_id] = get_state().gateway.get_user(user_id)
    return cache[user_id]


def user_label(user_id: int | None) -> str:
    user = crm_user(user_id)
    if user is None:
        return t("— удалён —") if user_id is not None else "—"
    return user.full_name


class ProtectedView:
    """Mixin: a user without plugin access gets 403 and no data (a stranger is sent to the CRM's login).
    While the plugin's tables are missing or behind, its views answer the 503 page of the blueprint, and
    the host's own admin pages keep working."""

    def is_accessible(self) -> bool:
        # Once per request: the menu asks every view, and on SQLite a second read transaction would wait
        # for the list page's own open one.
        if "crm_plugin_can_manage" not in g:
            state = get_state()
            user = state.gateway.current_user()
            if _ready():
                g.crm_plugin_can_manage = can_manage(state, user)
            else:  # no grants to read: any active CRM admin may see the tab and its 503 page
                g.crm_plugin_can_manage = bool(user is not None and user.active and user.is_admin)
        return bool(g.crm_plugin_can_manage)

    def inaccessible_callback(self, name: str, **kwargs: Any) -> Any:
        login_view = getattr(getattr(current_app, "login_manager", None), "login_view", None)
        if login_view and get_state().gateway.current_user() is None:
            return redirect(url_for(login_view, next=request.full_path))
        abort(403)

    def create_blueprint(self, admin: Any) -> Any:
        blueprint = super().create_blueprint(admin)  # type: ignore[misc]
        for code in CODES:  # before Flask-Admin registers it: the handlers then answer for this view only
            blueprint.register_error_handler(code, error_page)
        return blueprint

    def _handle_view(self, name: str, **kwargs: Any) -> Any:
        refused = super()._handle_view(name, **kwargs)  # type: ignore[misc]
        if refused is None and not _ready():
            refused = refuse_unless_ready()
        if refused is None and _unusable_return_url():
            abort(400)
        return refused

    @property
    def extra_css(self) -> list[str]:
        return [url_for("crm_plugin.static", filename="crm_plugin/admin.css")]

    @property
    def extra_js(self) -> list[str]:
        return [url_for("crm_plugin.static", filename="crm_plugin/admin.js")]

    def render(self, template: str, **kwargs: Any) -> str:
        kwargs.setdefault("t", t)
        kwargs.setdefault("admin_csrf", csrf_token)
        kwargs.setdefault("user_label", user_label)
        kwargs.setdefault("when", lambda value: local_time(self, value, "") if value else "—")
        return super().render(template, **kwargs)  # type: ignore[misc,no-any-return]


class PluginBaseView(ProtectedView, BaseView):
    pass


def _unusable_return_url() -> bool:
    """Flask-Admin redirects to ``url`` (query or form) when it looks safe: one holding a line break cannot
    be a Location header, and one urllib cannot parse (``http://[``) fails the safety check itself."""
    target = request.values.get("url")
    if not target:
        return False
    if "\r" in target or "\n" in target:
        return True
    try:
        is_safe_url(target)
    except ValueError:
        return True
    return False


def _ready() -> bool:
    """Whether the plugin's tables are there, asked once per request (a failed check costs a query)."""
    if "crm_plugin_ready" not in g:
        g.crm_plugin_ready = get_state().is_ready()
    return bool(g.crm_plugin_ready)


def local_time(view: Any, value: datetime, name: str) -> str:
    """Times in the company's zone, to the minute (stored in UTC)."""
    return value.astimezone(company_tz()).strftime("%d.%m.%Y %H:%M")


def yes_no(view: Any, value: bool, name: str) -> str:
    """«да» or «нет»: Flask-Admin's icon carries an English title (``active: true``)."""
    return t("да") if value else t("нет")


class PluginModelView(ProtectedView, ModelView):
    """A Flask-Admin model view over the plugin's own session (state.db), with Flask-WTF's CSRF token."""

    form_base_class = PluginForm
    column_type_formatters = {**DEFAULT_FORMATTERS, datetime: local_time, bool: yes_no}
    column_type_formatters_detail = {**DETAIL_FORMATTERS, datetime: local_time, bool: yes_no}
    page_size = 50
    can_set_page_size = False
    named_filter_urls = True

    def get_filter_arg(self, index: int, flt: Any) -> str:
        # Short English names in URLs (?flt0_status=failed) instead of slugs of the Russian labels.
        return getattr(flt, "url_name", None) or super().get_filter_arg(index, flt)

    # --- what a URL or a form may carry: cleaned before Flask-Admin queries with it ---------------------
    def _get_list_extra_args(self) -> ViewArgs:
        """The list page's arguments: a page number from 0 to MAX_PAGE, a sort column that exists, a search
        without NUL, and other arguments only when ``url_for`` can take them back into the page's links."""
        args = super()._get_list_extra_args()
        sort = args.sort if args.sort is not None and 0 <= args.sort < len(self._list_columns) else None
        extra = {key: value for key, value in args.extra_args.items()
                 if key.isidentifier() and not key.startswith("_") and key != "endpoint" and storable(value)}
        return args.clone(page=parse_page(request.args.get("page")), sort=sort, search=clean_text(args.search),
                          extra_args=extra)

    def _get_list_filter_args(self) -> Any:
        filters = super()._get_list_filter_args()
        if filters is None:
            return None
        kept = []
        for index, name, value in filters:
            if storable(value):
                kept.append((index, name, value))
            else:  # a filter's own validate may accept any text; no database compares a column with NUL
                flash(self.get_invalid_value_msg(value.replace("\x00", ""), self._filters[index]), "error")
        return kept

    def get_one(self, id: Any) -> Any:
        """The row of a details, edit, delete or plugin page; None (Flask-Admin: "Record does not exist")
        for an id the primary key cannot hold: ``abc`` or ``2**63`` on PostgreSQL, ``1,2`` anywhere."""
        key = parse_id(id, self._pk_column())
        return None if key is None else super().get_one(str(key))

    def init_actions(self) -> None:
        """Bulk actions get only readable ids (``rowid`` inputs are typed by anyone with a browser)."""
        super().init_actions()
        for name, (handler, text, desc) in list(self._actions_data.items()):
            self._actions_data[name] = (self._with_clean_ids(handler), text, desc)

    def _with_clean_ids(self, handler: Callable[[list[str]], Any]) -> Callable[[list[str]], Any]:
        @functools.wraps(handler)
        def clean(ids: list[str]) -> Any:
            return handler([str(i) for i in parse_ids(ids, self._pk_column())])
        return clean

    def _pk_column(self) -> Any:
        return getattr(self.model, self._primary_key)
