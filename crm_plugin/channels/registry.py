"""Which adapter serves each platform, and the adapter for a stored bot.

``PLATFORM_MODULES`` is the one list of platform modules. Each module declares its Channel class with
``@register``, which files it under the class's ``platform``; a module is imported on first use, so a host
that runs only Telegram never imports viberbot or slack_sdk. Adding a platform: its module, and a line here.
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Mapping
from typing import Any, TypeVar

from ..core.media_links import media_url
from ..core.models import Bot, Platform
from ..core.scrub import install_log_scrubbing, remember_secrets
from ..core.settings import Settings
from ..core.state import PluginState
from .base import Channel

PLATFORM_MODULES: dict[Platform, str] = {
    Platform.TELEGRAM: "telegram",
    Platform.VK: "vk",
    Platform.VIBER: "viber",
    Platform.SLACK: "slack",
    Platform.WEB: "web",
}

_classes: dict[Platform, type[Channel]] = {}
_SETTINGS_FIELDS = frozenset(f.name for f in dataclasses.fields(Settings))
C = TypeVar("C", bound=type[Channel])


def register(cls: C) -> C:
    """Class decorator: ``cls`` serves ``cls.platform``. A class missing a fact fails here, at import, not
    when an admin opens a page."""
    label = getattr(cls, "label", None)
    if not isinstance(getattr(cls, "platform", None), Platform) or not isinstance(label, str) or not label:
        raise TypeError(f"{cls.__name__} must declare its platform and label")
    if cls.api_url_setting is not None and cls.api_url_setting not in _SETTINGS_FIELDS:
        raise TypeError(f"{cls.__name__}.api_url_setting {cls.api_url_setting!r} is not a Settings field")
    _classes[cls.platform] = cls
    return cls


def channel_class(platform: Platform) -> type[Channel]:
    """The adapter class of ``platform``, importing its module on first use; LookupError for a platform
    without one."""
    cls = _classes.get(platform)
    if cls is None:
        module = PLATFORM_MODULES.get(platform)
        if module is None:
            raise LookupError(f"no channel module for platform {platform!r}")
        importlib.import_module(f"{__package__}.{module}")
        install_log_scrubbing()  # the loggers its SDK has just made
        cls = _classes.get(platform)
        if cls is None:
            raise LookupError(f"{__package__}.{module} registers no channel for {platform.value}")
    return cls


def channels() -> list[type[Channel]]:
    """Every platform's adapter class, in PLATFORM_MODULES order (imports all their modules: for the admin)."""
    return [channel_class(platform) for platform in PLATFORM_MODULES]


def platform_label(platform: Platform) -> str:
    """The platform's admin label (an N_ message id: translate it with the admin's t when shown)."""
    return channel_class(platform).label


def api_url(state: PluginState, platform: Platform) -> str:
    """The configured API base URL of ``platform`` ("" when it has none: the web chat)."""
    setting = channel_class(platform).api_url_setting
    return str(getattr(state.settings, setting)) if setting else ""


def channel_for(state: PluginState, bot: Bot, **options: Any) -> Channel:
    """The adapter for a stored bot, with its decrypted credentials and the configured API URL."""
    cls = channel_class(bot.platform)
    if cls.media_by_url:
        options.setdefault("media_url", lambda crm_file_id: media_url(state.settings, state.signing_key, crm_file_id))
    if cls.keeps_uploads:
        options.setdefault("upload_dir", state.upload_dir)
    credentials = state.secrets.open(bot.credentials_encrypted)  # UnreadableCredentials: the key changed
    remember_secrets(secret_credentials(cls, credentials))  # masked in every library's log lines from now on
    channel = cls(credentials, api_url=api_url(state, bot.platform), webhook_secret=bot.webhook_secret, **options)
    install_log_scrubbing()  # loggers the SDK made for this channel
    return channel


def secret_credentials(cls: type[Channel], credentials: Mapping[str, Any]) -> list[str]:
    """The values of ``credentials`` that are secrets: the fields ``cls`` declares secret, and any other key
    that names a token or secret (``bot_token``, an older layout's key)."""
    declared = {field.key: field.secret for field in cls.credential_fields}
    return [value for key, value in credentials.items() if isinstance(value, str) and value
            and declared.get(key, "token" in key or "secret" in key)]
