"""The plugin's configuration as one typed, validated object, built from plugin.toml and the app's config.

plugin.toml declares every ``CRM_PLUGIN_*`` key with its type, default, and where it matters its allowed
values or minimum; ``load_settings`` reads the host's config against those declarations once, at start-up,
and stops with one line naming the key, the value and what is allowed. The rest of the plugin reads
``state.settings.worker_poll`` and never a string key or a repeated default.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import math
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .errors import PluginStartupError
from .manifest import Manifest, Setting

PREFIX = "CRM_PLUGIN_"
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off", ""})


class SettingsError(PluginStartupError):
    """A configuration value the plugin cannot run with."""


@dataclass(frozen=True)
class Settings:
    """Every CRM_PLUGIN_* key, typed; field ``worker_poll`` is the key ``CRM_PLUGIN_WORKER_POLL``."""

    url_prefix: str
    database_url: str | None
    public_url: str | None
    secret_key: str | None
    old_secret_keys: str | None  # comma-separated keys used before: they still decrypt (crypto.parse_old_keys)
    worker: str  # "thread" | "external"
    redis_url: str | None
    max_body_bytes: int
    trust_typed_identity: bool
    language: str  # "ru" | "en"
    timezone: str  # an IANA zone, checked at load
    admin_category: str
    telegram_api_url: str
    vk_api_url: str
    viber_api_url: str
    slack_api_url: str
    worker_concurrency: int
    worker_turns: int
    worker_lease: float
    worker_poll: float
    worker_nice: int  # how far a worker process lowers its CPU priority
    send_max_attempts: int
    lead_dedupe_days: int  # channel leads: same phone or e-mail within this many days joins the lead

    @cached_property
    def tz(self) -> ZoneInfo:
        """The company's time zone: its days are the bot's "today" and the timesheet's."""
        return ZoneInfo(self.timezone)

    @property
    def prefix(self) -> str:
        """The blueprint's URL prefix without a trailing slash ("" at the root)."""
        return self.url_prefix.rstrip("/")

    def public_base(self) -> str | None:
        """Where platforms reach the plugin from outside (public URL + prefix), None in polling mode."""
        return f"{self.public_url.rstrip('/')}{self.prefix}" if self.public_url else None

    def with_values(self, **values: Any) -> Settings:
        """A copy with some fields changed (tests, and a host that reconfigures at run time)."""
        return dataclasses.replace(self, **values)


def field_name(key: str) -> str:
    return key.removeprefix(PREFIX).lower()


def load_settings(config: Mapping[str, Any], manifest: Manifest) -> Settings:
    """Settings from the host's config; a key it does not set takes plugin.toml's default."""
    declared = {field_name(s.key): s for s in manifest.settings}
    fields = {f.name for f in dataclasses.fields(Settings)}
    if set(declared) != fields:
        missing, extra = sorted(fields - set(declared)), sorted(set(declared) - fields)
        raise SettingsError(f"{manifest.path}: [[settings]] do not match the code (missing {missing}, "
                            f"unknown {extra}); reinstall the plugin")
    values = {name: _value(setting, config.get(setting.key, setting.default)) for name, setting in declared.items()}
    return Settings(**values)


def _value(setting: Setting, raw: Any) -> Any:
    value = _coerce(setting, raw)
    if value is None:
        return None
    if setting.choices and value not in setting.choices:
        raise _bad(setting, raw, "one of " + ", ".join(map(str, setting.choices)))
    if setting.minimum is not None and value < setting.minimum:
        raise _bad(setting, raw, f"a {setting.type.__name__} of at least {setting.minimum:g}")
    if setting.key == PREFIX + "TIMEZONE":
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise _bad(setting, raw, "an IANA time zone such as Europe/Moscow or Asia/Yekaterinburg") from None
    if setting.key == PREFIX + "URL_PREFIX" and not value.startswith("/"):
        raise _bad(setting, raw, "a path starting with /, such as /crm-plugin")
    if setting.key == PREFIX + "PUBLIC_URL" and not _public_url_ok(value):
        # Telegram's setWebhook refuses anything but https, so an http URL would fail only at the first bot saved.
        raise _bad(setting, raw, "an https:// URL such as https://crm.example.com (http:// only for 127.0.0.1, "
                                 "localhost or ::1, in tests and demos)")
    return value


def _public_url_ok(url: str) -> bool:
    """https with a host; http only on a loopback host (127.0.0.0/8, localhost, ::1)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        return False
    if not host:
        return False
    if parts.scheme == "https":
        return True
    if parts.scheme != "http":
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _coerce(setting: Setting, raw: Any) -> Any:
    """The value as the declared type; strings from the environment ("8", "true") are read as such."""
    kind = setting.type
    if raw is None or (isinstance(raw, str) and not raw.strip() and kind is not bool):
        if setting.default is None:
            return None
        raise _bad(setting, raw, f"a {kind.__name__}; remove the key to use the default {setting.default!r}")
    if kind is bool:
        if isinstance(raw, bool):
            return raw
        if isinstance(raw, str) and raw.strip().lower() in _TRUE | _FALSE:
            return raw.strip().lower() in _TRUE
        raise _bad(setting, raw, "true or false")
    if kind is int:
        if isinstance(raw, int) and not isinstance(raw, bool):
            return raw
        if isinstance(raw, str) and raw.strip().lstrip("+-").isdecimal() and raw.strip().isascii():
            return int(raw)
        raise _bad(setting, raw, "a whole number")
    if kind is float:
        number: float | None = None
        if isinstance(raw, (int, float)) and not isinstance(raw, bool):
            number = float(raw)
        elif isinstance(raw, str):
            try:
                number = float(raw)
            except ValueError:
                number = None
        if number is None or not math.isfinite(number):
            raise _bad(setting, raw, "a number")
        return number
    if not isinstance(raw, str):
        raise _bad(setting, raw, "a string")
    return raw.strip()


def _bad(setting: Setting, raw: Any, allowed: str) -> SettingsError:
    return SettingsError(f"crm_plugin: {setting.key}={raw!r} is not allowed; it must be {allowed}")
