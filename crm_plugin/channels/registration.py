"""Bot management without Flask: the secrets each platform needs (declared by its Channel class), checking
them with the platform, sealing them, and the webhook (set, inspect).

Secrets live only sealed in ``Bot.credentials_encrypted``, and of the webhook secret only its digest is kept
(``Bot.webhook_secret``). Every text that leaves this module (an error for the admin, a log line) is scrubbed of
the bot's secret values first: client libraries like to put the request URL, and with it a Telegram token, into
their exceptions.

After the secret key changed without the old one in CRM_PLUGIN_OLD_SECRET_KEYS, a bot's credentials open no
more: every function here answers CredentialsError(RETYPE_CREDENTIALS), and ``with_stored`` lets tokens typed
again replace them (the bot keeps its id, links and log).
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Mapping
from typing import Any

from ..core.crypto import UnreadableCredentials, mask, webhook_secret_digest
from ..core.models import Bot, Platform
from ..core.scrub import install_log_scrubbing, remember_secrets, scrub, secret_values
from ..core.state import PluginState
from .base import BotIdentity, Channel, CredentialField, CredentialsError, WebhookInfo
from .registry import api_url, channel_class, channel_for, secret_credentials

log = logging.getLogger(__name__)

RETYPE_CREDENTIALS = ("Сохранённые ключи бота не расшифровываются: ключ шифрования (SECRET_KEY или "
                      "CRM_PLUGIN_SECRET_KEY) сменился. Введите все ключи бота заново на странице «Изменить» и "
                      "сохраните, или верните прежний ключ в CRM_PLUGIN_OLD_SECRET_KEYS.")


def credential_fields(platform: Platform) -> tuple[CredentialField, ...]:
    """What an admin types for ``platform``: the keys its channel reads (none for an unknown platform)."""
    try:
        return channel_class(platform).credential_fields
    except LookupError:
        return ()


def clean_credentials(platform: Platform, raw: Mapping[str, Any]) -> dict[str, str]:
    """The declared fields of ``platform``, stripped; ValueError in Russian when a required one is empty."""
    fields = credential_fields(platform)
    if not fields:
        raise ValueError(f"Для платформы {_label(platform)} ключи не вводятся")
    result = {f.key: str(raw.get(f.key) or "").strip() for f in fields}
    missing = [f.label for f in fields if f.required and not result[f.key]]
    if missing:
        raise ValueError("Заполните: " + ", ".join(missing))
    return {f.key: result[f.key] for f in fields if f.required or result[f.key]}


def channel_for_credentials(state: PluginState, platform: Platform, credentials: Mapping[str, str]) -> Channel:
    """An adapter for credentials not saved yet (the "Проверить" button)."""
    try:
        cls = channel_class(platform)
    except (ImportError, LookupError):
        raise CredentialsError(f"Платформа {platform.value} пока не поддерживается этой версией плагина") from None
    remember_secrets(secret_credentials(cls, credentials))  # masked in the SDK's own log lines
    channel = cls(credentials, api_url=api_url(state, platform))
    install_log_scrubbing()
    return channel


def check_credentials(state: PluginState, platform: Platform, credentials: Mapping[str, str]) -> BotIdentity:
    """Ask the platform who these credentials belong to; CredentialsError with its words if it refuses."""
    channel = channel_for_credentials(state, platform, credentials)
    return _guarded(lambda: channel.check(), credentials, "check")


def with_stored(state: PluginState, bot: Bot, typed: Mapping[str, str]) -> dict[str, str]:
    """The credentials typed for a saved bot, each field left empty taking its saved value. When the saved
    ones cannot be decrypted (the key changed), the typed ones replace them: every required field must be
    typed again, else CredentialsError(RETYPE_CREDENTIALS)."""
    try:
        stored = state.secrets.open(bot.credentials_encrypted)
    except UnreadableCredentials:
        if any(f.required and not typed.get(f.key) for f in credential_fields(bot.platform)):
            raise CredentialsError(RETYPE_CREDENTIALS) from None
        return dict(typed)
    return {key: value or str(stored.get(key) or "") for key, value in typed.items()}


def refresh_seal(state: PluginState, bot: Bot) -> bool:
    """Seal the bot's credentials again with the current key when an old key (CRM_PLUGIN_OLD_SECRET_KEYS)
    sealed them; True when it did. Credentials no key opens are left as they are."""
    if not bot.credentials_encrypted or state.secrets.is_current(bot.credentials_encrypted):
        return False
    try:
        bot.credentials_encrypted = state.secrets.reseal(bot.credentials_encrypted)
    except UnreadableCredentials:
        return False
    log.info("bot %s: credentials sealed again with the current secret key", bot.id)
    return True


def seal(state: PluginState, bot: Bot, credentials: Mapping[str, str], identity: BotIdentity | None) -> None:
    """Store the credentials sealed (with what the platform's identity adds) and the identity the platform gave."""
    bot.credentials_encrypted = state.secrets.seal(channel_class(bot.platform).stored_credentials(credentials,
                                                                                                  identity))
    if identity is not None:
        bot.platform_bot_id = identity.id or bot.platform_bot_id
        bot.name = bot.name or identity.name
        bot.username = identity.username or bot.username


def masked_credentials(state: PluginState, bot: Bot) -> list[tuple[str, str]]:
    """(label, what may be shown) for each credential of a saved bot."""
    stored = _open(state, bot)
    shown = []
    for field in credential_fields(bot.platform):
        value = stored.get(field.key) or ""
        shown.append((field.label, mask(value) if field.secret else value))
    return shown


def public_webhook_url(state: PluginState, bot: Bot) -> str | None:
    """Where the platform should post this bot's updates; None without CRM_PLUGIN_PUBLIC_URL (polling)."""
    base = state.settings.public_base()
    return f"{base}/webhook/{bot.id}" if base else None


def set_webhook(state: PluginState, bot: Bot) -> str | None:
    """Point the platform at our webhook with a fresh secret; returns the URL, None in polling mode.

    The caller commits ``bot`` (its webhook_secret and webhook_url changed). CredentialsError on refusal.
    """
    url = public_webhook_url(state, bot)
    if url is None or bot.platform is Platform.WEB:
        return None
    secret = secrets.token_urlsafe(32)
    remember_secrets([secret])  # known in clear only now: masked in the SDK's log of the call (telebot's params)
    channel = _channel(state, bot)
    _guarded(lambda: channel.set_webhook(url, secret), _open(state, bot), "set_webhook", secret)
    bot.webhook_secret = webhook_secret_digest(secret)  # only the digest is stored
    refresh_seal(state, bot)  # the caller saves the bot: an old key's seal is renewed on the way
    bot.webhook_url = url
    log.info("bot %s: webhook set to %s", bot.id, url)
    return url


def webhook_info(state: PluginState, bot: Bot) -> WebhookInfo:
    channel = _channel(state, bot)
    return _guarded(lambda: channel.webhook_info(), _open(state, bot), "webhook_info")


def _label(platform: Platform) -> str:
    try:
        return channel_class(platform).label
    except (ImportError, LookupError):
        return platform.value


def _open(state: PluginState, bot: Bot) -> dict[str, Any]:
    try:
        return state.secrets.open(bot.credentials_encrypted)
    except UnreadableCredentials:  # a key change is reported as an admin's error, with what to do
        raise CredentialsError(RETYPE_CREDENTIALS) from None


def _channel(state: PluginState, bot: Bot) -> Channel:
    try:
        return channel_for(state, bot)
    except UnreadableCredentials:
        raise CredentialsError(RETYPE_CREDENTIALS) from None


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
