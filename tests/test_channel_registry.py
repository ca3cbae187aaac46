"""The channel registry: every platform's class is found, declares its platform's facts, and gets its API URL
from the Settings field it names."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest

from crm_plugin import PluginState
from crm_plugin.channels import channel_class, channel_for, channels, registration
from crm_plugin.channels.base import BotIdentity, Channel, Pollable, ProfileLookup
from crm_plugin.channels.registry import PLATFORM_MODULES, register
from crm_plugin.core.models import Platform
from crm_plugin.core.settings import Settings
from tests.store_helpers import add_bot, configure

from .fakes.telegram import FakeTelegram

SETTINGS_FIELDS = {f.name for f in dataclasses.fields(Settings)}
ADMIN_CATALOGUE = (Path(__file__).resolve().parents[1] / "crm_plugin" / "admin" / "translations" / "en"
                   / "LC_MESSAGES" / "crm_plugin_admin.mo")
# Enough for each constructor; no call reaches a platform.
CREDENTIALS = {Platform.TELEGRAM: {"token": "123:abc"}, Platform.VK: {"token": "vk1", "group_id": "1"},
               Platform.VIBER: {"token": "viber1"}, Platform.SLACK: {"token": "xoxb-1", "signing_secret": "s"},
               Platform.WEB: {}}


def test_every_platform_has_a_registered_class() -> None:
    assert set(PLATFORM_MODULES) == set(Platform)
    classes = channels()
    assert [cls.platform for cls in classes] == list(PLATFORM_MODULES)
    for cls in classes:
        assert issubclass(cls, Channel) and channel_class(cls.platform) is cls


def test_register_refuses_a_class_without_its_facts() -> None:
    web = channel_class(Platform.WEB)
    unlabelled = type("Unlabelled", (web,), {"label": ""})
    with pytest.raises(TypeError, match="label"):
        register(unlabelled)
    misnamed = type("Misnamed", (web,), {"api_url_setting": "web_api_url"})
    with pytest.raises(TypeError, match="not a Settings field"):
        register(misnamed)
    assert channel_class(Platform.WEB) is web  # nothing was replaced


@pytest.mark.parametrize("platform", list(Platform), ids=lambda p: p.value)
def test_each_channel_class_declares_its_facts(platform: Platform) -> None:
    cls = channel_class(platform)
    assert isinstance(cls.label, str) and cls.label.strip()
    assert cls.per_chat_rate > 0 and cls.per_bot_rate > 0
    if platform is Platform.WEB:  # the plugin itself is the messenger: no keys, no API, no deep link
        assert cls.credential_fields == () and cls.api_url_setting is None
        return
    assert cls.credential_fields, "a messenger bot needs keys an admin types"
    keys = [f.key for f in cls.credential_fields]
    assert len(keys) == len(set(keys)) and all(f.label.strip() for f in cls.credential_fields)
    assert any(f.required for f in cls.credential_fields)
    assert cls.api_url_setting in SETTINGS_FIELDS


def test_the_admin_catalogue_translates_every_channel_text() -> None:
    # Labels and hints are N_ message ids shown through the admin's t(); brand names (Telegram) need none.
    from babel.messages.mofile import read_mo

    with ADMIN_CATALOGUE.open("rb") as fh:
        english = {m.id: m.string for m in read_mo(fh) if m.id}
    texts = [text for cls in channels() for field in cls.credential_fields for text in (field.label, field.hint)
             if text]
    texts += [cls.label for cls in channels() if not cls.label.isascii()]
    assert [text for text in texts if not english.get(text)] == []


def test_polling_and_profile_lookup_are_declared_by_the_classes() -> None:
    assert [cls.platform for cls in channels() if issubclass(cls, Pollable)] == [
        Platform.TELEGRAM, Platform.VK, Platform.SLACK]
    assert [cls.platform for cls in channels() if issubclass(cls, ProfileLookup)] == [Platform.VK, Platform.SLACK]
    can_poll = {cls.platform: cls.can_poll(CREDENTIALS[cls.platform]) for cls in channels()}
    assert can_poll == {Platform.TELEGRAM: True, Platform.VK: True, Platform.VIBER: False, Platform.SLACK: False,
                        Platform.WEB: False}
    slack = channel_class(Platform.SLACK)
    assert slack.can_poll({**CREDENTIALS[Platform.SLACK], "app_token": "xapp-1"})  # Socket Mode
    assert not slack.can_poll({**CREDENTIALS[Platform.SLACK], "app_token": "  "})


@pytest.mark.parametrize("platform", [p for p in Platform if p is not Platform.WEB], ids=lambda p: p.value)
def test_channel_for_reads_the_api_url_from_the_declared_setting(state: PluginState, platform: Platform) -> None:
    setting = channel_class(platform).api_url_setting
    assert setting is not None
    url = f"http://127.0.0.1:9/{platform.value}-api"
    configure(state, **{setting: url})
    bot = add_bot(state, platform, CREDENTIALS[platform])
    assert channel_for(state, bot).api_url == url
    assert registration.channel_for_credentials(state, platform, CREDENTIALS[platform]).api_url == url


def test_a_configured_api_url_is_where_the_channel_calls(state: PluginState) -> None:
    with FakeTelegram() as fake:
        configure(state, telegram_api_url=fake.url)
        bot = add_bot(state, Platform.TELEGRAM, {"token": fake.token})
        assert channel_for(state, bot).check().username == "crm_test_bot"
        assert fake.calls("getMe")


def test_viber_gets_media_links_and_stores_its_sender_name(state: PluginState) -> None:
    viber = channel_class(Platform.VIBER)
    assert viber.media_by_url and not channel_class(Platform.TELEGRAM).media_by_url
    bot = add_bot(state, Platform.VIBER, CREDENTIALS[Platform.VIBER])
    channel = channel_for(state, bot)
    assert callable(getattr(channel, "media_url", None))
    stored = viber.stored_credentials({"token": "t"}, BotIdentity("1", "Окна Казань: замеры и монтаж, круглосуточно"))
    assert stored == {"token": "t", "name": "Окна Казань: замеры и монтаж"}
    assert channel_class(Platform.TELEGRAM).stored_credentials({"token": "t"}, BotIdentity("1", "x")) == {"token": "t"}


def test_importing_the_plugin_imports_no_platform_sdk() -> None:
    # Channel modules load on first use: a host running only Telegram never imports viberbot or slack_sdk.
    code = ("import sys, crm_plugin, crm_plugin.admin, crm_plugin.inbound.polling; "
            "print(sorted(m for m in ('telebot', 'vk_api', 'viberbot', 'slack_sdk') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).resolve().parents[1],
                            capture_output=True, text=True, timeout=120, check=True)
    assert result.stdout.strip() == "[]"
