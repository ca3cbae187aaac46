"""Statistics end to end: a measurer, a manager and an admin each ask for a figure in the web chat and on
Telegram (at the fake Bot API), through the real worker, and get role-correct text with a real PNG chart
(decoded: its size, and not one flat colour). The measurer never sees company totals."""

from __future__ import annotations

from typing import Any

import pytest

from crm_plugin.delivery.charts import warm_renderer
from crm_plugin.stats import png

from .admin_helpers import admin_client
from .fakes.telegram import FakeTelegram
from .flows.telegram import (
    TelegramUser,
    telegram_bot,
    telegram_fixture,  # noqa: F401  (fixture)
)
from .flows.world import (
    Flow,
    flow_fixture,  # noqa: F401  (fixture)
    local_moment,
)
from .test_bot_stats import rub, seed_company
from .test_flows_webchat_demo import WebChatUser

# Who asks, what they tap after «📊 Статистика» and «Этот месяц», and what the answer must (not) say.
ASKS = {
    "volkov": ("Выполненные замеры", ["📊 Мои показатели: Выполненные замеры", "Итого: 2\n"],
               ["Итого: 5", "Орлов", "₽"]),
    "gareeva": ("Выручка", ["📊 Выручка\n", f"Итого: {rub(255_000)}\n"], ["Мои показатели"]),
    "chief": ("Выполненные замеры", ["📊 Выполненные замеры\n", "Итого: 5\n"], ["Мои показатели"]),
}


@pytest.fixture(scope="module", autouse=True)
def warm_chart_browser() -> None:
    """The process's chart browser started once before the flows: a cold start (seconds, more on a busy
    machine) is not what these tests time, and the flows' drain waits 15 s at most."""
    warm_renderer()


@pytest.fixture
def people(flow: Flow) -> dict[str, int]:
    return seed_company(flow, local_moment(flow, 0, 0, 5))  # five past midnight today: always «Этот месяц»


def check_chart(data: bytes) -> None:
    width, height = png.size(data)
    assert width >= 720 and height >= 400, (width, height)
    assert not png.looks_blank(data)


def check_text(text: str, must: list[str], never: list[str]) -> None:
    for part in must:
        assert part in text, (part, text)
    for part in never:
        assert part not in text, (part, text)


def test_statistics_in_the_web_chat(flow: Flow, people: dict[str, int]) -> None:
    admin = admin_client(flow.app)
    for login, (metric, must, never) in ASKS.items():
        chat = WebChatUser(flow, admin, people[login])
        chat.send(type="text", text="/menu")
        for label in ("📊 Статистика", metric, "Этот месяц"):
            chat.tap(label)
        [answer] = [m for m in chat.replies if m["kind"] == "stats"]
        check_text(answer["text"], must, never)
        [chart] = answer["files"]
        image = admin.get(chart["url"])
        assert image.status_code == 200 and image.mimetype == "image/png"
        check_chart(image.data)
        assert next(b["label"] for row in answer["buttons"] for b in row) == "Другой период"


def test_statistics_on_telegram(flow: Flow, telegram: FakeTelegram, people: dict[str, int]) -> None:
    bot_id = telegram_bot(flow, telegram)
    for number, (login, (metric, must, never)) in enumerate(ASKS.items()):
        person = TelegramUser(flow, bot_id, telegram, 222_001 + number).bind_by_invite(people[login])
        person.taps = 0
        person.tap("📊 Статистика")
        person.tap(metric)
        person.tap("Этот месяц")
        assert person.taps == 3
        photos = [m for m in person.last_replies() if m.files]
        assert len(photos) == 1, [m.raw for m in person.last_replies()]
        sent: Any = photos[0].raw
        assert sent.method == "sendPhoto" and sent.files[0].uploaded
        check_text(photos[0].text, must, never)
        check_chart(sent.files[0].content)
        labels = [label for m in person.last_replies() for label in m.labels()]
        assert "Другой период" in labels and "Меню" in labels
