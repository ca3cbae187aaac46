"""The admin's «Статистика» page in a real headless Chromium against the demo CRM on loopback: the preview's
chart drawn by plotly.js served by the plugin itself (an svg on the page, no request leaves loopback),
«Отправить сейчас» to every subscriber, and the progress bar reaching the end while the embedded worker's
clock fans the send out and delivers it to the fake Telegram."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask import Flask
from sqlalchemy import select

from crm_plugin import get_state
from crm_plugin.core.models import Bot, EmployeeLink, LinkStatus, Platform, StatsRun
from crm_plugin.demo.models import User, db
from crm_plugin.host import Role

from .browser_helpers import headless_chromium, serve_demo
from .fakes.telegram import FakeTelegram

TIMEOUT_MS = 60000  # the first chart's render starts Chromium in the worker


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Flask, FakeTelegram]]:
    with serve_demo(tmp_path, orders=40) as served:
        yield served


@pytest.fixture
def chromium() -> Iterator[Any]:
    with headless_chromium() as browser:
        yield browser


def subscribe_staff(app: Flask, fake: FakeTelegram) -> dict[int, Role | None]:
    """A manager, a measurer and the admin subscribed on a Telegram bot at the fake; chat id = CRM id."""
    state = get_state(app)
    with app.app_context():
        users = db.session.scalars(select(User).where(User.active.is_(True)).order_by(User.id)).all()
        manager = next(u for u in users if Role.MANAGER in u.roles and not u.is_admin)
        measurer = next(u for u in users if Role.MEASURER in u.roles and not u.is_admin and Role.MANAGER not in u.roles)
        admin = next(u for u in users if u.is_admin)
        chosen = {manager.id: Role.MANAGER, measurer.id: Role.MEASURER, admin.id: None}
    with state.db.session() as session:
        bot = Bot(platform=Platform.TELEGRAM, name="Тест", credentials_encrypted=state.secrets.seal(
            {"token": fake.token}))
        session.add(bot)
        session.flush()
        for user_id in chosen:
            session.add(EmployeeLink(bot_id=bot.id, crm_user_id=user_id, platform_user_id=str(user_id),
                                     chat_id=str(user_id), status=LinkStatus.BOUND, subscribed_stats=True))
    return chosen


@pytest.mark.browser
def test_preview_and_send_now_with_its_progress(served: tuple[str, Flask, FakeTelegram], chromium: Any) -> None:
    base, app, fake = served
    people = subscribe_staff(app, fake)
    errors: list[str] = []
    outside: list[str] = []
    page = chromium.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(TIMEOUT_MS)

    def only_loopback(route: Any) -> None:
        if urlsplit(route.request.url).hostname in ("127.0.0.1", "localhost"):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    page.route("**/*", only_loopback)
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{base}/login")
    page.fill("#login", "admin")
    page.fill("#password", "admin")
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/login" not in url)

    page.goto(f"{base}/admin/crm-plugin/stats/")
    page.uncheck("input[name=metrics][value=new_orders]")  # the page opens with the first metric
    page.check("input[name=metrics][value=revenue]")
    page.check("input[name=metrics][value=measurements_done]")
    page.select_option("#crm-stats-period", "last_month")
    page.click("#crm-stats-show")
    page.wait_for_selector(".crm-stats-preview[data-metric=revenue] svg.main-svg")
    page.wait_for_selector(".crm-stats-preview[data-metric=measurements_done] svg.main-svg")
    assert page.locator(".crm-stats-preview[data-metric=revenue] g.trace").count() >= 1  # bars were drawn
    assert "Выручка" in page.inner_text(".crm-stats-preview[data-metric=revenue] pre")
    assert "Прошлый месяц" in page.inner_text(".crm-stats-preview[data-metric=revenue] pre")

    page.check("#audience-subscribers")
    page.click("#crm-stats-send-now")
    page.wait_for_url(lambda url: "/stats/run/" in url)
    page.wait_for_selector("#crm-run-progress[data-finished='1']")
    # the manager and the admin: both metrics of the company; the measurer: their own measurements
    expected = 2 * 2 + 1
    assert page.inner_text("#crm-run-sent-count") == str(expected)
    assert page.inner_text("#crm-run-failed-count") == "0"
    assert page.inner_text("#crm-run-queued") == "0"
    assert page.locator("#crm-run-sent").evaluate("bar => bar.style.width") == "100%"
    delivered = {chat: len(fake.sent_messages(chat)) for chat in people}
    assert all(count >= 1 for count in delivered.values()), delivered
    with get_state(app).db.session() as session:
        run = session.scalars(select(StatsRun)).one()
        assert (run.status, run.recipients) == ("sent", 3)
    assert errors == [] and outside == []
