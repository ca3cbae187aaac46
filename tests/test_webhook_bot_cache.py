"""The webhook's cache of bot rows (crm_plugin.web.webhooks._BotRows): a busy bot's row is read once per
BOT_ROW_TTL, not once per update; a change made through this process's sessions is seen by the very next
request; a change made by another process (here: a Core statement on a connection of its own, which the
sessions' listeners never see) is seen once the TTL has passed; ids with no bot are never kept."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import Engine, delete, event, insert, update

from crm_plugin import PluginState
from crm_plugin.core.crypto import webhook_secret_digest
from crm_plugin.core.models import Bot, utcnow
from crm_plugin.web import webhooks
from tests.test_webhooks import CASES, TELEGRAM_SECRET, add_bot, post

CASE = CASES["telegram"]  # its signature is a header: the same body can be posted again and again
BODY = CASE.body()
SIGNED = CASE.sign(BODY)


class Clock:
    """The cache's clock, moved by hand: no test waits for the TTL to run out."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(webhooks, "_now", clock)
    return clock


@pytest.fixture
def bot_id(state: PluginState) -> int:
    return add_bot(state, CASE)


class BotReads:
    """Counts the statements on the plugin's engine that read crm_plugin_bots."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "crm_plugin_bots" in statement:
            self.count += 1


@pytest.fixture
def bot_reads(state: PluginState) -> Iterator[BotReads]:
    reads = BotReads()
    event.listen(state.db.engine, "before_cursor_execute", reads)
    yield reads
    event.remove(state.db.engine, "before_cursor_execute", reads)


def as_another_process(engine: Engine, statement: Any) -> None:
    """A change the plugin's sessions never hear of: Core, on a connection of its own."""
    with engine.begin() as connection:
        connection.execute(statement)


def status(client: FlaskClient, bot_id: int, headers: dict[str, str] = SIGNED) -> int:
    return int(post(client, bot_id, BODY, headers).status_code)


def test_two_posts_for_one_bot_read_its_row_once(client: FlaskClient, bot_id: int, bot_reads: BotReads,
                                                 clock: Clock) -> None:
    assert [status(client, bot_id), status(client, bot_id)] == [200, 200]
    assert bot_reads.count == 1
    clock.now += webhooks.BOT_ROW_TTL  # trusted no longer: read again, once
    assert [status(client, bot_id), status(client, bot_id)] == [200, 200]
    assert bot_reads.count == 2


def test_changes_made_in_this_process_are_seen_by_the_next_post(client: FlaskClient, state: PluginState,
                                                                bot_id: int, clock: Clock) -> None:
    assert status(client, bot_id) == 200  # cached now; the clock never moves in this test
    with state.db.session() as session:
        session.get(Bot, bot_id).active = False  # type: ignore[union-attr]
    assert status(client, bot_id) == 404
    with state.db.session() as session:
        session.get(Bot, bot_id).active = True  # type: ignore[union-attr]
    assert status(client, bot_id) == 200
    with state.db.session() as session:
        session.get(Bot, bot_id).webhook_secret = "a-new-secret"  # type: ignore[union-attr]
    assert status(client, bot_id) == 403  # the old secret is refused at once
    assert status(client, bot_id, {"X-Telegram-Bot-Api-Secret-Token": "a-new-secret"}) == 200
    with state.db.session() as session:  # an ORM bulk UPDATE: no object to look at, every bot is dropped
        session.execute(update(Bot).where(Bot.id == bot_id).values(active=False))
    assert status(client, bot_id, {"X-Telegram-Bot-Api-Secret-Token": "a-new-secret"}) == 404
    with state.db.session() as session:
        session.execute(update(Bot).where(Bot.id == bot_id).values(active=True))
    with state.db.session() as session:
        session.delete(session.get(Bot, bot_id))
    assert status(client, bot_id, {"X-Telegram-Bot-Api-Secret-Token": "a-new-secret"}) == 404


def test_a_read_that_overlaps_a_commit_is_not_kept(client: FlaskClient, state: PluginState, bot_id: int,
                                                   clock: Clock) -> None:
    """The bot is switched off while the webhook reads its row: the row the read brought back (still on) answers
    that request, but must not be served to the next one."""
    switched = []

    def switch_off_after_the_read(*_args: Any) -> None:
        if not switched and "crm_plugin_bots" in _args[2]:
            switched.append(True)
            with state.db.session() as session:
                session.get(Bot, bot_id).active = False  # type: ignore[union-attr]

    event.listen(state.db.engine, "after_cursor_execute", switch_off_after_the_read)
    try:
        assert status(client, bot_id) == 200
    finally:
        event.remove(state.db.engine, "after_cursor_execute", switch_off_after_the_read)
    assert switched and status(client, bot_id) == 404


def test_another_process_change_is_seen_after_the_ttl(client: FlaskClient, state: PluginState, bot_id: int,
                                                      clock: Clock) -> None:
    bots = Bot.__table__
    assert status(client, bot_id) == 200
    as_another_process(state.db.engine, update(bots).where(bots.c.id == bot_id).values(active=False))
    clock.now += webhooks.BOT_ROW_TTL / 2
    assert status(client, bot_id) == 200  # within the TTL the cached row is trusted: the documented delay
    clock.now += webhooks.BOT_ROW_TTL / 2
    assert status(client, bot_id) == 404
    as_another_process(state.db.engine, update(bots).where(bots.c.id == bot_id).values(active=True))
    clock.now += webhooks.BOT_ROW_TTL
    assert status(client, bot_id) == 200
    as_another_process(state.db.engine, delete(bots).where(bots.c.id == bot_id))
    clock.now += webhooks.BOT_ROW_TTL
    assert status(client, bot_id) == 404
    assert len(webhooks._bot_rows(state)) == 0  # a deleted bot leaves the cache too


def test_missing_bots_are_neither_kept_nor_remembered_as_missing(client: FlaskClient, state: PluginState,
                                                                 bot_id: int, bot_reads: BotReads,
                                                                 clock: Clock) -> None:
    assert status(client, bot_id) == 200
    strangers = [bot_id + 1, 1_000_000, *range(webhooks.MAX_BOT_ID - 50, webhooks.MAX_BOT_ID + 1)]
    for stranger in strangers:
        assert status(client, stranger) == 404
    assert status(client, bot_id + 1) == 404
    assert len(webhooks._bot_rows(state)) == 1  # only the bot that exists
    assert bot_reads.count == 1 + len(strangers) + 1  # every post to a missing bot reads again
    # A bot that appears (made by another process) is served at once, not after a "missing" entry runs out.
    as_another_process(state.db.engine, insert(Bot.__table__).values(
        id=1_000_000, platform=CASE.platform, name="late", credentials_encrypted=state.secrets.seal(CASE.credentials),
        webhook_secret=webhook_secret_digest(TELEGRAM_SECRET), active=True, leads_enabled=False, created_at=utcnow()))
    assert status(client, 1_000_000) == 200
