"""Who may manage the plugin. No rows: every active CRM admin. With rows: only the admins named there."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from wtforms import SelectField
from wtforms.validators import ValidationError

from ..core.models import AccessGrant
from ..web.current import get_state
from .base import PluginForm, PluginModelView, user_label
from .i18n import lazy_t, t


def _admin(view: Any, context: Any, grant: AccessGrant, name: str) -> str:
    return user_label(grant.crm_user_id)


class GrantForm(PluginForm):
    crm_user_id = SelectField(lazy_t("Администратор CRM"), coerce=int)


class AccessView(PluginModelView):
    can_edit = False
    can_view_details = False
    column_list = ("crm_user_id", "created_at")
    column_labels = {"crm_user_id": lazy_t("Администратор"), "created_at": lazy_t("Доступ выдан")}
    column_formatters = {"crm_user_id": _admin}
    column_default_sort = ("id", False)
    form = GrantForm
    list_template = "crm_plugin/admin/access_list.html"

    def __init__(self, session: Any, **kwargs: Any) -> None:
        super().__init__(AccessGrant, session, **kwargs)

    def create_form(self, obj: Any = None) -> Any:
        form = super().create_form(obj)
        granted = set(self.session.scalars(select(AccessGrant.crm_user_id)))
        form.crm_user_id.choices = [(u.id, f"{u.full_name} ({u.login})")
                                    for u in get_state().gateway.list_users(active_only=True)
                                    if u.is_admin and u.id not in granted]
        return form

    def on_model_change(self, form: Any, grant: AccessGrant, is_created: bool) -> None:
        me = get_state().gateway.current_user()
        self.session.flush()
        if me is not None and me.id != grant.crm_user_id and not self._others(grant):
            # The first row restricts access: keep the admin who made it, or they lock themselves out.
            self.session.add(AccessGrant(crm_user_id=me.id))

    def on_model_delete(self, grant: AccessGrant) -> None:
        me = get_state().gateway.current_user()
        if me is not None and grant.crm_user_id == me.id and self._others(grant):
            raise ValidationError(t("Нельзя убрать доступ у себя, пока он ограничен другими: "
                                    "сначала удалите остальных или попросите другого администратора"))

    def _others(self, grant: AccessGrant) -> int:
        return self.session.scalar(select(func.count()).select_from(AccessGrant).where(AccessGrant.id != grant.id)) or 0

    def render(self, template: str, **kwargs: Any) -> str:
        kwargs.setdefault("restricted", bool(self.session.scalar(select(func.count()).select_from(AccessGrant))))
        return super().render(template, **kwargs)
