"""The web chat in a real headless Chromium against the demo CRM served on loopback with its worker running:
log in, pick an employee, talk to the bot, press its button, send a point; no request leaves the machine. On a
390x844 phone, a measurer's day (notification, list, card, photos, sheet, done) with nothing wider than the
screen, saved as docs/screenshots/webchat-phone-*.png."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import playwright.sync_api as playwright_api  # noqa: E402
import pytest
from flask import Flask
from sqlalchemy import select
from werkzeug.serving import make_server

from crm_plugin import get_state, host
from crm_plugin.channels.web import bind_employee, ensure_web_bot
from crm_plugin.core.models import Direction, Message
from crm_plugin.demo.images import window_photo
from crm_plugin.demo.models import User, db
from crm_plugin.demo.seed import seed
from crm_plugin.extension import start_worker
from crm_plugin.host import Role

from .conftest import make_test_app

SHOTS = Path(__file__).resolve().parents[1] / "docs" / "screenshots"
SCREENSHOT = SHOTS / "webchat.png"
TIMEOUT_MS = 15000
PHONE = {"width": 390, "height": 844}
# Every visible element of the page wider than the viewport or past its edges (and the page's own scroll width):
# [] when the layout fits. Elements inside a closed menu (no box) are not drawn and not counted.
OVERFLOW_JS = """() => {
  const width = window.innerWidth, found = [];
  if (document.documentElement.scrollWidth > width) {
    found.push('page scrollWidth ' + document.documentElement.scrollWidth + ' > ' + width);
  }
  for (const el of document.querySelectorAll('body *')) {
    const box = el.getBoundingClientRect();
    if (box.width === 0 && box.height === 0) continue;
    if (getComputedStyle(el).visibility === 'hidden') continue;
    if (box.left < -0.5 || box.right > width + 0.5) {
      found.push(el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') + '.' + String(el.className).split(' ')[0]
                 + ' [' + Math.round(box.left) + ', ' + Math.round(box.right) + '] '
                 + (el.innerText || '').slice(0, 40));
    }
  }
  return found;
}"""


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
def browser(request: pytest.FixtureRequest) -> Iterator[Browser]:
    """A Chromium page at a desktop's viewport, or at a phone's (``@pytest.mark.parametrize`` of ``viewport``
    ... indirect) with touch and a phone's pixel ratio."""
    phone = getattr(request, "param", None) == "phone"
    with playwright_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path="/usr/bin/chromium",
                                              args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        context = chromium.new_context(viewport=PHONE if phone else {"width": 1100, "height": 1000}, locale="ru-RU",
                                       is_mobile=phone, has_touch=phone, device_scale_factor=2 if phone else 1)
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


def log_in(page: Any, base: str, app: Flask) -> None:
    login, password = app.config["TEST_ADMIN"]
    page.goto(f"{base}/login")
    page.fill("#login", login)
    page.fill("#password", password)
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/login" not in url)


def assert_fits(page: Any, step: str) -> None:
    too_wide = page.evaluate(OVERFLOW_JS)
    assert too_wide == [], (step, too_wide)


@pytest.mark.browser
def test_admin_talks_to_the_bot_in_the_browser(served: tuple[str, Flask], browser: Browser) -> None:
    base, app = served
    page = browser.page
    measurer_id, measurer_name = measurer_of(app)
    log_in(page, base, app)

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
    assert_fits(page, "desktop")
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOT), full_page=True)

    with get_state(app).db.session() as session:
        kinds = [m.kind for m in session.scalars(select(Message).where(Message.direction == Direction.IN)
                                                 .order_by(Message.id))]
    assert kinds == ["start", "button", "text", "photo", "photo", "location"]
    assert browser.errors == []
    assert browser.outside == []  # no CDN, no fonts from outside: it works without the internet


LONG_ADDRESS = "г. Казань, ул. Большая Красная-Краснодеревщиков, д. 125, корп. 4, кв. 318"


def job_for(app: Flask, measurer_id: int) -> int:
    """A measurement later today with a long street and a long client name (the longest labels a phone sees)."""
    from crm_plugin.demo.models import Client, Job, Order
    from crm_plugin.host import JobKind, JobStatus

    tz = get_state(app).settings.tz
    at = datetime.now(tz).replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    with app.app_context():
        order = Order(number="З-2026-9001", amount=Decimal(90_000), client=Client(
            name="Константинопольская Александра Владиславовна", phones_text="8 (917) 555-44-33",
            address=LONG_ADDRESS))
        job = Job(kind=JobKind.MEASUREMENT, order=order, scheduled_at=at, address=LONG_ADDRESS, latitude=55.7887,
                  longitude=49.1221, manager_comment="Домофон 318, второй подъезд со двора", assignee_id=measurer_id,
                  status=JobStatus.SCHEDULED)
        db.session.add(job)
        db.session.commit()
        return int(job.id)


def tap(page: Any, label: str) -> None:
    """The newest bot button whose label starts with ``label``, then wait for the bot's answer to it."""
    answers = page.locator(".webchat-out").count()
    page.locator(".webchat-out button.webchat-button", has_text=label).last.click()
    page.wait_for_function(f"document.querySelectorAll('.webchat-out').length > {answers}")
    page.wait_for_selector("#webchat-typing", state="hidden")


def shoot(page: Any, name: str) -> None:
    page.wait_for_selector("#webchat-typing", state="hidden")
    assert_fits(page, name)
    page.screenshot(path=str(SHOTS / f"webchat-phone-{name}.png"))


@pytest.mark.browser
@pytest.mark.parametrize("browser", ["phone"], indirect=True)
def test_a_measurers_day_fits_a_phone(served: tuple[str, Flask], browser: Browser) -> None:
    base, app = served
    page = browser.page
    measurer_id, _ = measurer_of(app)
    log_in(page, base, app)
    # The admin lets this web chat receive the company's notifications (it binds on trial otherwise).
    state = get_state(app)
    with app.app_context(), state.db.session() as session:
        bot = ensure_web_bot(session, state.secrets.seal({}))
        bind_employee(session, bot, state.gateway.get_user(measurer_id)).trial = False
    page.goto(f"{base}/admin/crm-plugin/webchat/")
    assert_fits(page, "empty page")
    page.select_option("#webchat-employee", str(measurer_id))
    page.wait_for_selector("#webchat-text:enabled")
    assert page.locator("#webchat-notice").is_hidden()  # not a try-out: no «Проба» notice
    assert_fits(page, "picker")
    send_box = page.locator("#webchat-send").bounding_box()
    assert send_box is not None and send_box["x"] + send_box["width"] <= PHONE["width"]  # the send button whole

    job_id = job_for(app, measurer_id)
    with app.app_context():
        host.measurement_requested.send(app, job_id=job_id)
    page.wait_for_selector(".webchat-out .webchat-text:has-text('Константинопольская')")
    SHOTS.mkdir(parents=True, exist_ok=True)
    shoot(page, "notification")

    answers = page.locator(".webchat-out").count()  # the menu, then today's list, the whole street on a phone
    page.fill("#webchat-text", "/start")
    page.click("#webchat-send")
    page.wait_for_function(f"document.querySelectorAll('.webchat-out').length > {answers}")
    tap(page, "Сегодня")
    shoot(page, "list")

    page.locator(".webchat-out button.webchat-button", has_text="Красная").last.click()
    page.wait_for_selector(".webchat-out .webchat-text:has-text('Домофон 318')")
    page.wait_for_selector("#webchat-typing", state="hidden")
    shoot(page, "card")

    tap(page, "Отправить фото")
    page.set_input_files("#webchat-files", [
        {"name": "kitchen.png", "mimeType": "image/png", "buffer": window_photo((190, 60, 50))},
        {"name": "room.png", "mimeType": "image/png", "buffer": window_photo((60, 110, 180))},
    ])
    page.wait_for_selector(".webchat-out .webchat-text:has-text('Получено')")
    page.wait_for_function("Array.from(document.querySelectorAll('.webchat-photo img'))"
                           ".every(img => img.complete && img.naturalWidth > 0)")
    shoot(page, "photos")

    tap(page, "Отправить замерный лист")
    sheets = page.locator(".webchat-out .webchat-text", has_text="Получено").count()
    page.set_input_files("#webchat-files", [{"name": "замерный-лист.pdf", "mimeType": "application/pdf",
                                             "buffer": b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"}])
    page.wait_for_function("n => Array.from(document.querySelectorAll('.webchat-out .webchat-text'))"
                           ".filter(e => e.innerText.includes('Получено')).length > n", arg=sheets)
    shoot(page, "sheet")

    tap(page, "Замер выполнен")
    if not page.locator(".webchat-out .webchat-text", has_text="Спасибо").count():  # «выполнен» asks to confirm
        tap(page, "Да")
    page.wait_for_selector(".webchat-out .webchat-text:has-text('Спасибо')")
    shoot(page, "done")

    with app.app_context():
        assert get_state(app).gateway.get_job(job_id).status.value == "measured"

    # Her own figures, three taps from the menu: the chart drawn in the worker, shown inline on the phone.
    answers = page.locator(".webchat-out").count()
    page.fill("#webchat-text", "/start")
    page.click("#webchat-send")
    page.wait_for_function(f"document.querySelectorAll('.webchat-out').length > {answers}")
    charts = page.locator(".webchat-out .webchat-photo img").count()
    tap(page, "📊")
    tap(page, "Выполненные замеры")
    tap(page, "Этот месяц")
    page.wait_for_function("n => { const shown = Array.from(document.querySelectorAll('.webchat-out .webchat-photo img'));"
                           " return shown.length > n && shown.every(img => img.complete && img.naturalWidth > 0); }",
                           arg=charts)
    assert page.locator(".webchat-out .webchat-text", has_text="Выполненные замеры").count()
    shoot(page, "stats")
    assert browser.errors == [] and browser.outside == []
