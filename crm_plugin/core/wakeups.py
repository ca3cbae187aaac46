"""Wake-ups across processes: a commit that adds rows wakes the worker processes at once, not at their next poll.

- PostgreSQL: the committing transaction itself runs ``pg_notify`` (``Database`` does it for sessions that
  called ``mark_new_rows``), so the notification goes out with the rows, and never for a rolled-back one.
  Each worker process listens on one connection of its own, in a thread (psycopg's ``notifies``).
- Redis (CRM_PLUGIN_REDIS_URL): every process publishes after such a commit and workers subscribe; this
  carries wake-ups where the database cannot (SQLite shared by a web and a worker process).

Polling stays the fallback: a listener that lost its connection reconnects, and meanwhile, or when a
notification is lost, the worker still finds the rows at its next poll.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from sqlalchemy.engine import make_url

log = logging.getLogger(__name__)

CHANNEL = "crm_plugin_new_rows"  # the PostgreSQL channel and the Redis one
RECONNECT_DELAY = 2.0
CHECK_STOP_EVERY = 0.5  # seconds a listener waits for a notification before it looks whether to stop


def publisher(redis_url: str) -> Callable[[], None]:
    """A function that tells every subscribed worker that rows were committed (Redis PUBLISH); errors are
    logged once per outage, never raised into the commit that called it."""
    import redis

    client = redis.Redis.from_url(redis_url, socket_timeout=1.0, socket_connect_timeout=1.0)
    down = threading.Event()

    def publish() -> None:
        try:
            client.publish(CHANNEL, b"")
        except redis.RedisError as error:
            if not down.is_set():
                log.warning("crm_plugin: cannot publish a wake-up to Redis (%s); workers poll meanwhile", error)
            down.set()
        else:
            down.clear()

    return publish


def listen(database_url: str, redis_url: str | None, wake: Callable[[], None]) -> Callable[[], None]:
    """Call ``wake`` whenever another process commits new rows; returns the function that stops listening."""
    stopping = threading.Event()
    threads = []
    if make_url(database_url).get_backend_name() == "postgresql":
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

    conninfo = make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)
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
