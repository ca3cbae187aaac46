"""The plugin's database: its own SQLAlchemy engine and sessions, apart from the host's ORM.

The plugin does not share the host's Flask-SQLAlchemy instance (a Flask app holds only one), so it
keeps a plain SQLAlchemy 2.0 engine on the same database URL.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session, sessionmaker

from . import wakeups
from .group_commit import GroupCommit, Steps, run_steps


def normalise_url(url: str) -> str:
    """A plain postgresql:// URL means psycopg 3 here (the driver the plugin installs), not psycopg2."""
    if url.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def plugin_database_url(plugin_url: str | None, host_url: str | None) -> str | None:
    """The plugin's database: CRM_PLUGIN_DATABASE_URL, else the host's own.

    On a SQLite file the plugin takes a file of its own beside the host's (crm.db -> crm-crm_plugin.db):
    SQLite locks the whole file for writing, and a bot turn writes the plugin's tables in one transaction
    while it asks the CRM to write too (take a job, attach a photo); on one file the CRM would wait for the
    turn's lock until it timed out. PostgreSQL locks rows, so there one database serves both.
    """
    if plugin_url or not host_url:
        return plugin_url or host_url
    url = make_url(host_url)
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return host_url
    path = Path(url.database)
    return url.set(database=str(path.with_name(f"{path.stem}-crm_plugin{path.suffix}"))).render_as_string(
        hide_password=False)


_NEW_ROWS = "crm_plugin_new_rows"
_READ_ONLY = "crm_plugin_read_only"  # an execution option: SQLite opens the transaction deferred (no write lock)
_WRITE_QUEUE_TIMEOUT = 30.0  # the same as SQLite's busy timeout
POOL_SIZE = 12  # PostgreSQL connections a process keeps: about its web threads and its worker's senders


def mark_new_rows(session: Session) -> None:
    """Once this session commits, wake whoever watches the database (outbox and incoming rows were added)."""
    session.info[_NEW_ROWS] = True


class Database:
    """The plugin's engine and its sessions. Commits that added rows (``mark_new_rows``) wake the watchers
    at once: a reply goes out the moment its turn commits, not at the worker's next poll. Only the plugin's
    own sessions are listened to, never the host's."""

    def __init__(self, url: str, *, redis_url: str | None = None) -> None:
        url = normalise_url(url)
        self.url = url
        self.redis_url = redis_url  # where wake-ups are published for other processes too (core/wakeups.py)
        self.engine = make_engine(url)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        # Reads: on SQLite a deferred transaction (a WAL snapshot, no write lock); on PostgreSQL autocommit, so a
        # read is one round trip instead of three (BEGIN, the statement, COMMIT).
        read_options: dict[str, Any] = {_READ_ONLY: True}
        self._autocommit: Engine | None = None
        if self.engine.dialect.name == "postgresql":
            read_options["isolation_level"] = "AUTOCOMMIT"
            self._autocommit = self.engine.execution_options(isolation_level="AUTOCOMMIT")
        self.read_sessions = sessionmaker(self.engine.execution_options(**read_options), expire_on_commit=False)
        # SQLite has one writer at a time, and its busy handler polls with sleeps of up to 100 ms: under
        # load a waiting writer sleeps long after the lock is free. This process's writers queue on a lock
        # of their own instead (other processes still meet SQLite's busy wait).
        self._writers = _WriterQueue() if url.startswith("sqlite") else None
        self._group_commit = (GroupCommit(self.engine, lambda: self._write_turn(urgent=True))
                              if self._writers is not None else None)
        self._watchers: list[Callable[[], None]] = []
        self._lock = threading.Lock()
        event.listen(self.sessions, "after_commit", self._after_commit)
        # Other processes' workers hear of it too (PostgreSQL NOTIFY, Redis), told from a thread of its own.
        self._announcer = wakeups.Announcer.for_urls(url, redis_url)
        if self._announcer is not None:
            self.watch(self._announcer.announce)
        event.listen(self.sessions, "after_rollback", lambda session: session.info.pop(_NEW_ROWS, None))

    @contextmanager
    def session(self, *, urgent: bool = False) -> Iterator[Session]:
        """A session in one transaction: committed on success, rolled back on error. ``urgent``: a short write
        someone waits for (a webhook storing an update): on SQLite it goes before the worker's queued writes."""
        with self._write_turn(urgent), self.sessions.begin() as session:
            yield session

    @contextmanager
    def _write_turn(self, urgent: bool) -> Iterator[None]:
        """On SQLite, this process's turn to write (see _WriterQueue); elsewhere nothing to wait for."""
        if self._writers is None:
            yield
            return
        queued = self._writers.acquire(urgent, _WRITE_QUEUE_TIMEOUT)
        try:
            yield
        finally:
            if queued:
                self._writers.release()

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A session that only reads: on SQLite its transaction takes no write lock, so it never waits for a
        writer (WAL gives it a snapshot); on PostgreSQL each statement commits by itself (no snapshot across
        statements). Never write in it: use ``session``."""
        with self.read_sessions.begin() as session:
            yield session

    def write(self, steps: Steps, *, urgent: bool = False, new_rows: bool = False) -> int:
        """Run Core statements, each with its parameters, in one short transaction without the ORM's unit of
        work; returns the last one's row count. A single statement on PostgreSQL commits by itself (autocommit:
        one round trip instead of BEGIN, the statement and COMMIT); on SQLite, urgent writes that wait at the same
        time share a transaction (core/group_commit.py). ``urgent`` as for ``session``; ``new_rows``: when the
        last statement wrote rows, wake the watchers as a commit that added rows does."""
        if self._autocommit is not None and len(steps) == 1:
            with self._autocommit.connect() as connection:
                count = run_steps(connection, steps)
        elif urgent and self._group_commit and self._writers and not self._writers.held_here():
            # (not in a thread that holds the write lock already: a leader would wait for it for ever)
            count = self._group_commit.run(steps)
        else:
            with self._write_turn(urgent), self.engine.begin() as connection:
                count = run_steps(connection, steps)
        if new_rows and count:
            self._tell_watchers()
        return count

    def watch(self, wake: Callable[[], None]) -> Callable[[], None]:
        """Call ``wake`` after each commit that added rows; returns the function that stops it."""
        with self._lock:
            self._watchers.append(wake)

        def unwatch() -> None:
            with self._lock:
                if wake in self._watchers:
                    self._watchers.remove(wake)

        return unwatch

    def _after_commit(self, session: Session) -> None:
        if session.info.pop(_NEW_ROWS, False):
            self._tell_watchers()

    def _tell_watchers(self) -> None:
        with self._lock:
            watchers = list(self._watchers)
        for wake in watchers:
            wake()

    def listen_to_other_processes(self, wake: Callable[[], None]) -> Callable[[], None]:
        """Call ``wake`` when another process commits new rows (PostgreSQL NOTIFY, Redis); returns the stop."""
        return wakeups.listen(self.url, self.redis_url, wake)

    def dispose(self) -> None:
        if self._announcer is not None:
            self._announcer.close()
        self.engine.dispose()


class _WriterQueue:
    """This process's SQLite writers, one at a time (reentrant, like the transactions that nest in a thread);
    urgent ones go before the others that wait."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._owner: int | None = None
        self._depth = 0
        self._urgent_waiting = 0

    def acquire(self, urgent: bool, timeout: float) -> bool:
        me = threading.get_ident()
        with self._changed:
            if self._owner == me:
                self._depth += 1
                return True
            self._urgent_waiting += urgent
            try:
                free = self._changed.wait_for(
                    lambda: self._owner is None and (urgent or not self._urgent_waiting), timeout)
            finally:
                self._urgent_waiting -= urgent
            if free:
                self._owner, self._depth = me, 1
            return free

    def held_here(self) -> bool:
        """Whether this thread holds the queue (in a transaction that writes)."""
        return self._owner == threading.get_ident()

    def release(self) -> None:
        with self._changed:
            self._depth -= 1
            if self._depth == 0:
                self._owner = None
                self._changed.notify_all()


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        # The web process and the worker thread share the file: wait for locks instead of failing.
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        # BEGIN IMMEDIATE takes the write lock up front: a deferred read transaction that later writes
        # fails at once with SQLITE_BUSY when another connection wrote in between (WAL snapshot rule).
        # Read-only sessions (Database.read) begin deferred: they never write, so the rule does not bite them.
        event.listen(engine, "begin", lambda conn: conn.exec_driver_sql(
            "BEGIN" if conn.get_execution_options().get(_READ_ONLY) else "BEGIN IMMEDIATE"))
        return engine
    # Kept connections for the web threads and the worker's senders at once: a connection the pool cannot keep is
    # closed on return, and opening one anew costs both sides more than the statement it serves.
    engine = create_engine(url, pool_size=POOL_SIZE, max_overflow=2 * POOL_SIZE)
    event.listen(engine.pool, "checkin", _note_checkin)
    event.listen(engine.pool, "checkout", _ping_if_idle)
    return engine


PING_AFTER_IDLE = 1.0  # seconds: a pooled connection idle longer is pinged before use


def _note_checkin(_dbapi_connection: Any, record: Any) -> None:
    record.info["checked_in_at"] = time.monotonic()


def _ping_if_idle(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
    """A connection the database may have closed meanwhile (a restart, an idle timeout) is pinged before use and
    replaced when dead: pool_pre_ping's protection, without its round trip on every checkout under load."""
    checked_in_at = record.info.get("checked_in_at")
    if checked_in_at is None or time.monotonic() - checked_in_at < PING_AFTER_IDLE:
        return  # just connected, or in use a moment ago
    try:
        with dbapi_connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        dbapi_connection.rollback()
    except Exception as error:  # noqa: BLE001 - any failure: the pool connects anew (up to three times)
        raise DisconnectionError(str(error)) from error


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # let the "begin" listener issue BEGIN itself
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    # synchronous stays FULL (SQLite's default): a webhook answered 200 must survive a power loss too, since
    # the platform will not send it again. NORMAL would save an fsync per commit (about 2.5 ms here).
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()
