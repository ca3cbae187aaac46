"""Wake this process's worker the moment a transaction that added outbox or inbound rows commits.

``outbox.enqueue`` and ``outbox.log_inbound`` mark their session; after that session commits, the workers
watching the same engine are woken, so a reply goes out at once instead of at the next poll. Rows written
by other processes are found by the worker's short poll.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.orm import Session

_FLAG = "crm_plugin_new_rows"
_lock = threading.Lock()
_watchers: dict[int, list[Callable[[], None]]] = {}  # id(engine) -> wake callbacks


def mark(session: Session) -> None:
    session.info[_FLAG] = True


def watch(engine: Engine, wake: Callable[[], None]) -> Callable[[], None]:
    """Call ``wake`` after each commit that added rows on ``engine``; returns the function that stops it."""
    with _lock:
        _watchers.setdefault(id(engine), []).append(wake)

    def unwatch() -> None:
        with _lock:
            callbacks = _watchers.get(id(engine), [])
            if wake in callbacks:
                callbacks.remove(wake)
            if not callbacks:
                _watchers.pop(id(engine), None)

    return unwatch


def _engine_of(session: Session) -> Any:
    bind = session.get_bind()
    return getattr(bind, "engine", bind)


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    if not session.info.pop(_FLAG, False):
        return
    with _lock:
        callbacks = list(_watchers.get(id(_engine_of(session)), ()))
    for wake in callbacks:
        wake()


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    session.info.pop(_FLAG, None)  # nothing was written after all
