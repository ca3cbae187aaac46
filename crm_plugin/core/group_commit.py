"""Group commit for SQLite's one writer: writes that arrive while another commits go in one transaction together.

SQLite lets one connection write at a time. Under a burst of webhooks each short write waited for the write lock
behind the others, and held it about three times its CPU time: every statement hands the interpreter lock to
another thread and waits to get it back, and every commit syncs the disk. Writes that queue up meanwhile are
committed together (one BEGIN, one COMMIT and one sync for all of them); each caller returns only once its own
write is committed, so nothing is answered before it is durable.

The first writer to arrive leads: it commits every write waiting at that moment, its own among them, then hands
the lead to the oldest write that arrived meanwhile and returns. When a batch fails, each of its writes runs again
alone, so a write that cannot be stored fails only itself.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from typing import Any

from sqlalchemy import Connection, Engine, Executable

Steps = Sequence[tuple[Executable, dict[str, Any]]]


class _Write:
    __slots__ = ("steps", "ready", "leads", "count", "error")

    def __init__(self, steps: Steps) -> None:
        self.steps = steps
        self.ready = threading.Event()  # set when committed (or failed), or when this write is to lead
        self.leads = False
        self.count = 0
        self.error: BaseException | None = None


class GroupCommit:
    """Runs each caller's statements; callers that wait at the same time share one transaction."""

    def __init__(self, engine: Engine, write_turn: Callable[[], AbstractContextManager[None]]) -> None:
        self._engine = engine
        self._write_turn = write_turn  # this process's turn at SQLite's write lock
        self._lock = threading.Lock()
        self._waiting: list[_Write] = []
        self._leading = False

    def run(self, steps: Steps) -> int:
        """Run ``steps`` (statements with their parameters) in order; returns the last one's row count once
        committed; raises what running them alone raised."""
        write = _Write(steps)
        with self._lock:
            self._waiting.append(write)
            leads = write.leads = not self._leading
            self._leading = True
        if not leads:
            write.ready.wait()  # committed by a leader, or made the leader
        if write.leads:
            self._lead()
        if write.error is not None:
            raise write.error
        return write.count

    def _lead(self) -> None:
        with self._lock:
            batch, self._waiting = self._waiting, []
        try:
            self._commit(batch)
        finally:
            for write in batch:  # interrupted (a BaseException): nobody of this batch waits for ever
                if not write.ready.is_set():
                    write.error, write.leads = write.error or RuntimeError("the group commit was interrupted"), False
                    write.ready.set()
            with self._lock:
                if self._waiting:  # the oldest write that arrived meanwhile leads the next batch
                    self._waiting[0].leads = True
                    self._waiting[0].ready.set()
                else:
                    self._leading = False

    def _commit(self, batch: list[_Write]) -> None:
        try:
            with self._write_turn(), self._engine.begin() as connection:
                counts = [run_steps(connection, write.steps) for write in batch]
        except Exception as error:  # noqa: BLE001 - handed to the caller whose write it was
            if len(batch) > 1:
                for write in batch:
                    self._commit([write])
                return
            counts, batch[0].error = [0], error
        for write, count in zip(batch, counts):
            write.count, write.leads = count, False
            write.ready.set()


def run_steps(connection: Connection, steps: Steps) -> int:
    """Run statements with their parameters in order; the last one's row count."""
    count = 0
    for statement, params in steps:
        # SQLAlchemy keeps an INSERT's row count only when asked to.
        count = connection.execute(statement, params, execution_options={"preserve_rowcount": True}).rowcount
    return count
