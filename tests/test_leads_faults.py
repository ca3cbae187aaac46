"""Nothing lost under faults (issue 10): 200 leads while 20% of the author lookups (Slack users.info, VK
users.get) fail with 5xx, 429 and dropped connections. Every lead reaches the CRM once: the stored capture is
retried with back-off by the real worker, and the CRM is idempotent by the platform's message id."""

from __future__ import annotations

import logging
import random
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from crm_plugin.core.models import Message, MessageStatus

from .fakes.server import Fault
from .fakes.slack import FakeSlack
from .fakes.vk import FakeVk
from .flows.world import Flow, flow_fixture  # noqa: F401 - the flow fixture
from .leads_helpers import channel_message, fixture, leads, post_slack, post_vk, slack_bot, vk_bot

log = logging.getLogger(__name__)

LEADS = 200
FAULT_RATE = 0.2


def faults(lookup: str) -> list[Fault]:
    """The ways a lookup fails: server errors, rate limits (429), and connections dropped mid-request."""
    return [Fault(status=500, body="<html>Internal Server Error</html>", method=lookup),
            Fault(status=503, body="<html>Service Unavailable</html>", method=lookup),
            Fault(status=429, body={"ok": False, "error": "ratelimited"}, headers={"Retry-After": "0"},
                  method=lookup),
            Fault(drop=True, method=lookup)]


class Flaky:
    """Mixed into a fake platform: each call of ``lookup`` fails with probability FAULT_RATE (seeded)."""

    lookup = ""
    rng = random.Random(10)
    injected: Counter[str]

    def _take_fault(self, method: str) -> Fault | None:
        if method == self.lookup and self.rng.random() < FAULT_RATE:
            fault = self.rng.choice(faults(self.lookup))
            self.injected[f"{fault.status or 'drop'}"] += 1
            return fault
        return None


class FlakySlack(Flaky, FakeSlack):
    lookup = "users.info"


class FlakyVk(Flaky, FakeVk):
    lookup = "users.get"


@pytest.fixture(name="slack")
def slack_fixture() -> Iterator[FakeSlack]:
    with FlakySlack() as fake:
        fake.injected = Counter()
        fake.add_channel("C0LEADS01", name="sales")
        for i in range(LEADS):
            fake.add_user(f"U{i:07d}", real_name=f"Клиент {i}")
        yield fake


@pytest.fixture(name="vk")
def vk_fixture() -> Iterator[FakeVk]:
    with FlakyVk(per_token=None) as fake:
        fake.injected = Counter()
        fake.users.update({700_000_000 + i: {"first_name": "Клиент", "last_name": str(i)} for i in range(LEADS)})
        yield fake


def settle(flow: Flow) -> list[Message]:
    started = time.monotonic()
    assert flow.worker.drain(timeout=240), "the worker did not finish the leads"
    log.warning("worker drained the leads in %.1f s", time.monotonic() - started)
    with flow.state.db.session() as session:
        return list(session.scalars(select(Message).where(Message.kind == "lead")))


def figures(flow: Flow, rows: list[Message], fake: Any, platform: str) -> tuple[int, int, int]:
    crm = leads(flow)
    external = Counter(lead.external_id for lead in crm)
    captured, duplicated = len(external), sum(n - 1 for n in external.values())
    lost = LEADS - captured
    calls = len(fake.calls(fake.lookup))
    log.warning("%s: %d leads, %d lookups, faults %s: captured %d, lost %d, duplicated %d; rows %s",
                platform, LEADS, calls, dict(fake.injected), captured, lost, duplicated,
                dict(Counter(r.status.value for r in rows)))
    assert sum(fake.injected.values()) >= LEADS * FAULT_RATE / 2, "the faults did not happen"
    return captured, lost, duplicated


def test_slack_leads_survive_failing_users_info(flow: Flow, slack: FlakySlack) -> None:
    bot_id = slack_bot(flow, slack)
    for i in range(LEADS):
        data = channel_message(f"Заявка {i}: окна, звоните +7 917 {i:03d}-00-00", ts=f"1718000000.{i:06d}",
                               event_id=f"Ev{i:07d}", user=f"U{i:07d}")
        assert post_slack(flow, bot_id, data).status_code == 200
        if i % 50 == 0:  # Slack retries a slow answer: the same event again
            assert post_slack(flow, bot_id, data, retry=1).status_code == 200
    rows = settle(flow)
    assert figures(flow, rows, slack, "slack") == (LEADS, 0, 0)
    assert all(row.status is MessageStatus.HANDLED for row in rows) and len(rows) == LEADS
    named = [lead for lead in leads(flow) if lead.name]
    assert len(named) >= LEADS - 2  # a lookup failing eight times in a row gives up the name, never the lead


def test_vk_leads_survive_failing_users_get(flow: Flow, vk: FlakyVk) -> None:
    bot_id = vk_bot(flow, vk)
    for i in range(LEADS):
        data = fixture("vk", "wall_reply_new", id=10_000 + i, from_id=700_000_000 + i,
                       text=f"Комментарий {i}: почём окна? +7 917 {i:03d}-11-11")
        data["event_id"] = f"{i:040x}"
        assert post_vk(flow, bot_id, data).get_data(as_text=True) == "ok"
        if i % 50 == 0:  # VK repeats an event it thinks was lost
            assert post_vk(flow, bot_id, data).get_data(as_text=True) == "ok"
    rows = settle(flow)
    assert figures(flow, rows, vk, "vk") == (LEADS, 0, 0)
    assert all(row.status is MessageStatus.HANDLED for row in rows) and len(rows) == LEADS
