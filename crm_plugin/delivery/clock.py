"""Work the delivery worker does on the clock rather than on a stored row: statistics schedules, the morning
route, the chart renderer's warm-up. No new daemon: a small thread of the worker (the embedded thread or
`flask crm-plugin worker`) calls each task when its interval has passed, the first time at once.

Several worker processes run the same tasks, so each task must be safe to run twice at the same moment: it
claims a due time with a unique row (whoever inserts it, sends) and enqueues outbox rows in that transaction.
A failing task is logged and tried again at its next interval; it never stops the clock or the worker.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ClockTask:
    name: str
    run: Callable[[], None]
    interval: float = 30.0  # seconds between runs; math.inf: once, when the worker starts


class Clock:
    def __init__(self, tasks: Sequence[ClockTask], *, tick: float = 1.0) -> None:
        self.tasks = list(tasks)
        self.tick = tick
        self._next = [0.0] * len(self.tasks)
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, name: str = "crm-plugin-clock") -> None:
        if self.tasks and (self._thread is None or not self._thread.is_alive()):
            self._stopping.clear()
            self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stopping.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)
        self._thread = None

    def run_due(self) -> int:
        """Run every task whose time has come; returns how many ran."""
        ran = 0
        for index, task in enumerate(self.tasks):
            now = time.monotonic()
            if now < self._next[index]:
                continue
            self._next[index] = math.inf if math.isinf(task.interval) else now + task.interval
            ran += 1
            try:
                task.run()
            except Exception:  # noqa: BLE001 - one failing task must not stop the others or the worker
                log.exception("crm_plugin clock: task %s failed; it runs again in %.0f s", task.name, task.interval)
        return ran

    def _loop(self) -> None:
        while not self._stopping.is_set():
            self.run_due()
            self._stopping.wait(self.tick)
