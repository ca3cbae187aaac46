"""The bot form: the common fields plus each platform's secret fields (the page shows the chosen platform's).
The platforms and their fields come from the channel classes (Channel.label, Channel.credential_fields), so
``with_keys()`` builds the full form on first use: listing the platforms imports every channel module and its
SDK, which importing the plugin must not do.

Secret fields are password inputs: what an admin typed is never rendered back into a page. The form fills
only the model's plain columns; the view seals the secrets itself.
"""

from __future__ import annotations

import functools
from typing import Any

from wtforms import BooleanField, PasswordField, SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms.validators import Length, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from ..channels import channels
from ..channels.base import Channel
from ..channels.registration import credential_fields
from ..core.models import VK_LEAD_EVENTS, Bot, Platform
from .base import PluginForm
from .i18n import lazy_t

MODEL_FIELDS = ("name", "platform_bot_id", "username", "active", "leads_enabled")
VK_EVENT_CHOICES = [("message_new", lazy_t("Сообщения сообществу (не от сотрудников)")),
                    ("wall_reply_new", lazy_t("Комментарии")),
                    ("wall_post_new", lazy_t("Записи на стене от других, предложенные записи")),
                    ("lead_forms_new", lazy_t("Лид-формы"))]


def keyed_channels() -> list[type[Channel]]:
    """The platforms an admin adds a bot for: those with keys to type (not the web chat, made by itself)."""
    return [cls for cls in channels() if cls.credential_fields]


def field_name(platform: Platform, key: str) -> str:
    return f"{platform.value}_{key}"


class BotForm(PluginForm):
    """The common fields; the pages use ``with_keys()``, which adds the platforms and their key inputs."""

    platform = SelectField(lazy_t("Платформа"), default=Platform.TELEGRAM.value, choices=[])  # see with_keys()
    name = StringField(lazy_t("Название"), validators=[Optional(), Length(max=200)],
                       description=lazy_t("Пусто: имя бота на платформе"))
    platform_bot_id = StringField(lazy_t("ID бота"), render_kw={"readonly": True},
                                  description=lazy_t("Заполняет кнопка «Проверить»"))
    username = StringField(lazy_t("Имя пользователя бота"), render_kw={"readonly": True})
    active = BooleanField(lazy_t("Активен"), default=True)
    leads_enabled = BooleanField(lazy_t("Заявки из каналов"),
                                 description=lazy_t("Сообщения в каналах бота становятся лидами CRM"))
    # Lead sources of the bot (issue 10): kept in LeadSettings by the view, not on the Bot row
    lead_vk_events = SelectMultipleField(lazy_t("Что ВКонтакте становится заявкой"), choices=VK_EVENT_CHOICES,
                                         default=list(VK_LEAD_EVENTS), widget=ListWidget(prefix_label=False),
                                         option_widget=CheckboxInput(), validators=[Optional()])
    lead_slack_channels = SelectMultipleField(lazy_t("Каналы Slack для заявок"), choices=[], validate_choice=False,
                                              description=lazy_t("Ничего не выбрано: все каналы, где есть бот"))
    lead_auto_reply = BooleanField(lazy_t("Автоответ автору заявки"), default=False)
    lead_auto_reply_text = TextAreaField(lazy_t("Текст автоответа"), validators=[Optional(), Length(max=1000)],
                                         description=lazy_t("Пусто: «Спасибо! Менеджер скоро свяжется с вами.»"))

    def credentials(self, platform: Platform) -> dict[str, str]:
        return {f.key: (self[field_name(platform, f.key)].data or "").strip()
                for f in credential_fields(platform)}

    def credential_fields(self, platform: Platform) -> list[Any]:
        return [self[field_name(platform, f.key)] for f in credential_fields(platform)]

    def populate_obj(self, obj: Bot) -> None:
        for name in MODEL_FIELDS:
            if name in self:
                self[name].populate_obj(obj, name)


@functools.cache
def with_keys() -> type[BotForm]:
    """BotForm with the platform choices and one input per credential field of every keyed platform."""
    keyed = keyed_channels()
    choices = [(cls.platform.value, lazy_t(cls.label)) for cls in keyed]

    class BotFormWithKeys(BotForm):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.platform.choices = choices

    for channel in keyed:
        for field in channel.credential_fields:
            kind = PasswordField if field.secret else StringField
            setattr(BotFormWithKeys, field_name(channel.platform, field.key), kind(
                lazy_t(field.label), validators=[Optional()], description=lazy_t(field.hint),
                render_kw={"autocomplete": "off", "data-platform": channel.platform.value, "data-credential": "1"}))
    return BotFormWithKeys
