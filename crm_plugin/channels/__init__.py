"""One adapter per messenger behind crm_plugin.channels.base.Channel; platform SDKs live only here."""

from .registry import channel_class, channel_for, channels, platform_label

__all__ = ["channel_class", "channel_for", "channels", "platform_label"]
