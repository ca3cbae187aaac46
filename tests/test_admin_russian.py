"""The admin tab speaks Russian: every page of the tab (the menu's, their create and edit forms, record pages,
the 403 and 404 pages) crawled with data of every kind, and no English word or raw enum value in what a
person reads. Product names are allowed; technical text is shown as code (<code>: payloads, platform errors)
and links (URLs) are not words."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from urllib.parse import urlsplit

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from crm_plugin.core.chat import Button, TextReply, reply_to_dict
from crm_plugin.core.models import (
    AccessGrant,
    Attendance,
    BindingRequest,
    Bot,
    Direction,
    EmployeeLink,
    LinkStatus,
    Message,
    MessageStatus,
    NotificationTemplate,
    Platform,
)
from crm_plugin.core.state import PluginState
from crm_plugin.demo.models import User, db
from crm_plugin.host import Role

from .admin_helpers import ADMIN_URL, add_user, admin_client, login
from .store_helpers import configure

# Names of products and formats, the same in any language.
ALLOWED = {"Telegram", "VK", "Viber", "Slack", "CRM", "ID", "CSV", "PDF", "JPEG", "PNG", "GIF", "WebP", "API",
           "OpenStreetMap", "BotFather", "Callback", "crm_plugin",
           # Slack's settings pages exist only in English: the hints name the sections the admin clicks
           "Basic", "Information", "App", "Credentials", "Signing", "Secret", "OAuth", "Permissions", "Tokens",
           "Level", "Socket", "Mode", "Bot", "User", "Token", "xoxb", "xapp", "connections", "write",
           "ABC"}  # the look of a Telegram token, «123456:ABC…»
SKIPPED_TAGS = {"script", "style", "code", "pre", "noscript", "template"}
SHOWN_ATTRIBUTES = ("title", "placeholder", "aria-label", "alt")
HIDDEN_CLASSES = {"d-none", "sr-only", "visually-hidden", "hide"}
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
WORD = re.compile(r"[A-Za-z][A-Za-z_]*")
# links, addresses, @usernames, a template's {placeholders}
URL = re.compile(r"(https?://|/)\S+|\S+@\S+|@\w+|\b[\w.-]+\.(com|ru)\b\S*|\{\w+\}")
MAX_PAGES = 150


class VisibleText(HTMLParser):
    """The words a person reads: text outside scripts, code and hidden elements, button values, titles and
    placeholders. The CRM's own navigation bar is the host's, not the tab's; text marked ``lang="en"`` (the
    English notification templates) is English on purpose."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.open: list[str] = []
        self.skip_from: int | None = None  # depth of the element being skipped
        self.parts: list[str] = []
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "a" and values.get("href"):
            self.links.append(values["href"] or "")
        if tag in VOID:
            self._shown_attributes(tag, values)
            return
        self.open.append(tag)
        classes = set((values.get("class") or "").split())
        if self.skip_from is None and (tag in SKIPPED_TAGS or "hidden" in values or values.get("lang") == "en"
                                       or classes & HIDDEN_CLASSES or (tag == "nav" and "navbar" in classes)):
            self.skip_from = len(self.open)
        self._shown_attributes(tag, values)

    def _shown_attributes(self, tag: str, values: dict[str, str | None]) -> None:
        if self.skip_from is not None or "hidden" in values or values.get("type") == "hidden":
            return
        self.parts += [values[name] or "" for name in SHOWN_ATTRIBUTES if values.get(name)]
        if tag == "input" and values.get("type") in ("submit", "button") and values.get("value"):
            self.parts.append(values["value"] or "")

    def handle_endtag(self, tag: str) -> None:
        if tag in VOID or tag not in self.open:
            return
        while self.open:
            closed = self.open.pop()
            if self.skip_from is not None and len(self.open) < self.skip_from:
                self.skip_from = None
            if closed == tag:
                break

    def handle_data(self, data: str) -> None:
        if self.skip_from is None:
            self.parts.append(data)


PEOPLE = {"boss", "Boss", "volkov", "nikitin", "chief", "clerk", "Clerk"}  # logins of the test's CRM users: data


def english_words(html: str) -> tuple[set[str], list[str]]:
    parser = VisibleText()
    parser.feed(html)
    words = set()
    for part in parser.parts:
        for word in WORD.findall(URL.sub(" ", part)):
            if word not in ALLOWED and word not in PEOPLE:
                words.add(word)
    return words, parser.links


def fill(app: Flask, state: PluginState, boss: int) -> None:
    """Rows of every kind the tab shows: bots of two platforms, links in every state, messages of every
    kind, direction and status, a button press, a CRM event, shifts, a grant, a saved template."""
    measurer = add_user(app, "volkov", roles=(Role.MEASURER,), full_name="Волков Сергей")
    installer = add_user(app, "nikitin", roles=(Role.INSTALLER,), full_name="Никитин Алексей")
    now = datetime.now(UTC)
    with state.db.session() as session:
        telegram = Bot(platform=Platform.TELEGRAM, name="Окна Комфорт", platform_bot_id="123", username="okna_bot",
                       credentials_encrypted=state.secrets.seal({"token": "123:abc"}), webhook_url="https://x/y")
        web = Bot(platform=Platform.WEB, name="Веб-чат", platform_bot_id="web",
                  credentials_encrypted=state.secrets.seal({}))
        session.add_all([telegram, web])
        session.flush()
        bound = EmployeeLink(bot_id=telegram.id, crm_user_id=measurer, platform_user_id="501", chat_id="501",
                             status=LinkStatus.BOUND, role_override=Role.MANAGER.value, bound_at=now)
        session.add_all([
            bound,
            EmployeeLink(bot_id=telegram.id, crm_user_id=installer, status=LinkStatus.PENDING),
            EmployeeLink(bot_id=web.id, crm_user_id=measurer, platform_user_id=f"web-{measurer}",
                         chat_id=f"web-{measurer}", status=LinkStatus.BOUND, trial=True),
            EmployeeLink(bot_id=web.id, crm_user_id=installer, platform_user_id=f"web-{installer}",
                         chat_id=f"web-{installer}", status=LinkStatus.BLOCKED),
            BindingRequest(bot_id=telegram.id, crm_user_id=installer, platform_user_id="777", chat_id="777",
                           code_hash="0" * 64, expires_at=now + timedelta(hours=1)),
            AccessGrant(crm_user_id=add_user(app, "chief", admin=True, full_name="Главный Админ")),
            AccessGrant(crm_user_id=boss),
            Attendance(crm_user_id=measurer, bot_id=telegram.id, started_at=now - timedelta(hours=3),
                       start_latitude=55.79, start_longitude=49.12, ended_at=now - timedelta(hours=1)),
            Attendance(crm_user_id=installer, started_at=now - timedelta(hours=2)),
            NotificationTemplate(event="cancelled", language="ru", text="{kind} отменён: {address}"),
        ])
        session.flush()
        menu = reply_to_dict(TextReply("Меню", ((Button("Сегодня", payload="today:0"),),)))
        rows = [
            (Direction.OUT, "text", "Меню", menu, MessageStatus.SENT, None),
            (Direction.IN, "button", "today:0", {"inbound": {"event": {"payload": "today:0"}}},
             MessageStatus.HANDLED, None),
            (Direction.IN, "text", "Привет", {}, MessageStatus.RECEIVED, None),
            (Direction.IN, "photo", "[фото]", {}, MessageStatus.HANDLED, None),
            (Direction.OUT, "media", "[файлы]", {}, MessageStatus.QUEUED, None),
            (Direction.OUT, "location", "[геоточка]", {}, MessageStatus.SENDING, None),
            (Direction.OUT, "stats", "Статистика", {}, MessageStatus.FAILED, "Forbidden: bot was blocked by the user"),
            (Direction.IN, "host_event", "[CRM] job_changed", {"event": "job_changed", "kwargs": {"job_id": 7}},
             MessageStatus.HANDLED, None),
        ]
        for direction, kind, preview, payload, status, error in rows:
            session.add(Message(bot_id=telegram.id, chat_id="501", link_id=bound.id, direction=direction, kind=kind,
                                preview=preview, payload=payload, status=status, error=error,
                                next_attempt_at=now, sent_at=now if status is MessageStatus.SENT else None))


def crawl(client: FlaskClient, start: list[str]) -> dict[str, set[str]]:
    """Every page of the tab reachable from ``start`` (one per path and set of query names), with the English
    words each shows."""
    seen: set[tuple[str, tuple[str, ...]]] = set()
    queue, found = list(start), {}
    while queue and len(seen) < MAX_PAGES:
        url = queue.pop(0)
        parts = urlsplit(url)
        key = (parts.path, tuple(sorted(q.split("=", 1)[0] for q in parts.query.split("&") if q)))
        if key in seen or "format=csv" in parts.query or not parts.path.startswith(ADMIN_URL):
            continue
        seen.add(key)
        response = client.get(url)
        if response.status_code in (301, 302):
            continue
        assert response.status_code == 200, (url, response.status_code)
        words, links = english_words(response.get_data(as_text=True))
        if words:
            found[url] = words
        queue += [link for link in links if link.startswith(ADMIN_URL)]
    assert len(seen) >= 20, seen  # the crawl really went through the tab
    return found


def test_every_page_of_the_tab_reads_in_russian(app: Flask, state: PluginState) -> None:
    configure(app, telegram_api_url="http://127.0.0.1:9")  # «Инфо» asks a closed port, never the internet
    admin = admin_client(app)
    with app.app_context():
        boss = db.session.scalars(select(User.id).where(User.login == "boss")).one()
    fill(app, state, boss)
    with state.db.session() as session:
        ids = {model: session.query(model.id).first()[0] for model in (Bot, EmployeeLink, Message)}
    start = [f"{ADMIN_URL}/", f"{ADMIN_URL}/bots/new/", f"{ADMIN_URL}/bots/edit/?id={ids[Bot]}",
             f"{ADMIN_URL}/employees/edit/?id={ids[EmployeeLink]}", f"{ADMIN_URL}/messages/details/?id={ids[Message]}",
             f"{ADMIN_URL}/timesheet/"]
    home = admin.get("/admin/").get_data(as_text=True)  # the tab's menu, as the CRM's admin shows it
    start += [link for link in english_words(home)[1] if link.startswith(ADMIN_URL)]
    found = crawl(admin, start)
    by_word: dict[str, str] = {}
    for url, words in found.items():
        for word in words:
            by_word.setdefault(word, url)
    assert by_word == {}, "\n".join(f"{word}: {url}" for word, url in sorted(by_word.items()))


def test_the_403_and_404_pages_are_russian_with_a_way_back(app: Flask) -> None:
    add_user(app, "clerk", roles=(Role.MANAGER,))
    clerk = app.test_client()
    login(clerk, "clerk")
    refused = clerk.get(f"{ADMIN_URL}/bots/", headers={"Referer": "http://localhost/orders/"})
    html = refused.get_data(as_text=True)
    assert refused.status_code == 403 and "Нет доступа" in html and english_words(html)[0] == set()
    assert 'href="http://localhost/orders/"' in html and "Назад" in html and "Forbidden" not in html
    admin = admin_client(app)
    for missing in (f"{ADMIN_URL}/no-such-page/", f"{ADMIN_URL}/bots/no-such-page/"):
        response = admin.get(missing)
        html = response.get_data(as_text=True)
        assert response.status_code == 404 and "Страница не найдена" in html, missing
        assert english_words(html)[0] == set() and f'href="{ADMIN_URL}/"' in html
    assert "Not Found" in admin.get("/no-such-crm-page").get_data(as_text=True)  # the host's own 404 stays


def test_the_log_shows_a_pressed_button_by_its_label_and_times_in_the_company_zone(app: Flask,
                                                                                   state: PluginState) -> None:
    admin = admin_client(app)
    with app.app_context():
        boss = db.session.scalars(select(User.id).where(User.login == "boss")).one()
    fill(app, state, boss)
    html = admin.get(f"{ADMIN_URL}/messages/").get_data(as_text=True)
    assert "«Сегодня»" in html and ">today:0<" not in html  # the label of the bot's button, not its payload
    assert "Событие CRM: заявка изменена, заявка 7" in html and "job_changed" not in html
    assert re.search(r">\s*кнопка\s*<", html) and not re.search(r">\s*host_event\s*<", html)
    with state.db.session() as session:
        message = session.scalars(select(Message).order_by(Message.id)).first()
        local = message.created_at.astimezone(state.settings.tz).strftime("%d.%m.%Y %H:%M")
    details = admin.get(f"{ADMIN_URL}/messages/details/?id={message.id}").get_data(as_text=True)
    assert local in details and "Следующая попытка" in details and "Next Attempt" not in details
