"""Webhook requests being answered in this process, so that the embedded worker lets them go first.

A bot turn is CPU work under the same interpreter lock as the webhook threads, and the platform waits for a
webhook's answer (Telegram retries a slow one) while a turn can wait a moment. The worker thread starts a turn
when no webhook request is in flight, or after a short wait at most, so turns still run under a steady load.
In a worker process of its own nothing is ever in flight and the wait costs nothing.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager


class InFlight:
    def __init__(self) -> None:
        self._count = 0
        self._changed = threading.Condition()

    @contextmanager
    def request(self) -> Iterator[None]:
        """Count a webhook request while it is answered."""
        with self._changed:
            self._count += 1
        try:
            yield
        finally:
            with self._changed:
                self._count -= 1
                if self._count == 0:
                    self._changed.notify_all()

    def wait_quiet(self, timeout: float) -> bool:
        """Wait until no request is in flight, ``timeout`` at most; True when quiet."""
        with self._changed:
            return self._changed.wait_for(lambda: self._count == 0, timeout)
