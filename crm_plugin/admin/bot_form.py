"""The bot form: the common fields plus each platform's secret fields (the page shows the chosen platform's).

Secret fields are password inputs: what an admin typed is never rendered back into a page. The form fills
only the model's plain columns; the view seals the secrets itself.
"""

from __future__ import annotations

from typing import Any

from wtforms import BooleanField, PasswordField, SelectField, StringField
from wtforms.validators import Length, Optional

from ..bots import CREDENTIAL_FIELDS, PLATFORM_LABELS
from ..models import Bot, Platform
from .base import PluginForm
from .i18n import lazy_t

MODEL_FIELDS = ("name", "platform_bot_id", "username", "active", "leads_enabled")


def field_name(platform: Platform, key: str) -> str:
    return f"{platform.value}_{key}"


class BotForm(PluginForm):
    platform = SelectField(lazy_t("Платформа"), default=Platform.TELEGRAM.value,
                           choices=[(p.value, lazy_t(PLATFORM_LABELS[p])) for p in CREDENTIAL_FIELDS])
    name = StringField(lazy_t("Название"), validators=[Optional(), Length(max=200)],
                       description=lazy_t("Пусто: имя бота на платформе"))
    platform_bot_id = StringField(lazy_t("ID бота"), render_kw={"readonly": True},
                                  description=lazy_t("Заполняет кнопка «Проверить»"))
    username = StringField(lazy_t("Имя пользователя бота"), render_kw={"readonly": True})
    active = BooleanField(lazy_t("Активен"), default=True)
    leads_enabled = BooleanField(lazy_t("Заявки из каналов"),
                                 description=lazy_t("Сообщения в каналах бота становятся лидами CRM"))

    def credentials(self, platform: Platform) -> dict[str, str]:
        return {f.key: (self[field_name(platform, f.key)].data or "").strip()
                for f in CREDENTIAL_FIELDS.get(platform, ())}

    def credential_fields(self, platform: Platform) -> list[Any]:
        return [self[field_name(platform, f.key)] for f in CREDENTIAL_FIELDS.get(platform, ())]

    def populate_obj(self, obj: Bot) -> None:
        for name in MODEL_FIELDS:
            if name in self:
                self[name].populate_obj(obj, name)


for _platform, _fields in CREDENTIAL_FIELDS.items():
    for _field in _fields:
        _kind = PasswordField if _field.secret else StringField
        setattr(BotForm, field_name(_platform, _field.key), _kind(
            lazy_t(_field.label), validators=[Optional()], description=lazy_t(_field.hint),
            render_kw={"autocomplete": "off", "data-platform": _platform.value, "data-credential": "1"}))
