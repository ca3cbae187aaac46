"""The delivery worker: claims due rows and hands them to a small pool of sender threads.

One dispatcher loop claims at most as many rows as there are idle senders (so nothing claimed waits in
memory), bot by bot in turn: a bot whose rate budget is spent for now (``LOOKAHEAD``) is skipped, and each
bot takes at most the sends its budget allows in that time, so bots never wait for each other's backlog and
no sender thread sleeps long on one bot's pacing. Then it sleeps until a sender finishes, a commit adds rows
(in this process: ``Database.watch``; in others: PostgreSQL NOTIFY or Redis, core/wakeups.py), a row it put
back or a skipped bot's budget falls due, or the poll interval passes (the fallback). Incoming rows (the bot's
turns) take at most ``turns`` of the senders at once, so the others keep sending while people write.

    worker = Worker.from_settings(state, handle_received=handle_received)
    worker.start_thread()      # embedded: a daemon thread in the web process
    worker.run_forever()       # `flask crm-plugin worker`: until SIGTERM/SIGINT
    worker.drain(timeout=5)    # tests: until nothing is pending

Beside it runs the worker's clock (clock.py): schedules and other timed tasks, in the thread and the process
modes, not in ``run_once``/``drain`` (tests call those tasks themselves).
"""

from __future__ import annotations

import heapq
import itertools
import logging
import math
import os
import signal
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from sqlalchemy import func, select

from ..core.models import Bot, Message, MessageStatus, utcnow
from ..core.state import PluginState
from . import claim
from .clock import Clock, ClockTask
from .outbox import resend
from .ratelimit import Limit, RateLimiter, limiter_from_url
from .sender import ClaimHandler, Policy

log = logging.getLogger(__name__)

__all__ = ["Worker", "resend"]

_numbers = itertools.count(1)
TURN_YIELD = 0.05  # seconds a bot turn waits at most for this process's webhook requests to be answered first
LOOKAHEAD = 0.15  # seconds of a bot's rate budget claimed at once: enough to keep its pipeline full
HandleReceived = Callable[[PluginState, int], bool]  # True: it settled the row itself


def _new_id() -> str:
    host = socket.gethostname()[:40]
    return f"{host}:{os.getpid()}:{next(_numbers)}"


class Worker:
    def __init__(self, state: PluginState, *, handle_received: HandleReceived | None = None,
                 concurrency: int = 8, turns: int = 2, lease: float = 60.0, poll: float = 1.0,
                 policy: Policy | None = None, limiter: RateLimiter | None = None, worker_id: str | None = None,
                 clock_tasks: Sequence[ClockTask] = ()) -> None:
        self.state = state
        self.id = worker_id or _new_id()
        self.concurrency = max(1, concurrency)
        # Bot turns at once (the other senders keep sending): a turn is CPU work under one interpreter lock, and
        # more of them at once only make the web process's webhook threads (embedded mode) wait behind them.
        self.turns = max(1, min(turns, self.concurrency))
        self.lease = lease  # seconds a claim holds; a crashed worker's rows are retried after it
        self.poll = poll  # seconds between looks for rows written by other processes
        self.limiter = limiter or limiter_from_url(None)
        self._handle_received = handle_received  # runs the bot on an incoming row; None: outgoing only
        self.sender = ClaimHandler(self.state, self.id, self.limiter, policy or Policy(), self._remember_due,
                             self._handle_received)
        self.sender.settle_sent = self._queue_sent
        self._sent: list[tuple[int, dict[str, Any]]] = []  # SENT outcomes the next transaction writes
        self._settling = threading.Lock()  # one writer of those at a time (the loop, or stop())
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._idle = threading.Condition()
        self._busy = 0
        self._turns_busy = 0
        self._turns_full = False  # the last claim left incoming rows for want of a turn slot
        self._in_flight: Counter[int] = Counter()  # outgoing rows in the senders, per bot
        self._futures: dict[Future[None], tuple[int, bool]] = {}  # handed over, not finished: row id, a turn?
        self._pool_lock = threading.Lock()  # no hand-over while the pool shuts down
        self._turn = 0  # which bot the next claim starts with (round robin)
        self._recheck = True  # False: only a sender finished, so bots that had nothing due are not asked again
        self._nothing_due: set[int] = set()
        self._budget_at: float | None = None  # monotonic time a skipped bot's rate budget returns
        # Bots change seldom; a recheck reads them again once a poll interval (a bot new since: at once).
        self._bots: dict[int, Bot] | None = None
        self._bots_read_at = 0.0  # monotonic
        self._lapsed_at = 0.0  # monotonic time of the last look for lapsed claims
        self._due: list[float] = []  # wall-clock times when rows this worker put back fall due
        self._due_lock = threading.Lock()
        self._last_claim_at = 0.0
        self._pool: ThreadPoolExecutor | None = None
        self._thread: threading.Thread | None = None
        self._unwatch: Callable[[], None] | None = None
        self._unlisten: Callable[[], None] | None = None
        self.clock = Clock(clock_tasks)

    @classmethod
    def from_settings(cls, state: PluginState, **overrides: Any) -> Worker:
        """A worker configured from the plugin's settings; keyword arguments override them."""
        settings = state.settings
        options: dict[str, Any] = {
            "concurrency": settings.worker_concurrency,
            "turns": settings.worker_turns,
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
        self._recheck = True
        self._wake.set()

    def start_thread(self) -> Worker:
        """Run in a daemon thread of this process (the embedded default)."""
        if self._thread is None or not self._thread.is_alive():
            self._open()
            self._listen()
            self._thread = threading.Thread(target=self._loop, name=f"crm-plugin-worker {self.id}", daemon=True)
            self._thread.start()
            self.clock.start()
            log.info("crm_plugin worker %s started in a thread", self.id)
        return self

    def stop(self, timeout: float = 10.0) -> bool:
        """Stop claiming, let the sends in flight finish (up to ``timeout``); True when all finished.
        Rows still in flight after that keep their lease and are sent again once it lapses."""
        deadline = time.monotonic() + timeout
        self._stopping.set()
        self._wake.set()
        self.clock.stop(max(0.0, deadline - time.monotonic()))
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
        self._listen()
        self.clock.start()
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
        self._write_sent()
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

    def _listen(self) -> None:
        """Hear of rows other processes commit at once (the thread and process modes; tests drain instead)."""
        if self._unlisten is None:
            self._unlisten = self.state.db.listen_to_other_processes(self.wake)

    def _close(self) -> None:
        if self._unlisten is not None:
            self._unlisten()
            self._unlisten = None
        try:
            self._write_sent()
        except Exception:  # noqa: BLE001 - those rows keep their lease: sent again after it (at least once)
            log.exception("crm_plugin worker %s: could not record %d sent messages", self.id, len(self._sent))
        if self._unwatch is not None:
            self._unwatch()
            self._unwatch = None
        with self._pool_lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
            with self._idle:
                cancelled = [row for future, row in self._futures.items() if future.cancelled()]
                for future in [f for f in self._futures if f.cancelled()]:
                    del self._futures[future]
                self._busy -= len(cancelled)
                self._turns_busy -= sum(turn for _row, turn in cancelled)
            # Never started: others may take them now, not after the lease.
            self._release([row for row, _turn in cancelled])

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
            if not self._wake.wait(timeout):
                self._recheck = True  # the poll interval, a put-back row or a bot's budget came due

    def _dispatch(self) -> int:
        """Claim as many rows as there are idle senders, fairly across bots, and hand them over."""
        free = self.concurrency - self._busy
        if free <= 0:
            self._write_sent()
            return 0
        # Woken only because a sender finished: no new incoming rows or lapsed claims can have appeared since
        # the last look (commits and the clock set ``_recheck``), only its bot's next rows.
        recheck = self._recheck or self._bots is None
        self._recheck = False
        started = time.monotonic()
        if recheck and started - self._bots_read_at >= self.poll:
            self._read_bots()
        bots = self._bots or {}
        ready = self._ready_bots(bots, recheck)  # before the write transaction: it holds SQLite's lock, keep it short
        now = utcnow()
        if recheck:  # only a full look takes every due row: put-back rows count as seen after it
            self._last_claim_at = now.timestamp()
        # A claim lapses only a lease after it was taken (a worker died meanwhile): a look a poll interval is
        # plenty, and spares each recheck a statement.
        lapsed = recheck and started - self._lapsed_at >= self.poll
        if lapsed:
            self._lapsed_at = started
        incoming: list[Message] = []
        outgoing: list[Message] = []
        with self._settling:
            with self.state.db.session() as session:
                written = self._write_sent_in(session)
                if recheck and self._handle_received is not None:
                    slots = min(free, self.turns - self._turns_busy)
                    incoming = claim.claim_incoming(session, self.id, limit=slots, lease=self.lease, now=now)
                    self._turns_full = slots > 0 and len(incoming) == slots
                if lapsed:
                    outgoing = claim.claim_lapsed(session, self.id, limit=free - len(incoming), lease=self.lease,
                                                  now=now)
                outgoing += self._claim_by_bot(session, ready, free - len(incoming) - len(outgoing), now)
            self._forget_sent(written)
        if any(message.bot_id not in bots for message in outgoing):
            bots = self._read_bots()  # a bot added since the last read
        jobs: list[tuple[Callable[..., None], Message, tuple[Any, ...]]] = [
            (self.sender.handle, message, ()) for message in incoming]
        jobs += [(self.sender.send, message, (bots.get(message.bot_id),)) for message in outgoing]
        return self._hand_over(jobs)

    def _read_bots(self) -> dict[int, Bot]:
        with self.state.db.read() as session:
            self._bots = {b.id: b for b in session.scalars(select(Bot))}
        self._bots_read_at = time.monotonic()
        return self._bots

    def _ready_bots(self, bots: dict[int, Bot], recheck: bool) -> list[tuple[int, int]]:
        """(bot id, room) of the bots to claim for now, in round-robin order (each dispatch starts one further)."""
        with self._idle:
            if recheck:
                self._nothing_due.clear()
            skip = set(self._nothing_due)
        self._budget_at = None
        order = sorted(bots)
        if order:
            self._turn = (self._turn + 1) % len(order)
            order = order[self._turn:] + order[:self._turn]
        rooms = self._rooms([bots[bot_id] for bot_id in order if bot_id not in skip])
        return [(bot_id, room) for bot_id, room in rooms.items() if room > 0]

    def _claim_by_bot(self, session: Any, ready: list[tuple[int, int]], free: int, now: Any) -> list[Message]:
        """Each ready bot in turn, up to its room and its share of ``free``."""
        taken: list[Message] = []
        for index, (bot_id, room) in enumerate(ready):
            if free <= 0:
                break
            share = min(room, math.ceil(free / (len(ready) - index)))
            rows = claim.claim_outgoing(session, self.id, limit=share, lease=self.lease, now=now, bot_id=bot_id)
            if len(rows) < share:
                with self._idle:
                    self._nothing_due.add(bot_id)
            taken += rows
            free -= len(rows)
        return taken

    def _rooms(self, bots: list[Bot]) -> dict[int, int]:
        """How many of each bot's rows to claim now: the sends its rate budget allows within ``LOOKAHEAD``,
        less those already in the senders; 0 while its budget is spent (it is asked again when it returns)."""
        rooms: dict[int, int] = {}
        limits: dict[int, Limit] = {}
        for bot in bots:
            # Switched off, or credentials that do not open: its rows fail at once, with the reason, no call.
            rooms[bot.id] = self.concurrency
            if not bot.active:
                continue
            try:
                limits[bot.id] = self.sender.bot_limit(self.sender.channels.get(bot).channel, bot.id)
            except Exception:  # noqa: BLE001 - undecryptable credentials: the sender fails its rows with the reason
                continue
        waits = self.limiter.available_in(list(limits.values()))
        now = time.monotonic()
        with self._idle:
            for (bot_id, limit), wait in zip(limits.items(), waits):
                if wait > LOOKAHEAD:
                    at = now + wait - LOOKAHEAD
                    self._budget_at = at if self._budget_at is None else min(self._budget_at, at)
                    rooms[bot_id] = 0
                else:
                    rooms[bot_id] = max(0, math.ceil(limit.rate * LOOKAHEAD) - self._in_flight[bot_id])
        return rooms

    def _hand_over(self, jobs: list[tuple[Callable[..., None], Message, tuple[Any, ...]]]) -> int:
        """Give the claimed rows to the senders; when stopping, give them back to the queue instead (a claim
        committed while the pool shut down must not wait for its lease to lapse)."""
        unstarted: list[int] = []
        with self._pool_lock:
            for job, message, args in jobs:
                if self._pool is None or self._stopping.is_set():
                    unstarted.append(message.id)
                    continue
                outgoing = message.bot_id if job == self.sender.send else None
                with self._idle:
                    self._busy += 1
                    if outgoing is None:
                        self._turns_busy += 1
                    else:
                        self._in_flight[outgoing] += 1
                future = self._pool.submit(self._run, job, outgoing, message, *args)
                with self._idle:
                    if not future.done():
                        self._futures[future] = (message.id, outgoing is None)
        self._release(unstarted)
        return len(jobs) - len(unstarted)

    def _queue_sent(self, message_id: int, outcome: dict[str, Any]) -> None:
        with self._idle:
            self._sent.append((message_id, outcome))

    def _write_sent_in(self, session: Any) -> int:
        """Write the queued SENT outcomes in this transaction; returns how many (forget them once committed)."""
        with self._idle:
            sent = list(self._sent)
        if sent:
            claim.mark_many_sent(session, self.id, sent)
        return len(sent)

    def _forget_sent(self, count: int) -> None:
        with self._idle:
            del self._sent[:count]

    def _write_sent(self) -> None:
        if self._sent:
            with self._settling:
                with self.state.db.session() as session:
                    written = self._write_sent_in(session)
                self._forget_sent(written)

    def _release(self, message_ids: list[int]) -> None:
        if not message_ids:
            return
        try:
            with self.state.db.session() as session:
                claim.release_unstarted(session, message_ids, self.id)
        except Exception:  # noqa: BLE001 - the rows keep their lease and are taken again after it
            log.exception("crm_plugin worker %s: could not give back %d claimed rows", self.id, len(message_ids))

    def _run(self, job: Callable[..., None], outgoing_bot: int | None, *args: Any) -> None:
        if outgoing_bot is None:
            self.state.webhooks.wait_quiet(TURN_YIELD)  # the platform waits for those answers; a turn can wait
        try:
            with self.state.host_context():  # the gateway may need the host's app context (files, leads)
                job(*args)
        except Exception:  # noqa: BLE001 - the row keeps its lease and is retried when it lapses
            log.exception("crm_plugin worker %s: a sender failed", self.id)
        finally:
            with self._idle:
                self._busy -= 1
                if outgoing_bot is None:
                    self._turns_busy -= 1
                    self._recheck = self._recheck or self._turns_full  # rows may wait for the slot it frees
                else:
                    self._nothing_due.discard(outgoing_bot)  # the next row of the chat it sent to is due now
                    self._in_flight[outgoing_bot] -= 1
                    if self._in_flight[outgoing_bot] <= 0:
                        del self._in_flight[outgoing_bot]
                for future in [f for f in self._futures if f.done()]:
                    del self._futures[future]
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
            timeout = self.poll
            if self._due:
                timeout = min(timeout, max(0.0, self._due[0] - time.time()) + 0.01)
        if self._budget_at is not None:
            timeout = min(timeout, max(0.0, self._budget_at - time.monotonic()))
        return timeout
