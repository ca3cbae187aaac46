"""One adapter per messenger behind crm_plugin.channels.base.Channel; platform SDKs live only here."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ..models import Bot, Platform
from .base import Channel

if TYPE_CHECKING:
    from ..extension import PluginState

# Imported on first use: a host that runs only Telegram never imports viberbot or slack_sdk.
_ADAPTERS = {
    Platform.TELEGRAM: ("telegram", "TelegramChannel", "TELEGRAM_API_URL"),
    Platform.VK: ("vk", "VkChannel", "VK_API_URL"),
    Platform.VIBER: ("viber", "ViberChannel", "VIBER_API_URL"),
    Platform.SLACK: ("slack", "SlackChannel", "SLACK_API_URL"),
    Platform.WEB: ("web", "WebChannel", None),
}


def channel_class(platform: Platform) -> type[Channel]:
    module, name, _ = _ADAPTERS[platform]
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)  # type: ignore[no-any-return]


def channel_for(state: PluginState, bot: Bot, **options: Any) -> Channel:
    """The adapter for a stored bot, with its decrypted credentials and the configured API URL."""
    _, _, url_key = _ADAPTERS[bot.platform]
    if bot.platform == Platform.VIBER:
        from ..media import media_url

        options.setdefault("media_url", lambda crm_file_id: media_url(state, crm_file_id))
    return channel_class(bot.platform)(
        state.secrets.open(bot.credentials_encrypted),
        api_url=state.setting(url_key) if url_key else "",
        webhook_secret=bot.webhook_secret,
        **options,
    )
