"""Wake-ups across processes: a commit that adds rows wakes the worker processes at once, not at their next poll.

- After such a commit (``Database`` calls ``Announcer.announce`` for sessions that called ``mark_new_rows``) a
  thread of the committing process tells the others: PostgreSQL ``NOTIFY`` on a connection of its own, and
  Redis ``PUBLISH`` where CRM_PLUGIN_REDIS_URL is set (that carries wake-ups where the database cannot: SQLite
  shared by a web and a worker process). Commits that land while it is telling coalesce into one wake-up.
  Nothing of it runs in the committing request: no statement in its transaction (a NOTIFY there would also
  make PostgreSQL serialise every such commit on its notify queue lock) and no network call after it.
- Each worker process listens on one connection of its own, in a thread (psycopg's ``notifies``, Redis
  pub/sub).

Polling stays the fallback: a listener that lost its connection reconnects, and meanwhile, or when a
wake-up is lost (the process died between its commit and the announcement), the worker still finds the rows
at its next poll.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from typing import Any

from sqlalchemy.engine import make_url

log = logging.getLogger(__name__)

CHANNEL = "crm_plugin_new_rows"  # the PostgreSQL channel and the Redis one
RECONNECT_DELAY = 2.0
CHECK_STOP_EVERY = 0.5  # seconds a listener waits for a notification before it looks whether to stop


class Announcer:
    """Tells the other processes that rows were committed, from a daemon thread of its own (started at the
    first announcement, and again in a forked child); errors are logged once per outage, never raised."""

    def __init__(self, database_url: str, redis_url: str | None) -> None:
        self._postgresql = _conninfo(database_url) if _is_postgresql(database_url) else None
        self._redis_url = redis_url
        self._pending = threading.Event()  # the thread has something to do: announce, or stop
        self._wanted = False  # an announcement is due
        self._closed = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._pid = 0

    @classmethod
    def for_urls(cls, database_url: str, redis_url: str | None) -> Announcer | None:
        """An announcer, or None when nothing outside this process could hear (SQLite and no Redis)."""
        return cls(database_url, redis_url) if redis_url or _is_postgresql(database_url) else None

    def announce(self) -> None:
        """Wake the other processes' workers soon (this returns at once)."""
        if self._closed.is_set():
            return
        if self._thread is None or self._pid != os.getpid():
            with self._lock:
                if self._thread is None or self._pid != os.getpid():
                    self._pid = os.getpid()
                    self._thread = threading.Thread(target=self._run, name="crm-plugin-announce", daemon=True)
                    self._thread.start()
        self._wanted = True
        self._pending.set()

    def close(self, timeout: float = 2.0) -> None:
        """Stop the thread once it has made the announcement still due (a commit just before closing)."""
        self._closed.set()
        self._pending.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def _run(self) -> None:
        targets: list[_Target] = []
        if self._postgresql:
            targets.append(_PostgresqlTarget(self._postgresql))
        if self._redis_url:
            targets.append(_RedisTarget(self._redis_url))
        try:
            while True:
                self._pending.wait()
                self._pending.clear()
                if self._wanted:
                    self._wanted = False  # commits from here on need another announcement: coalesced into one
                    for target in targets:
                        target.tell()
                if self._closed.is_set():
                    return
        finally:
            for target in targets:
                target.close()


class _Target:
    name = ""

    def __init__(self) -> None:
        self._down = False

    def tell(self) -> None:
        try:
            self._tell()
        except Exception as error:  # noqa: BLE001 - a lost wake-up only costs a poll interval
            self.close()
            if not self._down:
                log.warning("crm_plugin: cannot announce new rows on %s (%s); workers poll meanwhile", self.name,
                            error)
            self._down = True
        else:
            if self._down:
                log.info("crm_plugin: announcing new rows on %s again", self.name)
            self._down = False

    def _tell(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError


class _PostgresqlTarget(_Target):
    name = "PostgreSQL"

    def __init__(self, conninfo: str) -> None:
        super().__init__()
        self._conninfo = conninfo
        self._connection: Any = None

    def _tell(self) -> None:
        import psycopg

        if self._connection is None or self._connection.closed:
            self._connection = psycopg.connect(self._conninfo, autocommit=True, connect_timeout=5)
        self._connection.execute(f"NOTIFY {CHANNEL}")

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


class _RedisTarget(_Target):
    name = "Redis"

    def __init__(self, redis_url: str) -> None:
        super().__init__()
        import redis

        self._client = redis.Redis.from_url(redis_url, socket_timeout=1.0, socket_connect_timeout=1.0)

    def _tell(self) -> None:
        self._client.publish(CHANNEL, b"")

    def close(self) -> None:
        self._client.connection_pool.disconnect()


def _is_postgresql(database_url: str) -> bool:
    return make_url(database_url).get_backend_name() == "postgresql"


def _conninfo(database_url: str) -> str:
    return make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)


def listen(database_url: str, redis_url: str | None, wake: Callable[[], None]) -> Callable[[], None]:
    """Call ``wake`` whenever another process commits new rows; returns the function that stops listening."""
    stopping = threading.Event()
    threads = []
    if _is_postgresql(database_url):
        threads.append(threading.Thread(target=_listen_postgresql, args=(database_url, wake, stopping),
                                        name="crm-plugin-listen-pg", daemon=True))
    if redis_url:
        threads.append(threading.Thread(target=_listen_redis, args=(redis_url, wake, stopping),
                                        name="crm-plugin-listen-redis", daemon=True))
    for thread in threads:
        thread.start()

    def stop() -> None:
        stopping.set()
        for thread in threads:
            thread.join(CHECK_STOP_EVERY * 4)

    return stop


def _listen_postgresql(database_url: str, wake: Callable[[], None], stopping: threading.Event) -> None:
    import psycopg

    conninfo = _conninfo(database_url)
    failing = False
    while not stopping.is_set():
        try:
            with psycopg.connect(conninfo, autocommit=True, connect_timeout=5) as connection:
                connection.execute(f"LISTEN {CHANNEL}")
                if failing:
                    log.info("crm_plugin: listening for wake-ups on PostgreSQL again")
                failing = False
                wake()  # rows committed while nobody listened
                while not stopping.is_set():
                    for _notify in connection.notifies(timeout=CHECK_STOP_EVERY, stop_after=1):
                        wake()
        except psycopg.Error as error:
            if not failing:
                log.warning("crm_plugin: lost the PostgreSQL wake-up listener (%s); polling until it is back",
                            error)
            failing = True
            stopping.wait(RECONNECT_DELAY)


def _listen_redis(redis_url: str, wake: Callable[[], None], stopping: threading.Event) -> None:
    import redis

    failing = False
    while not stopping.is_set():
        try:
            client = redis.Redis.from_url(redis_url, socket_connect_timeout=5.0)
            with client.pubsub(ignore_subscribe_messages=True) as pubsub:
                pubsub.subscribe(CHANNEL)
                failing = False
                wake()
                while not stopping.is_set():
                    if pubsub.get_message(timeout=CHECK_STOP_EVERY) is not None:
                        wake()
        except redis.RedisError as error:
            if not failing:
                log.warning("crm_plugin: lost the Redis wake-up subscription (%s); polling until it is back", error)
            failing = True
            stopping.wait(RECONNECT_DELAY)
