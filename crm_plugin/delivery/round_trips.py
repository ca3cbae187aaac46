"""How long each bot's platform takes to answer, so a send stalled on its way is counted from when it arrived.

The limiter paces the moments our senders start their requests, but the platform counts the moments they arrive.
A request held up on the way (our process busy, the network slow for a moment) arrives late, and the sends
after it, on time, bunch up behind it in the platform's window: that is a 429. An answer that came much later
than the bot's fastest recent one is such a case: the send is counted again from as late as it may have
arrived (half its fastest round trip before the answer), and the slots after it move back.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

from .ratelimit import Limit, RateLimiter

SLOW = 0.010  # seconds an answer may take beyond the bot's fastest before its send is counted again
CREEP = 0.001  # seconds the fastest answer grows with each answer, so a network that became slower is learnt


class RoundTrips:
    def __init__(self, limiter: RateLimiter) -> None:
        self.limiter = limiter
        self._fastest: dict[int, float] = {}
        self._lock = threading.Lock()

    def answered(self, bot_id: int, limits: Sequence[Limit], took: float) -> None:
        """A send of ``bot_id`` under ``limits`` was answered (or failed) ``took`` seconds after it started."""
        with self._lock:
            fastest = min(took, self._fastest.get(bot_id, took) + CREEP)
            self._fastest[bot_id] = fastest
        if took - fastest > SLOW:
            self.limiter.sent_now(limits, ago=fastest / 2)
