"""The admin tab in a real headless Chromium against the demo CRM on loopback, with the fake Telegram Bot API
and the embedded worker: add a bot (Проверить, save, Инфо), a wrong token's error, an invite link used through
the webhook, blocking, the message log's filter and resend, and restricted access. Saves the screenshots of
docs/screenshots/."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from flask import Flask
from sqlalchemy import select

from crm_plugin import get_state
from crm_plugin.core.models import Direction, EmployeeLink, LinkStatus, Message, MessageStatus
from crm_plugin.demo.models import User, db
from crm_plugin.host import Role

from .admin_helpers import PASSWORD, add_user
from .browser_helpers import headless_chromium, serve_demo
from .fakes.telegram import FakeTelegram

SHOTS = Path(__file__).resolve().parents[1] / "docs" / "screenshots"
TIMEOUT_MS = 15000
CHAT = 5001  # the measurer's Telegram account


def wait_until(condition: Callable[[], Any], timeout: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Flask, FakeTelegram]]:
    with serve_demo(tmp_path, orders=20) as served:
        yield served


@pytest.fixture
def chromium() -> Iterator[Any]:
    with headless_chromium() as browser:
        yield browser


def open_page(chromium: Any, errors: list[str]) -> Any:
    context = chromium.new_context(viewport={"width": 1280, "height": 900}, locale="ru-RU")
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)

    def only_loopback(route: Any) -> None:  # no CDN: the tab must work without the internet
        host = urlsplit(route.request.url).hostname
        if host in ("127.0.0.1", "localhost"):
            route.continue_()
        else:
            errors.append("outside request: " + route.request.url)
            route.abort()

    page.route("**/*", only_loopback)
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("dialog", lambda dialog: dialog.accept())  # Flask-Admin's "are you sure?" for actions
    return page


def log_in(page: Any, base: str, login: str, password: str) -> None:
    page.goto(f"{base}/login")
    page.fill("#login", login)
    page.fill("#password", password)
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/login" not in url)


def telegram_update(update_id: int, text: str) -> dict[str, Any]:
    person = {"id": CHAT, "is_bot": False, "first_name": "Ильдар", "language_code": "ru"}
    entities = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}] if text.startswith("/") else []
    return {"update_id": update_id, "message": {"message_id": update_id, "date": int(time.time()), "from": person,
                                                "chat": {**person, "type": "private"}, "text": text,
                                                "entities": entities}}


def deliver(fake: FakeTelegram, update: dict[str, Any]) -> None:
    """What Telegram does with an update: POST it to the webhook it was given, with the secret header."""
    hook = fake.webhook()
    response = requests.post(hook["url"], json=update, timeout=10,
                             headers={"X-Telegram-Bot-Api-Secret-Token": hook["secret_token"]})
    assert response.status_code == 200


def said(fake: FakeTelegram, fragment: str) -> bool:
    return any(fragment in (m.text or "") for m in fake.sent_messages(CHAT))


def run_action(page: Any, label: str) -> None:
    """Flask-Admin's "With selected" menu, found by the action it holds (its own label is not ours)."""
    page.locator("li.dropdown", has=page.locator("a.dropdown-item", has_text=label)).locator(
        "a.dropdown-toggle").click()
    page.click(f"a.dropdown-item:has-text('{label}')")


@pytest.mark.browser
def test_the_admin_tab_walk(served: tuple[str, Flask, FakeTelegram], chromium: Any) -> None:
    base, app, fake = served
    state = get_state(app)
    errors: list[str] = []
    SHOTS.mkdir(parents=True, exist_ok=True)
    with app.app_context():
        measurer = db.session.scalars(select(User).where(User.active.is_(True)).order_by(User.id)).all()
        measurer = next(u for u in measurer if Role.MEASURER in u.roles and not u.is_admin)
        measurer_id, measurer_name = measurer.id, measurer.full_name
    add_user(app, "deputy", admin=True, full_name="Заместитель Директора")
    page = open_page(chromium, errors)
    log_in(page, base, "admin", "admin")

    # --- a bot: a wrong token's error, then Проверить fills the id and name, save sets the webhook -----
    page.goto(f"{base}/admin/crm-plugin/bots/new/")
    page.select_option("select[name=platform]", "telegram")
    assert page.locator("input[name=vk_token]").is_hidden()  # only the chosen platform's fields
    page.fill("input[name=telegram_token]", "999:wrong-token")
    page.click("#crm-check")
    page.wait_for_selector("#crm-check-result.error")
    assert "Telegram отклонил токен: такого бота нет" in page.inner_text("#crm-check-result")
    page.fill("input[name=telegram_token]", fake.token)
    page.click("#crm-check")
    page.wait_for_selector("#crm-check-result.ok:has-text('CRM Бот')")
    assert page.input_value("input[name=platform_bot_id]") == "123456"
    assert page.input_value("input[name=name]") == "CRM Бот"
    page.click("#crm-bot-save")
    page.wait_for_selector(".alert:has-text('Вебхук установлен')")
    assert fake.webhook()["url"] == f"{base}/crm-plugin/webhook/1"
    page.screenshot(path=str(SHOTS / "bots.png"), full_page=True)

    page.click("a.crm-bot-info")
    page.wait_for_selector("#crm-webhook-url")
    assert page.inner_text("#crm-webhook-url") == f"{base}/crm-plugin/webhook/1"
    assert fake.token not in page.content()
    page.screenshot(path=str(SHOTS / "bot_info.png"), full_page=True)

    # --- an invite link, used through the webhook: the measurer is bound ----------------------------------
    page.goto(f"{base}/admin/crm-plugin/employees/")
    page.click("#crm-invite-new")
    page.select_option("select[name=bot_id]", "1")
    page.select_option("select[name=crm_user_id]", str(measurer_id))
    page.click("#crm-make-invite")
    link = page.inner_text("#crm-invite-url")
    assert link.startswith("https://t.me/crm_test_bot?start=")
    deliver(fake, telegram_update(1, "/start " + link.split("start=", 1)[1]))

    def link_status() -> LinkStatus | None:
        with state.db.session() as session:
            row = session.scalars(select(EmployeeLink).where(EmployeeLink.crm_user_id == measurer_id)).first()
            return row.status if row else None

    wait_until(lambda: link_status() is LinkStatus.BOUND)
    wait_until(lambda: fake.sent_messages(CHAT))

    # --- block the employee: the bot refuses them ----------------------------------------------------
    page.goto(f"{base}/admin/crm-plugin/employees/")
    row = page.locator("tr", has_text=measurer_name)
    assert "привязан" in row.inner_text()
    row.locator("input.action-checkbox").check()
    run_action(page, "Заблокировать")
    page.wait_for_selector(".alert:has-text('Заблокировано: 1')")
    assert link_status() is LinkStatus.BLOCKED
    deliver(fake, telegram_update(2, "Мои замеры"))
    wait_until(lambda: said(fake, "Администратор заблокировал вам доступ к боту"))
    page.screenshot(path=str(SHOTS / "employees.png"), full_page=True)

    # --- the message log: a failed message, found with the filter and sent again ---------------------------
    with state.db.session() as session:
        text = "Новый замер: ул. Баумана, 12"
        failed = Message(bot_id=1, chat_id=str(CHAT), direction=Direction.OUT, kind="text", preview=text,
                         payload={"type": "text", "text": text},
                         status=MessageStatus.FAILED, attempts=5, error="Telegram sendMessage: 502 Bad Gateway")
        session.add(failed)
        session.flush()
        failed_id = failed.id
    page.goto(f"{base}/admin/crm-plugin/messages/")
    page.click("li.dropdown:has(a.filter) > a.dropdown-toggle")  # "Add Filter"
    page.click("a.filter:has-text('Состояние')")
    page.locator("select.filter-val").last.select_option("failed", force=True)  # select2 hides the <select>
    page.click("#filter_form button[type=submit]")
    page.wait_for_url(lambda url: "flt" in url)
    rows = page.locator("table.model-list tbody tr")
    assert rows.count() == 1 and "Баумана" in rows.first.inner_text()
    page.screenshot(path=str(SHOTS / "messages.png"), full_page=True)
    page.click("button.crm-resend")
    page.wait_for_selector(".alert:has-text('Сообщение снова в очереди')")

    def resent() -> bool:
        with state.db.session() as session:
            return session.get(Message, failed_id).status is MessageStatus.SENT

    wait_until(resent)
    assert said(fake, "Новый замер: ул. Баумана, 12")

    # --- restrict access to this admin: the deputy gets 403 on every page ---------------------------------
    page.goto(f"{base}/admin/crm-plugin/access/new/")
    me = page.locator("select[name=crm_user_id] option", has_text="(admin)").get_attribute("value")
    page.select_option("select[name=crm_user_id]", me)
    page.click("input[type=submit], button[type=submit]")
    page.wait_for_selector("#crm-access-mode:has-text('Доступ ограничен')")
    page.screenshot(path=str(SHOTS / "access.png"), full_page=True)

    deputy = open_page(chromium, errors)
    log_in(deputy, base, "deputy", PASSWORD)
    for path in ("", "bots/", "employees/", "access/", "messages/", "timesheet/", "bots/info/?id=1"):
        response = deputy.goto(f"{base}/admin/crm-plugin/{path}")
        assert response is not None and response.status == 403, path
        assert "CRM Бот" not in deputy.content()

    page.goto(f"{base}/admin/crm-plugin/")
    page.wait_for_selector("#bots")
    assert page.inner_text("#bots td.bound") == "0"  # the only bound measurer is blocked now
    page.screenshot(path=str(SHOTS / "dashboard.png"), full_page=True)
    assert errors == []
