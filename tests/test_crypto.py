"""Secrets at rest (crm_plugin.core.crypto): sealing with key rotation (MultiFernet), webhook secrets kept as
digests (and migration 0005 converting stored ones), and the log filter on every library logger."""

from __future__ import annotations

import logging

import pytest
from flask import Flask
from sqlalchemy import select, text

from crm_plugin import PluginState, get_state
from crm_plugin.channels import channels
from crm_plugin.core import migrate
from crm_plugin.core.crypto import (
    SecretBox,
    UnreadableCredentials,
    is_webhook_secret_digest,
    parse_old_keys,
    webhook_secret_digest,
    webhook_secret_matches,
)
from crm_plugin.core.models import Bot, Platform
from crm_plugin.core.scrub import (
    LIBRARY_LOGGERS,
    ScrubTokensFilter,
    install_log_scrubbing,
    is_library_logger,
    remember_secrets,
    scrub_log_text,
)
from crm_plugin.extension import stop

from .conftest import make_test_app

CREDENTIALS = {"token": "123456:ABC-rotate-me"}


# --- key rotation --------------------------------------------------------------------------------------

def test_the_current_key_seals_and_old_keys_still_open() -> None:
    sealed_before = SecretBox("old-key").seal(CREDENTIALS)
    box = SecretBox("new-key", parse_old_keys(" older-key , old-key,,"))
    assert box.open(sealed_before) == CREDENTIALS
    assert not box.is_current(sealed_before)
    resealed = box.reseal(sealed_before)
    assert box.is_current(resealed) and SecretBox("new-key").open(resealed) == CREDENTIALS
    assert box.is_current(box.seal(CREDENTIALS))  # new seals use the current key only
    with pytest.raises(UnreadableCredentials):
        SecretBox("old-key").open(box.seal(CREDENTIALS))


def test_credentials_no_key_opens_raise_one_clear_error() -> None:
    sealed = SecretBox("lost-key").seal(CREDENTIALS)
    box = SecretBox("new-key", ["another-key"])
    for attempt in (lambda: box.open(sealed), lambda: box.reseal(sealed), lambda: box.open("not a token")):
        with pytest.raises(UnreadableCredentials, match="CRM_PLUGIN_OLD_SECRET_KEYS"):
            attempt()
    assert not box.is_current(sealed)


def test_old_keys_setting_reaches_the_apps_secret_box(database_url: str) -> None:
    first = make_test_app(database_url, SECRET_KEY="the-old-secret-key")
    sealed = get_state(first).secrets.seal(CREDENTIALS)
    stop(first)
    rotated = make_test_app(database_url, SECRET_KEY="the-new-secret-key",
                            CRM_PLUGIN_OLD_SECRET_KEYS="something-else,the-old-secret-key")
    try:
        state = get_state(rotated)
        assert state.settings.old_secret_keys == "something-else,the-old-secret-key"
        assert state.secrets.open(sealed) == CREDENTIALS and not state.secrets.is_current(sealed)
    finally:
        stop(rotated)
    plain = make_test_app(database_url, SECRET_KEY="the-new-secret-key", CRM_PLUGIN_OLD_SECRET_KEYS="")
    try:
        assert get_state(plain).settings.old_secret_keys is None  # empty: no old keys
        with pytest.raises(UnreadableCredentials):
            get_state(plain).secrets.open(sealed)
    finally:
        stop(plain)


# --- webhook secrets -----------------------------------------------------------------------------------

def test_webhook_secrets_are_compared_as_digests() -> None:
    digest = webhook_secret_digest("s3cret-token")
    assert is_webhook_secret_digest(digest) and "s3cret" not in digest
    assert webhook_secret_matches("s3cret-token", digest)
    assert webhook_secret_matches("s3cret-token", "s3cret-token")  # a channel built by hand with the secret
    for wrong in ("s3cret-tokeN", "", None, 5, digest, "\ud800"):
        assert not webhook_secret_matches(wrong, digest)
    assert not webhook_secret_matches("s3cret-token", None) and not webhook_secret_matches("s3cret-token", "")


def test_a_secret_assigned_in_clear_is_stored_as_its_digest(state: PluginState) -> None:
    with state.db.session() as session:
        bot = Bot(platform=Platform.TELEGRAM, credentials_encrypted=state.secrets.seal(CREDENTIALS),
                  webhook_secret="clear-webhook-secret")
        session.add(bot)
        session.flush()
        bot_id = bot.id
    with state.db.session() as session:
        stored = session.scalar(text("SELECT webhook_secret FROM crm_plugin_bots WHERE id = :id"), {"id": bot_id})
    assert stored == webhook_secret_digest("clear-webhook-secret")


def test_migration_0005_hashes_the_stored_webhook_secrets(app: Flask, state: PluginState) -> None:
    migrate.downgrade(state.db.engine, state.manifest, "0004")
    with state.db.engine.begin() as connection:
        for secret in ("legacy-clear-secret", None, webhook_secret_digest("already-hashed")):
            connection.execute(text("INSERT INTO crm_plugin_bots (platform, credentials_encrypted, webhook_secret, "
                                    "active, leads_enabled, created_at) VALUES ('telegram', :c, :s, :t, :f, :now)"),
                               {"c": state.secrets.seal(CREDENTIALS), "s": secret, "t": True, "f": False,
                                "now": "2026-01-01 00:00:00"})
    migrate.upgrade(state.db.engine, state.manifest)
    with state.db.session() as session:
        rows = [(bot.id, bot.webhook_secret) for bot in session.scalars(select(Bot).order_by(Bot.id))]
    assert [secret for _, secret in rows] == [webhook_secret_digest("legacy-clear-secret"), None,
                                              webhook_secret_digest("already-hashed")]
    legacy_id = rows[0][0]
    for given, status in (("legacy-clear-secret", 200), ("guess", 403)):  # the platform keeps sending the same one
        response = app.test_client().post(f"/crm-plugin/webhook/{legacy_id}", data=b'{"update_id": 1}',
                                          headers={"X-Telegram-Bot-Api-Secret-Token": given,
                                                   "Content-Type": "application/json"})
        assert response.status_code == status


# --- log scrubbing -------------------------------------------------------------------------------------

def test_every_library_logger_carries_the_filter_and_the_hosts_do_not() -> None:
    channels()  # every platform module imported, with its SDK
    install_log_scrubbing()
    loggers = {name: logger for name, logger in logging.Logger.manager.loggerDict.items()
               if isinstance(logger, logging.Logger)}
    library = [name for name in loggers if is_library_logger(name)]
    assert {"viber.bot.api", "TeleBot", "vk_api", "urllib3.connectionpool", "slack_sdk.web.base_client",
            "slack_sdk.web.slack_response", "requests"} <= set(library)
    unfiltered = [name for name in library
                  if not any(isinstance(f, ScrubTokensFilter) for f in loggers[name].filters)]
    assert unfiltered == []
    for host in ("werkzeug", "flask.app", "sqlalchemy.engine", "alembic"):
        assert not is_library_logger(host)
        assert not any(isinstance(f, ScrubTokensFilter) for f in logging.getLogger(host).filters)
    assert set(LIBRARY_LOGGERS) <= set(library)


@pytest.mark.parametrize(("line", "secret"), [
    ("going to send message: {'auth_token': 'viber-auth-token-1', 'receiver': 'x'}", "viber-auth-token-1"),
    ('{"secret": "vk-callback-secret", "type": "message_new"}', "vk-callback-secret"),
    ("Request: method=post url=x params={'url': 'https://crm', 'secret_token': 'tg-hook-secret'}", "tg-hook-secret"),
    ("headers: {'Authorization': 'Bearer xoxb-1-2-abc'}", "xoxb-1-2-abc"),
    ("token xapp-1-A0-123-abcdef in a text", "xapp-1-A0-123-abcdef"),
    ('"GET /bot123456:AAH-secret/getMe HTTP/1.1" 200', "AAH-secret"),
    ("X-Viber-Auth-Token: remembered-token-value", "remembered-token-value"),
])
def test_log_text_is_scrubbed_of_known_shapes_and_remembered_values(line: str, secret: str) -> None:
    remember_secrets(["remembered-token-value"])
    cleaned = scrub_log_text(line)
    assert secret not in cleaned and "***" in cleaned


def test_the_filter_scrubs_tracebacks_too(caplog: pytest.LogCaptureFixture) -> None:
    install_log_scrubbing()
    caplog.set_level(logging.DEBUG)
    remember_secrets(["traceback-secret-value"])
    try:
        raise RuntimeError("failed calling https://api.example/bot42:traceback-secret-value/getMe")
    except RuntimeError:
        logging.getLogger("urllib3.connectionpool").exception("call failed for %s", "traceback-secret-value")
    assert "traceback-secret-value" not in caplog.text and "RuntimeError" in caplog.text
