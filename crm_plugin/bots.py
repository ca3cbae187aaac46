"""Bot management without Flask: which secrets each platform needs, checking them with the platform, sealing
them, and the webhook (set, inspect).

Secrets live only sealed in ``Bot.credentials_encrypted``. Every text that leaves this module (an error for
the admin, a log line) is scrubbed of the bot's secret values first: client libraries like to put the
request URL, and with it a Telegram token, into their exceptions.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .channels import channel_class, channel_for
from .channels.base import BotIdentity, Channel, CredentialsError, WebhookInfo
from .crypto import mask
from .delivery.scrub import scrub, secret_values
from .i18n import N_  # marks labels for the admin's catalogue (crm_plugin/admin/i18n.py translates them)
from .models import Bot, Platform

if TYPE_CHECKING:
    from .extension import PluginState

log = logging.getLogger(__name__)

API_URL_SETTINGS = {Platform.TELEGRAM: "TELEGRAM_API_URL", Platform.VK: "VK_API_URL",
                    Platform.VIBER: "VIBER_API_URL", Platform.SLACK: "SLACK_API_URL"}


@dataclass(frozen=True)
class CredentialField:
    key: str  # the key in the sealed credentials dict, as the channel reads it
    label: str
    hint: str = ""
    secret: bool = True  # shown masked, never echoed back into a page
    required: bool = True  # an optional field left empty is not stored


# What an admin types for each platform: the keys the channel adapters read.
CREDENTIAL_FIELDS: dict[Platform, tuple[CredentialField, ...]] = {
    Platform.TELEGRAM: (CredentialField("token", N_("Токен бота"), N_("Выдаёт @BotFather: 123456:ABC…")),),
    Platform.VK: (
        CredentialField("token", N_("Ключ доступа сообщества"), N_("Управление → Работа с API → Ключи доступа")),
        CredentialField("confirmation", N_("Строка подтверждения"),
                        N_("Callback API: строка, которую должен вернуть сервер"), secret=False),
        CredentialField("secret", N_("Секретный ключ"), N_("Callback API: поле «Секретный ключ»")),
    ),
    Platform.VIBER: (CredentialField("token", N_("Токен"), N_("partners.viber.com → Info → Token")),),
    Platform.SLACK: (
        CredentialField("token", N_("Bot User OAuth Token"), N_("xoxb-…: OAuth & Permissions")),
        CredentialField("signing_secret", N_("Signing Secret"), N_("Basic Information → App Credentials")),
        CredentialField("app_token", N_("App-Level Token (Socket Mode)"),
                        N_("xapp-…: Basic Information → App-Level Tokens (connections:write). Только для "
                           "работы без публичного адреса: flask crm-plugin poll"), required=False),
    ),
}

PLATFORM_LABELS = {Platform.TELEGRAM: "Telegram", Platform.VK: N_("ВКонтакте"), Platform.VIBER: "Viber",
                   Platform.SLACK: "Slack", Platform.WEB: N_("Веб-чат")}


def clean_credentials(platform: Platform, raw: Mapping[str, Any]) -> dict[str, str]:
    """The declared fields of ``platform``, stripped; ValueError in Russian when a required one is empty."""
    fields = CREDENTIAL_FIELDS.get(platform)
    if fields is None:
        raise ValueError(f"Для платформы {PLATFORM_LABELS.get(platform, platform.value)} ключи не вводятся")
    result = {f.key: str(raw.get(f.key) or "").strip() for f in fields}
    missing = [f.label for f in fields if f.required and not result[f.key]]
    if missing:
        raise ValueError("Заполните: " + ", ".join(missing))
    return {f.key: result[f.key] for f in fields if f.required or result[f.key]}


def api_url(state: PluginState, platform: Platform) -> str:
    key = API_URL_SETTINGS.get(platform)
    return str(state.setting(key)) if key else ""


def channel_for_credentials(state: PluginState, platform: Platform, credentials: Mapping[str, str]) -> Channel:
    """An adapter for credentials not saved yet (the "Проверить" button)."""
    try:
        cls = channel_class(platform)
    except (ImportError, AttributeError, KeyError):
        raise CredentialsError(f"Платформа {PLATFORM_LABELS.get(platform, platform.value)} пока не поддерживается "
                               "этой версией плагина") from None
    return cls(credentials, api_url=api_url(state, platform))


def check_credentials(state: PluginState, platform: Platform, credentials: Mapping[str, str]) -> BotIdentity:
    """Ask the platform who these credentials belong to; CredentialsError with its words if it refuses."""
    channel = channel_for_credentials(state, platform, credentials)
    return _guarded(lambda: channel.check(), credentials, "check")


def seal(state: PluginState, bot: Bot, credentials: Mapping[str, str], identity: BotIdentity | None) -> None:
    """Store the credentials sealed and the identity the platform gave."""
    data = dict(credentials)
    if bot.platform is Platform.VIBER and identity is not None:
        data.setdefault("name", (identity.name or "")[:28])  # Viber shows it as the sender of every message
    bot.credentials_encrypted = state.secrets.seal(data)
    if identity is not None:
        bot.platform_bot_id = identity.id or bot.platform_bot_id
        bot.name = bot.name or identity.name
        bot.username = identity.username or bot.username


def masked_credentials(state: PluginState, bot: Bot) -> list[tuple[str, str]]:
    """(label, what may be shown) for each credential of a saved bot."""
    stored = _open(state, bot)
    shown = []
    for field in CREDENTIAL_FIELDS.get(bot.platform, ()):
        value = stored.get(field.key) or ""
        shown.append((field.label, mask(value) if field.secret else value))
    return shown


def public_webhook_url(state: PluginState, bot: Bot) -> str | None:
    """Where the platform should post this bot's updates; None without CRM_PLUGIN_PUBLIC_URL (polling)."""
    public = (state.setting("PUBLIC_URL") or "").rstrip("/")
    if not public:
        return None
    return f"{public}{state.setting('URL_PREFIX').rstrip('/')}/webhook/{bot.id}"


def set_webhook(state: PluginState, bot: Bot) -> str | None:
    """Point the platform at our webhook with a fresh secret; returns the URL, None in polling mode.

    The caller commits ``bot`` (its webhook_secret and webhook_url changed). CredentialsError on refusal.
    """
    url = public_webhook_url(state, bot)
    if url is None or bot.platform is Platform.WEB:
        return None
    secret = secrets.token_urlsafe(32)
    channel = channel_for(state, bot)
    _guarded(lambda: channel.set_webhook(url, secret), _open(state, bot), "set_webhook", secret)
    bot.webhook_secret = secret
    bot.webhook_url = url
    log.info("bot %s: webhook set to %s", bot.id, url)
    return url


def webhook_info(state: PluginState, bot: Bot) -> WebhookInfo:
    channel = channel_for(state, bot)
    return _guarded(lambda: channel.webhook_info(), _open(state, bot), "webhook_info", bot.webhook_secret)


def _open(state: PluginState, bot: Bot) -> dict[str, Any]:
    try:
        return state.secrets.open(bot.credentials_encrypted)
    except Exception as exc:  # noqa: BLE001 - a key change is reported as an admin's error
        raise CredentialsError(str(exc)) from None


def _guarded(call: Any, credentials: Mapping[str, Any], what: str, *extra: str | None) -> Any:
    """Run a platform call; every failure becomes a CredentialsError whose text holds no secret."""
    hidden = secret_values(credentials, *extra)
    try:
        return call()
    except CredentialsError as exc:
        message = scrub(str(exc), hidden)
    except Exception as exc:  # noqa: BLE001 - a library's surprise must not become a 500 with a token in it
        log.warning("bot %s failed: %s", what, scrub(repr(exc), hidden))
        message = f"Платформа ответила неожиданно ({type(exc).__name__}). Попробуйте ещё раз позже."
    raise CredentialsError(message) from None
