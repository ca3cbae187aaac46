"""The web chat in a real headless Chromium against the demo CRM served on loopback with its worker running:
log in, pick an employee, talk to the bot, press its button, send a point; no request leaves the machine."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import playwright.sync_api as playwright_api  # noqa: E402
import pytest
from flask import Flask
from sqlalchemy import select
from werkzeug.serving import make_server

from crm_plugin import get_state
from crm_plugin.core.models import Direction, Message
from crm_plugin.demo.images import window_photo
from crm_plugin.demo.models import User, db
from crm_plugin.demo.seed import seed
from crm_plugin.extension import start_worker
from crm_plugin.host import Role

from .conftest import make_test_app

SCREENSHOT = Path(__file__).resolve().parents[1] / "docs" / "screenshots" / "webchat.png"
TIMEOUT_MS = 15000


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Flask]]:
    """The demo CRM with demo data, CSRF on, on a loopback port, with the embedded worker."""
    app = make_test_app(f"sqlite:///{tmp_path / 'crm.db'}", WTF_CSRF_ENABLED=True)
    app.instance_path = str(tmp_path / "instance")
    summary = seed(app, random_seed=7, orders=30)
    worker = start_worker(app)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    app.config["TEST_ADMIN"] = (summary.admin_login, summary.admin_password)
    try:
        yield f"http://127.0.0.1:{server.server_port}", app
    finally:
        server.shutdown()
        thread.join(5)
        worker.stop()
        get_state(app).db.dispose()


@dataclass
class Browser:
    page: Any
    errors: list[str] = field(default_factory=list)  # uncaught script errors
    outside: list[str] = field(default_factory=list)  # requests that tried to leave the machine


@pytest.fixture
def browser() -> Iterator[Browser]:
    with playwright_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path="/usr/bin/chromium",
                                              args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        context = chromium.new_context(viewport={"width": 1100, "height": 1000}, locale="ru-RU")
        seen = Browser(context.new_page())
        seen.page.set_default_timeout(TIMEOUT_MS)

        def only_loopback(route: Any) -> None:
            if urlsplit(route.request.url).hostname in ("127.0.0.1", "localhost"):
                route.continue_()
            else:  # no CDN: the page must work without the internet
                seen.outside.append(route.request.url)
                route.abort()

        seen.page.route("**/*", only_loopback)
        seen.page.on("pageerror", lambda error: seen.errors.append(str(error)))
        try:
            yield seen
        finally:
            chromium.close()


def measurer_of(app: Flask) -> tuple[int, str]:
    with app.app_context():
        people = db.session.scalars(select(User).where(User.active.is_(True)).order_by(User.id)).all()
        user = next(u for u in people if Role.MEASURER in u.roles and not u.is_admin)
        return user.id, user.full_name


@pytest.mark.browser
def test_admin_talks_to_the_bot_in_the_browser(served: tuple[str, Flask], browser: Browser) -> None:
    base, app = served
    page = browser.page
    login, password = app.config["TEST_ADMIN"]
    measurer_id, measurer_name = measurer_of(app)

    page.goto(f"{base}/login")
    page.fill("#login", login)
    page.fill("#password", password)
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/login" not in url)

    page.goto(f"{base}/admin/crm-plugin/webchat/")
    assert page.locator("#webchat-send").is_disabled()  # nothing to send before an employee is chosen
    page.select_option("#webchat-employee", str(measurer_id))
    page.wait_for_selector("#webchat-text:enabled")
    assert measurer_name in page.inner_text("#webchat-empty-text")

    # /start through the "Начать" button: the bot answers with buttons.
    page.click("#webchat-start")
    page.wait_for_selector(".webchat-out .webchat-bubble")
    page.wait_for_selector(".webchat-out button.webchat-button")
    answers = page.locator(".webchat-out").count()

    # Press the bot's first action button: the press shows as the employee's message, and the bot answers it.
    button = page.locator(".webchat-out button.webchat-button").first
    label = button.inner_text()
    button.click()
    page.wait_for_selector(".webchat-in .webchat-pressed")
    assert page.locator(".webchat-in .webchat-pressed").last.inner_text().startswith(label)
    page.wait_for_function(f"document.querySelectorAll('.webchat-out').length > {answers}")

    # A typed message goes out with "Отправить" and the input clears.
    page.fill("#webchat-text", "Привет, бот")
    page.click("#webchat-send")
    page.wait_for_selector(".webchat-in .webchat-text:text('Привет, бот')")
    assert page.input_value("#webchat-text") == ""

    # Two photos picked at once arrive as one album, shown in one bubble.
    page.set_input_files("#webchat-files", [
        {"name": "kitchen.png", "mimeType": "image/png", "buffer": window_photo((190, 60, 50))},
        {"name": "room.png", "mimeType": "image/png", "buffer": window_photo((60, 110, 180))},
    ])
    page.wait_for_function("document.querySelectorAll('.webchat-in .webchat-photo img').length === 2")
    album = page.locator(".webchat-in[data-group]")
    assert album.count() == 1 and album.locator("img").count() == 2
    page.wait_for_function("Array.from(document.querySelectorAll('.webchat-photo img'))"
                           ".every(img => img.complete && img.naturalWidth > 0)")

    # A point typed into the location panel.
    page.click("#webchat-location-toggle")
    page.fill("#webchat-lat", "55,7887")
    page.fill("#webchat-lon", "49.1186")
    answers = page.locator(".webchat-out").count()
    page.click("#webchat-location-send")
    page.wait_for_selector(".webchat-in .webchat-place")
    page.wait_for_function(f"document.querySelectorAll('.webchat-out').length > {answers}")
    assert "55.78870, 49.11860" in page.locator(".webchat-in .webchat-place").last.inner_text()

    page.wait_for_selector("#webchat-typing", state="hidden")
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOT), full_page=True)

    with get_state(app).db.session() as session:
        kinds = [m.kind for m in session.scalars(select(Message).where(Message.direction == Direction.IN)
                                                 .order_by(Message.id))]
    assert kinds == ["start", "button", "text", "photo", "photo", "location"]
    assert browser.errors == []
    assert browser.outside == []  # no CDN, no fonts from outside: it works without the internet
