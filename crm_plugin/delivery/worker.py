"""The delivery worker: claims due rows and hands them to a small pool of sender threads.

One dispatcher loop claims at most as many rows as there are idle senders (so nothing claimed waits in
memory), then sleeps until a sender finishes, a commit in this process adds rows (``notify``), a row it
put back falls due, or the poll interval passes (rows written by other processes).

    worker = Worker.from_settings(state, handle_received=handle_received)
    worker.start_thread()      # embedded: a daemon thread in the web process
    worker.run_forever()       # `flask crm-plugin worker`: until SIGTERM/SIGINT
    worker.drain(timeout=5)    # tests: until nothing is pending
"""

from __future__ import annotations

import heapq
import itertools
import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sqlalchemy import func, select

from ..core.models import Bot, Message, MessageStatus, utcnow
from ..core.state import PluginState
from . import claim
from .outbox import resend
from .ratelimit import RateLimiter, limiter_from_url
from .sender import ClaimHandler, Policy

log = logging.getLogger(__name__)

__all__ = ["Worker", "resend"]

_numbers = itertools.count(1)
HandleReceived = Callable[[PluginState, int], None]


def _new_id() -> str:
    host = socket.gethostname()[:40]
    return f"{host}:{os.getpid()}:{next(_numbers)}"


class Worker:
    def __init__(self, state: PluginState, *, handle_received: HandleReceived | None = None,
                 concurrency: int = 8, lease: float = 60.0, poll: float = 1.0, policy: Policy | None = None,
                 limiter: RateLimiter | None = None, worker_id: str | None = None) -> None:
        self.state = state
        self.id = worker_id or _new_id()
        self.concurrency = max(1, concurrency)
        self.lease = lease  # seconds a claim holds; a crashed worker's rows are retried after it
        self.poll = poll  # seconds between looks for rows written by other processes
        self.limiter = limiter or limiter_from_url(None)
        self._handle_received = handle_received  # runs the bot on an incoming row; None: outgoing only
        self.sender = ClaimHandler(self.state, self.id, self.limiter, policy or Policy(), self._remember_due,
                             self._handle_received)
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._idle = threading.Condition()
        self._busy = 0
        self._due: list[float] = []  # wall-clock times when rows this worker put back fall due
        self._due_lock = threading.Lock()
        self._last_claim_at = 0.0
        self._pool: ThreadPoolExecutor | None = None
        self._thread: threading.Thread | None = None
        self._unwatch: Callable[[], None] | None = None

    @classmethod
    def from_settings(cls, state: PluginState, **overrides: Any) -> Worker:
        """A worker configured from the plugin's settings; keyword arguments override them."""
        settings = state.settings
        options: dict[str, Any] = {
            "concurrency": settings.worker_concurrency,
            "lease": settings.worker_lease,
            "poll": settings.worker_poll,
            "policy": Policy(max_attempts=settings.send_max_attempts),
        }
        options.update(overrides)
        if "limiter" not in options:
            options["limiter"] = limiter_from_url(settings.redis_url)
        return cls(state, **options)

    # --- life cycle ----------------------------------------------------------------------------------
    def wake(self) -> None:
        """Look for work now (rows were just committed)."""
        self._wake.set()

    def start_thread(self) -> Worker:
        """Run in a daemon thread of this process (the embedded default)."""
        if self._thread is None or not self._thread.is_alive():
            self._open()
            self._thread = threading.Thread(target=self._loop, name=f"crm-plugin-worker {self.id}", daemon=True)
            self._thread.start()
            log.info("crm_plugin worker %s started in a thread", self.id)
        return self

    def stop(self, timeout: float = 10.0) -> bool:
        """Stop claiming, let the sends in flight finish (up to ``timeout``); True when all finished.
        Rows still in flight after that keep their lease and are sent again once it lapses."""
        deadline = time.monotonic() + timeout
        self._stopping.set()
        self._wake.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(max(0.0, deadline - time.monotonic()))
        with self._idle:
            finished = self._idle.wait_for(lambda: self._busy == 0, max(0.0, deadline - time.monotonic()))
        self._close()
        return finished

    def run_forever(self) -> None:
        """Work until SIGTERM or SIGINT (the `flask crm-plugin worker` process), then stop gracefully."""
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGTERM, signal.SIGINT):
                signal.signal(signum, self._on_signal)
        self._open()
        log.info("crm_plugin worker %s running: %d senders, lease %.0f s", self.id, self.concurrency, self.lease)
        try:
            self._loop()
        finally:
            self.stop()
            log.info("crm_plugin worker %s stopped", self.id)

    def run_once(self) -> int:
        """Claim what is due now, process it, wait for it; returns how many rows were processed."""
        self._open()
        count = self._dispatch()
        with self._idle:
            self._idle.wait_for(lambda: self._busy == 0)
        return count

    def drain(self, timeout: float = 10.0) -> bool:
        """Work until nothing is pending (queued, sending or unhandled) or ``timeout``; True when empty."""
        self._open()
        deadline = time.monotonic() + timeout
        self._loop(done=lambda: self._busy == 0 and not self.pending(), deadline=deadline)
        return self._busy == 0 and not self.pending()

    def pending(self) -> int:
        """Rows still to process: queued or sending, and received when the bot can run here."""
        statuses = [MessageStatus.QUEUED, MessageStatus.SENDING]
        if self._handle_received is not None:
            statuses.append(MessageStatus.RECEIVED)
        with self.state.db.session() as session:
            return session.scalar(select(func.count()).select_from(Message)
                                  .where(Message.status.in_(statuses))) or 0

    def _on_signal(self, signum: int, _frame: Any) -> None:
        log.info("crm_plugin worker %s: signal %d, stopping", self.id, signum)
        self._stopping.set()
        self._wake.set()

    def _open(self) -> None:
        if self._pool is None:
            self._stopping.clear()
            self._pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix="crm-plugin-sender")
            self._unwatch = self.state.db.watch(self.wake)

    def _close(self) -> None:
        if self._unwatch is not None:
            self._unwatch()
            self._unwatch = None
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None

    # --- the loop ------------------------------------------------------------------------------------
    def _loop(self, done: Callable[[], bool] = lambda: False, deadline: float | None = None) -> None:
        while not self._stopping.is_set() and not done():
            if deadline is not None and time.monotonic() >= deadline:
                return
            self._wake.clear()
            try:
                self._dispatch()
            except Exception:  # noqa: BLE001 - the database may be away for a moment: keep the thread alive
                log.exception("crm_plugin worker %s: claiming failed; trying again", self.id)
                self._stopping.wait(self.poll)
                continue
            timeout = self._idle_timeout()
            if deadline is not None:
                timeout = min(timeout, max(0.0, deadline - time.monotonic()))
            self._wake.wait(timeout)

    def _dispatch(self) -> int:
        """Claim as many rows as there are idle senders and hand them over."""
        free = self.concurrency - self._busy
        if free <= 0:
            return 0
        now = utcnow()
        self._last_claim_at = now.timestamp()
        with self.state.db.session() as session:
            incoming: list[Message] = []
            if self._handle_received is not None:
                incoming = claim.claim_incoming(session, self.id, limit=free, lease=self.lease, now=now)
            outgoing = claim.claim_outgoing(session, self.id, limit=free - len(incoming), lease=self.lease, now=now)
            bot_ids = {m.bot_id for m in outgoing}
            bots = {b.id: b for b in session.scalars(select(Bot).where(Bot.id.in_(bot_ids)))} if bot_ids else {}
        for message in incoming:
            self._submit(self.sender.handle, message)
        for message in outgoing:
            self._submit(self.sender.send, message, bots.get(message.bot_id))
        return len(incoming) + len(outgoing)

    def _submit(self, job: Callable[..., None], *args: Any) -> None:
        assert self._pool is not None
        with self._idle:
            self._busy += 1
        self._pool.submit(self._run, job, *args)

    def _run(self, job: Callable[..., None], *args: Any) -> None:
        try:
            with self.state.host_context():  # the gateway may need the host's app context (files, leads)
                job(*args)
        except Exception:  # noqa: BLE001 - the row keeps its lease and is retried when it lapses
            log.exception("crm_plugin worker %s: a sender failed", self.id)
        finally:
            with self._idle:
                self._busy -= 1
                self._idle.notify_all()
            self._wake.set()

    def _remember_due(self, at: Any) -> None:
        with self._due_lock:
            heapq.heappush(self._due, at.timestamp())

    def _idle_timeout(self) -> float:
        """Until the next row this worker put back falls due, at most the poll interval."""
        with self._due_lock:
            while self._due and self._due[0] <= self._last_claim_at:
                heapq.heappop(self._due)  # the last claim already saw it due
            if not self._due:
                return self.poll
            return min(self.poll, max(0.0, self._due[0] - time.time()) + 0.01)
