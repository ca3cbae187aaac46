"""GCRA rate limits: in memory (with a clock the test moves) and shared through Redis."""

from __future__ import annotations

import os
import uuid

import pytest

from crm_plugin.core.scrub import scrub, secret_values
from crm_plugin.delivery.ratelimit import Limit, MemoryRateLimiter, RedisRateLimiter
from crm_plugin.delivery.round_trips import SLOW, RoundTrips

REDIS_URL = os.environ.get("CRM_PLUGIN_TEST_REDIS_URL")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_memory_limiter_paces_at_the_rate() -> None:
    clock = Clock()
    limiter = MemoryRateLimiter(clock)
    bot = Limit("bot", rate=10)

    granted = [limiter.reserve([bot], max_wait=0.0).granted for _ in range(3)]
    assert granted == [True, False, False]  # burst 1: the next slot is 0.1 s away

    wait = limiter.reserve([bot]).wait
    assert wait == pytest.approx(0.1)
    clock.now += 0.1
    assert limiter.reserve([bot]).granted


def test_memory_limiter_reserves_future_slots_in_order() -> None:
    limiter = MemoryRateLimiter(Clock())
    bot = Limit("bot", rate=20)
    waits = [limiter.reserve([bot], max_wait=1.0).wait for _ in range(5)]
    assert waits == pytest.approx([0.0, 0.05, 0.1, 0.15, 0.2])
    refused = limiter.reserve([bot], max_wait=0.1)
    assert not refused.granted and refused.wait == pytest.approx(0.25)
    assert limiter.reserve([bot], max_wait=1.0).wait == pytest.approx(0.25)  # the refusal took nothing


def test_every_limit_must_allow_and_none_is_spent_on_refusal() -> None:
    clock = Clock()
    limiter = MemoryRateLimiter(clock)
    bot, chat_a, chat_b = Limit("bot", 30), Limit("chat:a", 1), Limit("chat:b", 1)

    assert limiter.reserve([chat_a, bot]).granted
    refused = limiter.reserve([chat_a, bot], max_wait=0.5)  # chat a is 1 s away: nothing taken
    assert not refused.granted and refused.wait == pytest.approx(1.0)
    clock.now += 1 / 30
    assert limiter.reserve([chat_b, bot]).wait == 0.0  # the bot's budget was not spent by the refusal


def test_burst_and_cost() -> None:
    clock = Clock()
    limiter = MemoryRateLimiter(clock)
    group = Limit("group", rate=1, burst=3)
    assert [limiter.reserve([group]).granted for _ in range(4)] == [True, True, True, False]
    clock.now += 2
    assert not limiter.reserve([group], cost=3).granted  # two slots free, three asked
    assert limiter.reserve([group], cost=2).granted


def test_block_holds_every_key_for_the_time_given() -> None:
    clock = Clock()
    limiter = MemoryRateLimiter(clock)
    bot, chat = Limit("bot", 30), Limit("chat", 1)
    limiter.block([bot, chat], 5.0)
    assert limiter.reserve([bot]).wait == pytest.approx(5.0)
    clock.now += 5.0
    assert limiter.reserve([bot, chat]).granted


def test_sent_now_counts_the_next_slot_from_a_late_send() -> None:
    clock = Clock()
    limiter = MemoryRateLimiter(clock)
    bot = Limit("bot", 10)
    assert limiter.reserve([bot]).granted  # the slot at 1000.0; the next at 1000.1
    clock.now += 0.25  # the send goes out late
    limiter.sent_now([bot])
    assert limiter.available_in([bot]) == pytest.approx([0.1])  # one interval after the send, not at once
    limiter.reserve([bot], max_wait=1.0)
    limiter.reserve([bot], max_wait=1.0)
    limiter.sent_now([bot])  # slots already granted further on are never pulled closer
    assert limiter.available_in([bot]) == pytest.approx([0.3])


def test_sent_now_counts_from_when_the_send_arrived() -> None:
    clock = Clock()
    limiter = MemoryRateLimiter(clock)
    bot = Limit("bot", 10)
    limiter.sent_now([bot], ago=0.04)  # it arrived 40 ms ago: the next slot is 60 ms away, not 100
    assert limiter.available_in([bot]) == pytest.approx([0.06])


def test_a_send_answered_late_moves_the_next_slots_from_when_it_may_have_arrived() -> None:
    clock = Clock()
    limiter = MemoryRateLimiter(clock)
    trips = RoundTrips(limiter)
    bot = Limit("bot", 10)
    for took in (0.004, 0.003, 0.005, 0.003 + SLOW):  # usual answers, within SLOW of the fastest (3 ms)
        trips.answered(1, [bot], took)
    assert limiter.available_in([bot]) == [0.0]  # nothing moved
    trips.answered(1, [bot], 0.060)  # stalled on the way: the fastest (crept up to 6 ms) says it may have
    assert limiter.available_in([bot]) == pytest.approx([0.1 - 0.003])  # arrived 3 ms before its answer
    trips.answered(2, [Limit("other", 10)], 0.060)  # another bot's first answer: its own fastest, no stall
    assert limiter.available_in([Limit("other", 10)]) == [0.0]


def test_round_trips_learn_a_network_that_became_slower() -> None:
    clock = Clock()
    limiter = MemoryRateLimiter(clock)
    trips = RoundTrips(limiter)
    bot = Limit("bot", 10)
    trips.answered(1, [bot], 0.020)
    moved = 0
    for _ in range(200):  # every answer now takes 80 ms
        clock.now += 1.0  # far apart: each move is seen on its own
        trips.answered(1, [bot], 0.080)
        moved += limiter.available_in([bot])[0] > 0
    assert 0 < moved < 60  # moved while the fastest answer crept up to the new speed, then no more


@pytest.fixture
def redis_url() -> str:
    url = REDIS_URL or "redis://127.0.0.1:6379/0"
    limiter = RedisRateLimiter(url)
    try:
        limiter.ping()
    except Exception as error:  # noqa: BLE001
        if REDIS_URL:  # CI promised a Redis: its absence is a failure, not a reason to skip
            pytest.fail(f"CRM_PLUGIN_TEST_REDIS_URL={REDIS_URL} is unreachable: {error}")
        pytest.skip(f"no Redis at {url}: {error}")
    return url


def test_redis_limiters_share_one_budget(redis_url: str) -> None:
    prefix = f"crm_plugin:test:{uuid.uuid4().hex}:"
    first, second = RedisRateLimiter(redis_url, prefix=prefix), RedisRateLimiter(redis_url, prefix=prefix)
    chat = Limit("{bot1}:chat:42", rate=1, burst=5)  # 5 at once, then one a second

    taken = [first.reserve([chat]).granted for _ in range(3)] + [second.reserve([chat]).granted for _ in range(2)]
    assert taken == [True] * 5
    assert not first.reserve([chat]).granted
    refused = second.reserve([chat])
    assert not refused.granted and 0.5 < refused.wait <= 1.0  # the other process spent the budget

    alone = RedisRateLimiter(redis_url, prefix=f"crm_plugin:test:{uuid.uuid4().hex}:")
    assert alone.reserve([chat]).granted  # another prefix (another deployment) has its own budget


def test_redis_reservation_and_block_match_the_memory_limiter(redis_url: str) -> None:
    limiter = RedisRateLimiter(redis_url, prefix=f"crm_plugin:test:{uuid.uuid4().hex}:")
    bot, chat = Limit("{bot1}:bot", 20), Limit("{bot1}:chat:1", 1)
    waits = [limiter.reserve([bot], max_wait=1.0).wait for _ in range(4)]
    assert waits[0] == 0.0 and waits[3] == pytest.approx(0.15, abs=0.02)
    assert not limiter.reserve([bot, chat], max_wait=0.0).granted

    limiter.block([chat], 30.0)
    refused = limiter.reserve([chat], max_wait=1.0)
    assert not refused.granted and refused.wait > 29.0


def test_redis_sent_now_matches_the_memory_limiter(redis_url: str) -> None:
    limiter = RedisRateLimiter(redis_url, prefix=f"crm_plugin:test:{uuid.uuid4().hex}:")
    bot, chat = Limit("{bot1}:bot", 10), Limit("{bot1}:chat:1", 1)
    limiter.sent_now([bot, chat])  # a key never used: counts from now
    wait_bot, wait_chat = limiter.available_in([bot, chat])
    assert 0.05 < wait_bot <= 0.1 and 0.9 < wait_chat <= 1.0
    for _ in range(3):
        assert limiter.reserve([bot], max_wait=1.0).granted
    limiter.sent_now([bot])  # never pulls granted slots closer
    assert 0.35 < limiter.available_in([bot])[0] <= 0.4
    other = Limit("{bot1}:other", 10)
    limiter.sent_now([other], ago=0.04)
    assert 0.03 < limiter.available_in([other])[0] <= 0.06


def test_unreachable_redis_falls_back_to_local_limits() -> None:
    limiter = RedisRateLimiter("redis://127.0.0.1:1/0")  # nothing listens on port 1
    bot = Limit("bot", 10)
    assert limiter.reserve([bot]).granted
    assert not limiter.reserve([bot]).granted  # still limited, by this process


def test_scrub_hides_tokens_and_credentials() -> None:
    token = "123456:AAE-secret_Token"
    secrets = secret_values({"token": token, "signing_secret": "s3cr3t/+x", "team": 5}, "hook-secret", None)
    text = (f"HTTPSConnectionPool: /bot{token}/sendMessage failed; also bot999:Other-Token_1 and "
            f"secret=s3cr3t%2F%2Bx, header hook-secret, id 12")

    clean = scrub(text, secrets)

    assert token not in clean and "AAE-secret" not in clean and "Other-Token" not in clean
    assert "s3cr3t" not in clean and "hook-secret" not in clean
    assert "sendMessage failed" in clean and "id 12" in clean
    assert scrub("ok", ["ok"]) == "ok"  # values too short to be secrets are left alone


def test_scrub_hides_credentials_in_query_parameters_without_knowing_them() -> None:
    line = ('"GET /setWebhook?url=https://crm/x&secret_token=Zx9_secret-1&max=40 HTTP/1.1" '
            "POST /method/messages.send?access_token=vk1.a.Secret&v=5.199")
    clean = scrub(line)
    assert "Zx9_secret-1" not in clean and "vk1.a.Secret" not in clean
    assert "secret_token=***&max=40" in clean and "access_token=***&v=5.199" in clean
