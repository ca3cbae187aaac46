"""The plugin's database connections: a pooled PostgreSQL connection the server closed meanwhile (a restart, an
idle timeout) is replaced before use instead of failing the webhook or turn that draws it, and a busy pool is
not pinged on every checkout; on SQLite a webhook's write goes before the worker's queued ones."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError

from crm_plugin.core import db as plugin_db
from crm_plugin.core.db import Database, normalise_url


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    yield database
    database.dispose()


def _backend_pid(database: Database) -> int:
    with database.session() as session:
        return int(session.execute(text("SELECT pg_backend_pid()")).scalar_one())


def _terminated(database: Database, database_url: str) -> int:
    """The backend pid of the pooled connection, which the server has now closed."""
    pid = _backend_pid(database)  # now idle in the pool
    other = create_engine(normalise_url(database_url))
    try:
        with other.begin() as connection:
            assert connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar_one()
    finally:
        other.dispose()
    time.sleep(0.1)  # the backend is gone
    return pid


def test_a_connection_the_server_closed_is_replaced_before_use(database: Database, database_url: str,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("PostgreSQL closes connections from the server side")
    first = _terminated(database, database_url)
    monkeypatch.setattr(plugin_db, "PING_AFTER_IDLE", 0.0)  # it has been idle "long enough"

    assert _backend_pid(database) != first  # a new connection, and no error


def test_a_connection_used_a_moment_ago_is_not_pinged(database: Database, database_url: str,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """Under load every checkout finds a connection used a moment ago: no ping round trip for it. (Were the
    server to close one in that moment, the statement fails once and the pool replaces the connection.)"""
    if not database_url.startswith("postgresql"):
        pytest.skip("PostgreSQL closes connections from the server side")
    monkeypatch.setattr(plugin_db, "PING_AFTER_IDLE", 3600.0)
    first = _terminated(database, database_url)

    with pytest.raises(DBAPIError) as failure:  # not pinged, so the dead connection was used
        _backend_pid(database)
    assert failure.value.connection_invalidated
    assert _backend_pid(database) != first  # and replaced right after


def test_an_urgent_writer_goes_before_the_waiting_ones(database: Database, database_url: str) -> None:
    if not database_url.startswith("sqlite"):
        pytest.skip("PostgreSQL writers do not queue in the process")
    order: list[str] = []
    holding, release = threading.Event(), threading.Event()

    def hold() -> None:
        with database.session():
            holding.set()
            release.wait(5)

    def write(name: str, urgent: bool) -> None:
        with database.session(urgent=urgent):
            order.append(name)

    holder = threading.Thread(target=hold)
    holder.start()
    assert holding.wait(5)
    waiting = [threading.Thread(target=write, args=(f"worker {n}", False)) for n in range(3)]
    for thread in waiting:
        thread.start()
    time.sleep(0.2)  # the worker's writes are queued first
    webhook = threading.Thread(target=write, args=("webhook", True))
    webhook.start()
    time.sleep(0.2)
    release.set()
    for thread in [holder, webhook, *waiting]:
        thread.join(5)
    assert order[0] == "webhook" and sorted(order[1:]) == ["worker 0", "worker 1", "worker 2"]
