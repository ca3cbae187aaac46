"""Send-rate limits (GCRA: the generic cell rate algorithm), in memory or shared through Redis.

A send must fit several limits at once (the bot's, the chat's, a group's), so one call checks them all
and takes a slot under each only when it can take one under every one. A slot may be taken a little in
the future: ``reserve`` then says how long to wait before sending, which paces the senders evenly instead
of letting them race and retry. A slot further off than ``max_wait`` is not taken; the caller puts the
message back with that delay instead of holding a sender thread.

GCRA keeps one number per key, the theoretical arrival time (TAT) of the next event: with an emission
interval T = 1/rate and a tolerance tau = (burst - 1) * T, an event at time t conforms when
t >= TAT - tau, and then moves TAT to max(TAT, t) + T.
"""

from __future__ import annotations

import abc
import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Limit:
    key: str
    rate: float  # events a second
    burst: int = 1  # events allowed back to back

    @property
    def interval(self) -> float:
        return 1.0 / self.rate

    @property
    def tolerance(self) -> float:
        return (self.burst - 1) * self.interval


@dataclass(frozen=True)
class Reservation:
    granted: bool  # a slot is taken under every limit
    wait: float  # seconds to wait before sending (granted), or until a slot could be taken (not granted)


class RateLimiter(abc.ABC):
    @abc.abstractmethod
    def reserve(self, limits: Sequence[Limit], *, max_wait: float = 0.0, cost: int = 1) -> Reservation:
        """Take ``cost`` slots under every limit for a send at now + wait, if wait <= max_wait."""

    @abc.abstractmethod
    def block(self, keys: Sequence[Limit], seconds: float) -> None:
        """Allow nothing under these limits for ``seconds`` (the platform answered 429)."""

    @abc.abstractmethod
    def sent_now(self, limits: Sequence[Limit], *, ago: float = 0.0) -> None:
        """A send reached the platform later than its slot, now or ``ago`` seconds before: the next slot under
        each limit is at least one interval after that, so a late send does not bunch up with the slots after
        it in the platform's window."""

    @abc.abstractmethod
    def available_in(self, limits: Sequence[Limit]) -> list[float]:
        """Seconds until one slot could be taken under each limit (0: now), one figure per limit; takes
        nothing. The worker asks it for every bot before claiming, so it skips a bot whose budget is spent
        instead of holding a sender thread on it; one call for all bots, one round trip to Redis."""


class MemoryRateLimiter(RateLimiter):
    """Limits of this process only: the embedded worker, or a single worker process."""

    def __init__(self, clock: Any = time.monotonic) -> None:
        self._clock = clock
        self._tat: dict[str, float] = {}
        self._lock = threading.Lock()

    def reserve(self, limits: Sequence[Limit], *, max_wait: float = 0.0, cost: int = 1) -> Reservation:
        with self._lock:
            now = self._clock()
            send_at = now
            for limit in limits:
                tat = max(self._tat.get(limit.key, now), now)
                # With cost > 1 the last of the slots must conform too.
                send_at = max(send_at, tat + (cost - 1) * limit.interval - limit.tolerance)
            wait = send_at - now
            if wait > max_wait:
                return Reservation(False, wait)
            for limit in limits:
                tat = max(self._tat.get(limit.key, now), send_at)
                self._tat[limit.key] = tat + cost * limit.interval
            self._forget_old(now)
            return Reservation(True, wait)

    def available_in(self, limits: Sequence[Limit]) -> list[float]:
        with self._lock:
            now = self._clock()
            return [max(0.0, self._tat.get(limit.key, now) - limit.tolerance - now) for limit in limits]

    def sent_now(self, limits: Sequence[Limit], *, ago: float = 0.0) -> None:
        with self._lock:
            now = self._clock()
            for limit in limits:
                self._tat[limit.key] = max(self._tat.get(limit.key, now), now - ago + limit.interval)

    def block(self, keys: Sequence[Limit], seconds: float) -> None:
        with self._lock:
            until = self._clock() + seconds
            for limit in keys:
                self._tat[limit.key] = max(self._tat.get(limit.key, 0.0), until + limit.tolerance)

    def _forget_old(self, now: float) -> None:
        # A key whose TAT has passed holds no information (it equals a fresh key): drop it now and then,
        # so a broadcast to thousands of chats does not grow the dict for ever.
        if len(self._tat) > 10_000:
            self._tat = {key: tat for key, tat in self._tat.items() if tat > now}


# KEYS: one per limit. ARGV: cost, max_wait_us, then interval_us and tolerance_us per key.
# Returns {granted (1/0), wait_us}. Time comes from the Redis server, so every process shares one clock.
_RESERVE_SCRIPT = """
local cost = tonumber(ARGV[1])
local max_wait = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local send_at = now
local tats = {}
for i, key in ipairs(KEYS) do
  local interval = tonumber(ARGV[1 + 2 * i])
  local tolerance = tonumber(ARGV[2 + 2 * i])
  local tat = tonumber(redis.call('GET', key) or now)
  if tat < now then tat = now end
  tats[i] = tat
  local allowed = tat + (cost - 1) * interval - tolerance
  if allowed > send_at then send_at = allowed end
end
local wait = send_at - now
if wait > max_wait then return {0, wait} end
for i, key in ipairs(KEYS) do
  local interval = tonumber(ARGV[1 + 2 * i])
  local tat = tats[i]
  if send_at > tat then tat = send_at end
  local new_tat = tat + cost * interval
  redis.call('SET', key, string.format('%d', new_tat), 'PX', math.ceil((new_tat - now) / 1000) + 1000)
end
return {1, wait}
"""

# KEYS: one per limit. ARGV: tolerance_us per key. Returns wait_us per key and sets nothing.
_AVAILABLE_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local waits = {}
for i, key in ipairs(KEYS) do
  local wait = tonumber(redis.call('GET', key) or now) - tonumber(ARGV[i]) - now
  if wait < 0 then wait = 0 end
  waits[i] = wait
end
return waits
"""

# KEYS: one per limit. ARGV: offset_us per key. Moves each TAT to at least the server's now + its offset (block:
# the time given plus the tolerance; sent_now: one interval after the send arrived).
_PUSH_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
for i, key in ipairs(KEYS) do
  local new_tat = now + tonumber(ARGV[i])
  local tat = tonumber(redis.call('GET', key) or 0)
  if new_tat > tat and new_tat > now then  -- a TAT already past holds nothing
    redis.call('SET', key, string.format('%d', new_tat), 'PX', math.ceil((new_tat - now) / 1000) + 1000)
  end
end
return 1
"""

_US = 1_000_000


class RedisRateLimiter(RateLimiter):
    """Limits shared by every worker process through one Redis (CRM_PLUGIN_REDIS_URL).

    When Redis cannot be reached, sends go on under this process's own limits (logged once per outage):
    delivery matters more than a perfect budget, and the platform's 429s still slow us down.
    """

    def __init__(self, url: str, *, prefix: str = "crm_plugin:rl:") -> None:
        import redis

        self._client = redis.Redis.from_url(url, socket_timeout=2.0, socket_connect_timeout=2.0)
        self._prefix = prefix
        self._reserve = self._client.register_script(_RESERVE_SCRIPT)
        self._push = self._client.register_script(_PUSH_SCRIPT)
        self._available = self._client.register_script(_AVAILABLE_SCRIPT)
        self._fallback = MemoryRateLimiter()
        self._down = False
        self._errors: tuple[type[BaseException], ...] = (redis.ConnectionError, redis.TimeoutError)

    def ping(self) -> bool:
        return bool(self._client.ping())

    def reserve(self, limits: Sequence[Limit], *, max_wait: float = 0.0, cost: int = 1) -> Reservation:
        args: list[Any] = [cost, int(max_wait * _US)]
        for limit in limits:
            args += [int(limit.interval * _US), int(limit.tolerance * _US)]
        try:
            granted, wait_us = self._reserve(keys=[self._prefix + limit.key for limit in limits], args=args)
        except self._errors as error:
            self._note_down(error)
            return self._fallback.reserve(limits, max_wait=max_wait, cost=cost)
        self._down = False
        return Reservation(bool(granted), int(wait_us) / _US)

    def available_in(self, limits: Sequence[Limit]) -> list[float]:
        if not limits:
            return []
        try:
            waits = self._available(keys=[self._prefix + limit.key for limit in limits],
                                    args=[int(limit.tolerance * _US) for limit in limits])
        except self._errors as error:
            self._note_down(error)
            return self._fallback.available_in(limits)
        return [int(wait_us) / _US for wait_us in waits]

    def sent_now(self, limits: Sequence[Limit], *, ago: float = 0.0) -> None:
        if not self._pushed(limits, [limit.interval - ago for limit in limits]):
            self._fallback.sent_now(limits, ago=ago)

    def block(self, keys: Sequence[Limit], seconds: float) -> None:
        if not self._pushed(keys, [seconds + limit.tolerance for limit in keys]):
            self._fallback.block(keys, seconds)

    def _pushed(self, limits: Sequence[Limit], offsets: Sequence[float]) -> bool:
        """Move each limit's TAT to at least now + its offset; False when Redis cannot be reached."""
        try:
            self._push(keys=[self._prefix + limit.key for limit in limits],
                       args=[int(offset * _US) for offset in offsets])
        except self._errors as error:
            self._note_down(error)
            return False
        return True

    def _note_down(self, error: BaseException) -> None:
        if not self._down:
            log.warning("crm_plugin: Redis rate limiter unreachable (%s); using this process's limits", error)
        self._down = True


def limiter_from_url(url: str | None) -> RateLimiter:
    if not url:
        return MemoryRateLimiter()
    try:
        import redis  # noqa: F401  (an optional dependency: the extra "redis")
    except ImportError:
        from ..core.errors import PluginStartupError

        raise PluginStartupError("crm_plugin: CRM_PLUGIN_REDIS_URL is set but the redis package is not installed; "
                                 "run `pip install crm_plugin[redis]` (or unset CRM_PLUGIN_REDIS_URL)") from None
    return RedisRateLimiter(url)
