"""SQLite's group commit (core/group_commit.py): urgent writes that wait at the same time share one transaction,
each caller returns once its own write is committed, and a write that cannot be stored fails only itself."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.exc import IntegrityError

from crm_plugin.core.db import Database

INSERT = text("INSERT INTO notes (body) VALUES (:body)")
INSERT_IF_NEW = text("INSERT INTO notes (body) VALUES (:body) ON CONFLICT DO NOTHING")


@pytest.fixture
def database(tmp_path: Path) -> Iterator[Database]:
    database = Database(f"sqlite:///{tmp_path / 'plugin.db'}")
    with database.session() as session:
        session.execute(text("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT UNIQUE NOT NULL)"))
    yield database
    database.dispose()


def _begins(database: Database) -> list[str]:
    seen: list[str] = []
    event.listen(database.engine, "before_cursor_execute",
                 lambda *args: seen.append(args[2]) if args[2].startswith("BEGIN") else None)
    return seen


def _write_while_the_lock_is_held(database: Database, writes: list[Any]) -> dict[str, Any]:
    """Start every write while this thread holds the write lock, so all of them wait; then let go. The first
    write leads alone (it took its batch before waiting for the lock); the rest wait together behind it."""
    outcomes: dict[str, Any] = {}
    path = database.engine.url.database

    def write(body: str, statement: Any) -> None:
        try:
            outcomes[body] = database.write([(statement, {"body": body})], urgent=True)
        except IntegrityError as error:
            outcomes[body] = error
            return
        with sqlite3.connect(str(path)) as other:  # committed by the time the caller returns
            outcomes[body + " seen"] = other.execute("SELECT count(*) FROM notes WHERE body = ?", (body,)).fetchone()

    group = database._group_commit
    assert group is not None

    def until(condition: Any) -> None:
        deadline = time.monotonic() + 10
        while not condition() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert condition()

    threads = [threading.Thread(target=write, args=item) for item in writes]
    with database.session():
        threads[0].start()
        until(lambda: group._leading and not group._waiting)  # the leader took its batch and waits for the lock
        for thread in threads[1:]:
            thread.start()
        until(lambda: len(group._waiting) == len(writes) - 1)
    for thread in threads:
        thread.join(10)
    return outcomes


def test_writes_that_wait_together_share_one_transaction(database: Database) -> None:
    begins = _begins(database)
    bodies = [f"note {n}" for n in range(6)]
    outcomes = _write_while_the_lock_is_held(database, [(body, INSERT) for body in bodies])

    assert len(begins) == 2  # the first write alone, then the five that waited behind it together
    assert [outcomes[body] for body in bodies] == [1] * 6
    assert [outcomes[body + " seen"] for body in bodies] == [(1,)] * 6
    with database.read() as session:
        assert sorted(session.scalars(text("SELECT body FROM notes"))) == bodies


def test_a_write_that_cannot_be_stored_fails_alone(database: Database) -> None:
    database.write([(INSERT, {"body": "taken"})], urgent=True)
    outcomes = _write_while_the_lock_is_held(database, [
        ("first", INSERT), ("second", INSERT), ("taken", INSERT), ("third", INSERT), ("taken again", INSERT_IF_NEW)])

    assert isinstance(outcomes["taken"], IntegrityError)  # the unique body is there already
    assert [outcomes[body] for body in ("first", "second", "third", "taken again")] == [1, 1, 1, 1]
    with database.read() as session:
        assert sorted(session.scalars(text("SELECT body FROM notes"))) == [
            "first", "second", "taken", "taken again", "third"]


def test_a_repeated_write_in_the_same_batch_counts_nothing(database: Database) -> None:
    outcomes: list[int] = []

    def write() -> None:
        outcomes.append(database.write([(INSERT_IF_NEW, {"body": "same"})], urgent=True))

    threads = [threading.Thread(target=write) for _ in range(4)]
    with database.session():
        for thread in threads:
            thread.start()
        time.sleep(0.2)
    for thread in threads:
        thread.join(10)
    assert sorted(outcomes) == [0, 0, 0, 1]  # the key is stored once, whichever batch each repeat fell into


def test_a_thread_that_holds_the_write_lock_writes_without_waiting_for_itself(database: Database) -> None:
    done: list[int] = []

    def write_inside_a_transaction() -> None:
        with database.session():
            done.append(database.write([(INSERT, {"body": "inside"})], urgent=True))

    thread = threading.Thread(target=write_inside_a_transaction)
    thread.start()
    thread.join(10)
    assert not thread.is_alive() and done == [1]
