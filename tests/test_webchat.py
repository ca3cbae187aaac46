"""The web chat ("Попробовать бота"): the channel, the page's JSON API and the real engine behind it."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from crm_plugin import get_state
from crm_plugin.channels import channel_for
from crm_plugin.channels.base import MalformedRequest, WebhookRequest
from crm_plugin.channels.web import UPLOAD_FOLDER, UploadStore, WebChannel
from crm_plugin.core.chat import Button, FileKindOut, FileRef, LocationReply, MediaReply, OutFile, TextReply
from crm_plugin.core.models import (
    AccessGrant,
    Bot,
    Direction,
    EmployeeLink,
    LinkStatus,
    Message,
    MessageStatus,
    Platform,
)
from crm_plugin.delivery.outbox import enqueue
from crm_plugin.demo.images import measurement_sheet, window_photo
from crm_plugin.demo.models import Client, Job, Order, User, db
from crm_plugin.extension import PluginState
from crm_plugin.host import FileKind, JobKind, NewFile, Role

from .conftest import make_test_app

API = "/crm-plugin/webchat"
PAGE = "/admin/crm-plugin/webchat/"


# --- fixtures and helpers ------------------------------------------------------------------------

def add_user(app: Flask, login: str, full_name: str, *, roles: set[Role] = frozenset(), is_admin: bool = False,
             phone: str | None = None, active: bool = True) -> int:
    with app.app_context():
        user = User(login=login, full_name=full_name, phone=phone, is_admin=is_admin, active=active)
        user.roles = set(roles)
        user.set_password("secret")
        db.session.add(user)
        db.session.commit()
        return user.id


@pytest.fixture
def people(app: Flask) -> dict[str, int]:
    return {
        "admin": add_user(app, "boss", "Админов Пётр", is_admin=True),
        "measurer": add_user(app, "meas", "Хайруллин Ильдар Маратович", roles={Role.MEASURER},
                             phone="+7 927 401-22-11"),
        "installer": add_user(app, "inst", "Никитин Алексей Петрович", roles={Role.INSTALLER}),
        "clerk": add_user(app, "clerk", "Секретарёва Анна", roles={Role.MANAGER}),
    }


def log_in(client: FlaskClient, user_id: int) -> None:
    with client.session_transaction() as session:
        session["_user_id"] = str(user_id)
        session["_fresh"] = True


@pytest.fixture
def admin(client: FlaskClient, people: dict[str, int]) -> FlaskClient:
    log_in(client, people["admin"])
    return client


def send(client: FlaskClient, user_id: int, **event: Any) -> Any:
    return client.post(f"{API}/send", json={"user_id": user_id, **event})


def poll(client: FlaskClient, user_id: int, after: int = 0) -> dict[str, Any]:
    response = client.get(f"{API}/messages", query_string={"user": user_id, "after": after})
    assert response.status_code == 200, response.text
    return response.json  # type: ignore[no-any-return]


def rows(state: PluginState, **where: Any) -> list[Message]:
    with state.db.session() as session:
        query = select(Message).order_by(Message.id)
        for key, value in where.items():
            query = query.where(getattr(Message, key) == value)
        return list(session.scalars(query))


def web_bot(state: PluginState) -> Bot:
    with state.db.session() as session:
        bots = session.scalars(select(Bot).where(Bot.platform == Platform.WEB)).all()
    assert len(bots) == 1
    return bots[0]


@pytest.fixture
def worker(app: Flask) -> Iterator[Any]:
    """The real delivery worker, run by the test with drain()."""
    from crm_plugin.extension import make_worker

    worker = make_worker(app)
    yield worker
    worker.stop()


def deliver(worker: Any) -> None:
    """Run the worker until the bot has answered and the answers are delivered."""
    assert worker.drain(timeout=20), "the worker did not finish the queue"


def png(color: tuple[int, int, int]) -> bytes:
    return window_photo(color)


# --- the channel ---------------------------------------------------------------------------------

def test_channel_contract(tmp_path: Path) -> None:
    channel = WebChannel({}, api_url="", upload_dir=tmp_path)
    request = WebhookRequest({}, b"{}")
    assert channel.verify(request) is False
    with pytest.raises(MalformedRequest):
        channel.parse(request)
    first = channel.send("web-1", TextReply("Привет"), files=None)  # type: ignore[arg-type]
    second = channel.send("web-1", TextReply("Ещё"), files=None)  # type: ignore[arg-type]
    assert first[0].startswith("web:") and first != second
    assert channel.check().id == "web" and channel.check().name == "Веб-чат"
    assert channel.webhook_info().url is None
    assert WebChannel.per_chat_rate > 100 and WebChannel.per_bot_rate > 100


def test_download_reads_uploads_and_refuses_path_tricks(tmp_path: Path) -> None:
    store = UploadStore(tmp_path / "uploads")
    stored = store.save(b"\x89PNG\r\n\x1a\nrest", name="окно.png", content_type="image/png")
    (tmp_path / "secret.txt").write_text("do not read")
    channel = WebChannel({}, api_url="", upload_dir=tmp_path / "uploads")
    assert channel.download(FileRef(stored.file_id)) == b"\x89PNG\r\n\x1a\nrest"
    assert store.info(stored.file_id).name == "окно.png"
    for trick in ("../secret.txt", str(tmp_path / "secret.txt"), stored.file_id + ".json", "a" * 32,
                  stored.file_id.upper(), f"{stored.file_id}/../{stored.file_id}"):
        with pytest.raises(FileNotFoundError):
            channel.download(FileRef(trick))


# --- choosing an employee ------------------------------------------------------------------------

def test_page_lists_active_employees(app: Flask, admin: FlaskClient, people: dict[str, int]) -> None:
    add_user(app, "gone", "Закиров Айдар Фаридович", roles={Role.MEASURER}, active=False)
    page = admin.get(PAGE)
    assert page.status_code == 200
    assert "Хайруллин Ильдар Маратович (замерщик)" in page.text and "Никитин Алексей Петрович" in page.text
    assert "Закиров" not in page.text
    assert 'name="csrf-token"' in page.text and "Отправить" in page.text
    assert "crm_plugin/webchat.js" in page.text and "crm_plugin/webchat.css" in page.text


def test_choosing_an_employee_binds_the_web_link(state: PluginState, admin: FlaskClient,
                                                 people: dict[str, int]) -> None:
    measurer = people["measurer"]
    for _ in range(2):  # choosing twice makes one bot and one link
        response = admin.post(f"{API}/session", json={"user_id": measurer})
        assert response.status_code == 200
        assert response.json["status"] == "bound" and response.json["notice"].startswith("Проба:")  # a try-out
    bot = web_bot(state)
    assert bot.name == "Веб-чат" and state.secrets.open(bot.credentials_encrypted) == {}
    with state.db.session() as session:
        link = session.scalars(select(EmployeeLink).where(EmployeeLink.bot_id == bot.id)).one()
    assert (link.crm_user_id, link.platform_user_id, link.chat_id) == (measurer, f"web-{measurer}", f"web-{measurer}")
    assert link.status == LinkStatus.BOUND and link.bound_at is not None


def test_blocked_employee_stays_blocked_and_is_refused(worker: Any, state: PluginState, admin: FlaskClient,
                                                       people: dict[str, int]) -> None:
    admin.post(f"{API}/session", json={"user_id": people["installer"]})
    with state.db.session() as session:
        link = session.scalars(select(EmployeeLink).where(EmployeeLink.crm_user_id == people["installer"])).one()
        link.status = LinkStatus.BLOCKED
    response = admin.post(f"{API}/session", json={"user_id": people["installer"]})
    assert response.json["status"] == "blocked" and "заблокирован" in response.json["notice"]
    with state.db.session() as session:
        assert session.get(EmployeeLink, link.id).status == LinkStatus.BLOCKED  # type: ignore[union-attr]
    send(admin, people["installer"], type="text", text="/start")
    deliver(worker)
    answer = [m for m in poll(admin, people["installer"])["messages"] if m["direction"] == "out"]
    assert len(answer) == 1 and "заблокировал" in answer[0]["text"] and answer[0]["buttons"] == []


def test_unknown_or_inactive_employee_is_refused(app: Flask, state: PluginState, admin: FlaskClient) -> None:
    gone = add_user(app, "gone", "Закиров Айдар", active=False)
    for user_id in (gone, 99999, "x", None):
        response = admin.post(f"{API}/session", json={"user_id": user_id})
        assert response.status_code == 400 and response.json["error"] == "Выберите сотрудника из списка."
        assert send(admin, user_id, type="text", text="привет").status_code == 400
    assert admin.post(f"{API}/session", data="not json").status_code == 400
    assert rows(state) == []


# --- talking to the bot --------------------------------------------------------------------------

def test_text_and_start_are_stored_as_events(state: PluginState, admin: FlaskClient, worker: Any,
                                             people: dict[str, int]) -> None:
    measurer = people["measurer"]
    admin.post(f"{API}/session", json={"user_id": measurer})
    assert send(admin, measurer, type="text", text="/start").status_code == 200
    assert send(admin, measurer, type="text", text="  Сегодня  ").status_code == 200
    stored = rows(state, direction=Direction.IN)
    assert [(m.kind, m.status) for m in stored] == [("start", MessageStatus.RECEIVED), ("text", MessageStatus.RECEIVED)]
    sender = stored[1].payload["inbound"]["sender"]
    assert sender == {"user_id": f"web-{measurer}", "chat_id": f"web-{measurer}", "name": "Хайруллин Ильдар Маратович",
                      "language": "ru", "is_group": False}
    assert stored[1].payload["inbound"]["event"] == {"text": "Сегодня"}
    page = poll(admin, measurer)
    assert [m["text"] for m in page["messages"]] == ["/start", "Сегодня"] and page["busy"] is True
    # Empty text and unknown actions get a plain Russian answer and store nothing.
    assert send(admin, measurer, type="text", text="   ").json["error"] == "Напишите сообщение."
    assert send(admin, measurer, type="teleport").status_code == 400
    assert len(rows(state)) == 2
    deliver(worker)  # the turn files each row under the employee it came from (the admin's log shows who)
    assert [m.link_id is not None for m in rows(state, direction=Direction.IN)] == [True, True]


def test_start_gets_the_bots_answer_and_a_button_press_works(worker: Any, state: PluginState, admin: FlaskClient,
                                                             people: dict[str, int]) -> None:
    measurer = people["measurer"]
    admin.post(f"{API}/session", json={"user_id": measurer})
    send(admin, measurer, type="text", text="/start")
    deliver(worker)
    page = poll(admin, measurer)
    replies = [m for m in page["messages"] if m["direction"] == "out"]
    assert replies and all(m["status"] == "sent" for m in replies)
    assert page["busy"] is False
    assert all(r.platform_message_id.startswith("web:") for r in rows(state, direction=Direction.OUT))
    buttons = [b for m in replies for row in m.get("buttons", []) for b in row if b["kind"] == "payload"]
    assert buttons, f"the bot's answer to /start has no buttons: {replies}"
    before = len(rows(state))
    pressed_ok = send(admin, measurer, type="button", payload=buttons[0]["payload"], label=buttons[0]["label"])
    assert pressed_ok.json == {"ok": True}
    deliver(worker)
    later = poll(admin, measurer, after=page["after"])
    pressed = later["messages"][0]
    assert pressed["direction"] == "in" and pressed["text"] == buttons[0]["label"] and pressed["pressed"]
    assert any(m["direction"] == "out" for m in later["messages"][1:])
    assert len(rows(state)) > before + 1
    assert rows(state, kind="button")[0].status == MessageStatus.HANDLED


def test_album_of_two_photos(app: Flask, state: PluginState, admin: FlaskClient, people: dict[str, int]) -> None:
    measurer = people["measurer"]
    admin.post(f"{API}/session", json={"user_id": measurer})
    first, second = png((200, 30, 30)), png((30, 30, 200))
    response = admin.post(f"{API}/upload", data={
        "user_id": str(measurer), "caption": "Кухня",
        "files": [(io.BytesIO(first), "kitchen.png"), (io.BytesIO(second), "room.png")],
    }, content_type="multipart/form-data")
    assert response.status_code == 200 and response.json["files"] == 2
    photos = rows(state, kind="photo")
    events = [p.payload["inbound"]["event"] for p in photos]
    group = events[0]["media_group_id"]
    assert len(photos) == 2 and group and events[1]["media_group_id"] == group
    assert events[0]["caption"] == "Кухня" and events[1]["caption"] is None
    # The worker's channel reads the bytes back by file id.
    with app.app_context():
        channel = channel_for(state, web_bot(state))
        assert [channel.download(FileRef(e["file"]["file_id"])) for e in events] == [first, second]
    assert (Path(app.instance_path) / UPLOAD_FOLDER / events[0]["file"]["file_id"]).is_file()
    shown = poll(admin, measurer)["messages"]
    assert [m["group"] for m in shown] == [group, group]
    image = admin.get(shown[1]["files"][0]["url"])
    assert image.status_code == 200 and image.data == second and image.mimetype == "image/png"
    assert image.headers["X-Content-Type-Options"] == "nosniff"


def test_single_pdf_is_a_document_and_bad_files_are_refused(state: PluginState, admin: FlaskClient,
                                                             people: dict[str, int]) -> None:
    measurer = people["measurer"]
    pdf = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
    response = admin.post(f"{API}/upload", data={"user_id": str(measurer), "files": [(io.BytesIO(pdf), "лист.pdf")]},
                          content_type="multipart/form-data")
    assert response.status_code == 200
    document = rows(state, kind="document")[0].payload["inbound"]["event"]
    assert document["media_group_id"] is None and document["file"]["content_type"] == "application/pdf"
    for name, data in (("page.html", b"<script>alert(1)</script>"), ("photo.png", b"not really a png")):
        refused = admin.post(f"{API}/upload", data={"user_id": str(measurer), "files": [(io.BytesIO(data), name)]},
                             content_type="multipart/form-data")
        assert refused.status_code == 400 and "JPEG, PNG" in refused.json["error"]
    nothing = admin.post(f"{API}/upload", data={"user_id": str(measurer)}, content_type="multipart/form-data")
    assert nothing.json["error"] == "Выберите фото или PDF-файл."
    assert len(rows(state)) == 1
    assert admin.get(f"{API}/upload/..%2F..%2Fetc%2Fpasswd").status_code == 404
    assert admin.get(f"{API}/upload/{'0' * 32}").status_code == 404


def test_location_and_contact(state: PluginState, admin: FlaskClient, people: dict[str, int]) -> None:
    measurer, installer = people["measurer"], people["installer"]
    assert send(admin, measurer, type="location", latitude="55.7887", longitude=49.1186).status_code == 200
    assert send(admin, measurer, type="contact").status_code == 200
    location, contact = (m.payload["inbound"]["event"] for m in rows(state))
    assert location == {"latitude": 55.7887, "longitude": 49.1186}
    assert contact == {"phone": "+7 927 401-22-11", "own": True}
    shown = poll(admin, measurer)["messages"]
    assert shown[0]["location"]["url"].startswith("https://www.openstreetmap.org/?mlat=55.788700&mlon=49.118600")
    assert shown[1]["text"] == "+7 927 401-22-11" and shown[1]["contact"] is True
    assert "от -90 до 90" in send(admin, measurer, type="location", latitude=91, longitude=0).json["error"]
    assert "числами" in send(admin, measurer, type="location", latitude="север", longitude=0).json["error"]
    assert "нет телефона" in send(admin, installer, type="contact").json["error"]
    assert len(rows(state)) == 2


# --- how replies look -----------------------------------------------------------------------------

def crm_files(app: Flask, by_user: int, *files: tuple[bytes, str, str]) -> list[int]:
    """CRM files attached to a job of a new order, through the demo CRM's gateway."""
    with app.app_context():
        client = Client(name="Иванова Ольга", phones_text="+7 917 300-44-55", address="ул. Баумана, 5")
        order = Order(number="З-2026-0001", client=client)
        job = Job(kind=JobKind.MEASUREMENT, order=order, address="ул. Баумана, 5")
        db.session.add_all([client, order, job])
        db.session.commit()
        gateway = get_state(app).gateway
        return [gateway.attach_file(job.id, NewFile(FileKind.OBJECT_PHOTO, name, kind, data), by_user)
                for data, name, kind in files]


def test_replies_render_with_buttons_files_and_places(app: Flask, state: PluginState, admin: FlaskClient,
                                                      people: dict[str, int]) -> None:
    measurer = people["measurer"]
    admin.post(f"{API}/session", json={"user_id": measurer})
    photo = window_photo((10, 120, 10))
    sheet = measurement_sheet()
    photo_id, sheet_id = crm_files(app, measurer, (photo, "object.png", "image/png"), (sheet, "sheet.png", "image/png"))
    bot = web_bot(state)
    chat = f"web-{measurer}"
    with state.db.session() as session:
        for reply in (
            TextReply("Выберите:", (
                (Button.action("Сегодня", "jobs:today"), Button.link("Карта", "https://osm.org")),
                (Button.share_contact("Мой телефон"), Button.link("Плохая", "javascript:alert(1)")),
            )),
            MediaReply((OutFile(FileKindOut.PHOTO, photo_id, "object.png", "image/png"),
                        OutFile(FileKindOut.DOCUMENT, sheet_id, "sheet.png", "image/png")), caption="Файлы"),
            LocationReply(55.79, 49.12, "ул. Баумана, 5"),
        ):
            enqueue(session, bot_id=bot.id, chat_id=chat, reply=reply)
    assert poll(admin, measurer)["messages"] == []  # queued replies wait for the worker
    with state.db.session() as session:
        for message in session.scalars(select(Message)):
            message.status = MessageStatus.SENT
    text, media, place = poll(admin, measurer)["messages"]
    assert text["buttons"] == [
        [{"label": "Сегодня", "kind": "payload", "payload": "jobs:today"},
         {"label": "Карта", "kind": "url", "url": "https://osm.org"}],
        [{"label": "Мой телефон", "kind": "request_contact"}, {"label": "Плохая", "kind": "url", "url": None}],
    ]
    assert media["caption"] == "Файлы" and [f["image"] for f in media["files"]] == [True, False]
    shown = admin.get(media["files"][0]["url"])
    assert shown.data == photo and shown.mimetype == "image/png" and "attachment" not in shown.headers.get(
        "Content-Disposition", "")
    document = admin.get(media["files"][1]["url"])
    assert document.data == sheet and "attachment" in document.headers["Content-Disposition"]
    assert admin.get(f"{API}/file/{text['id']}/0").status_code == 404  # not a media reply
    assert admin.get(f"{API}/file/{media['id']}/2").status_code == 404
    assert place["location"]["title"] == "ул. Баумана, 5" and "openstreetmap.org" in place["location"]["url"]
    with state.db.session() as session:  # a file deleted in the CRM since it was sent
        gone = enqueue(session, bot_id=bot.id, chat_id=chat,
                       reply=MediaReply((OutFile(FileKindOut.PHOTO, 99999, "gone.png", "image/png"),)))
        gone.status = MessageStatus.SENT
    assert admin.get(f"{API}/file/{gone.id}/0").status_code == 404


def test_poll_cursor_waits_for_a_queued_reply(state: PluginState, admin: FlaskClient, people: dict[str, int]) -> None:
    measurer = people["measurer"]
    admin.post(f"{API}/session", json={"user_id": measurer})
    send(admin, measurer, type="text", text="первое")
    bot = web_bot(state)
    with state.db.session() as session:
        queued = enqueue(session, bot_id=bot.id, chat_id=f"web-{measurer}", reply=TextReply("ответ"))
    send(admin, measurer, type="text", text="второе")
    page = poll(admin, measurer)
    assert [m["text"] for m in page["messages"]] == ["первое", "второе"]
    assert page["after"] == queued.id - 1 and page["busy"] is True
    with state.db.session() as session:
        session.get(Message, queued.id).status = MessageStatus.SENT  # type: ignore[union-attr]
    later = poll(admin, measurer, after=page["after"])
    assert [m["text"] for m in later["messages"]] == ["ответ", "второе"]  # the page skips ids it already shows
    assert later["after"] == rows(state)[-1].id
    assert poll(admin, measurer, after=later["after"])["messages"] == []
    # Another employee's conversation is not mixed in.
    assert poll(admin, people["installer"])["messages"] == []


# --- access ---------------------------------------------------------------------------------------

def _every_endpoint(client: FlaskClient, user_id: int) -> list[Any]:
    return [
        client.get(PAGE),
        client.post(f"{API}/session", json={"user_id": user_id}),
        client.get(f"{API}/messages", query_string={"user": user_id}),
        client.post(f"{API}/send", json={"user_id": user_id, "type": "text", "text": "взлом"}),
        client.post(f"{API}/upload", data={"user_id": str(user_id), "files": [(io.BytesIO(png((1, 2, 3))), "a.png")]},
                    content_type="multipart/form-data"),
        client.get(f"{API}/file/1/0"),
        client.get(f"{API}/upload/{'a' * 32}"),
    ]


@pytest.mark.parametrize("who", ["anonymous", "employee", "admin without the grant"])
def test_access_denied_gives_403_and_no_data(state: PluginState, client: FlaskClient, people: dict[str, int],
                                             who: str) -> None:
    if who == "employee":
        log_in(client, people["clerk"])
    elif who == "admin without the grant":
        with state.db.session() as session:
            session.add(AccessGrant(crm_user_id=people["measurer"]))  # only someone else may manage the plugin
        log_in(client, people["admin"])
    page, *api = _every_endpoint(client, people["measurer"])
    if who == "anonymous":  # a stranger is sent to the CRM's login page
        assert page.status_code == 302 and page.headers["Location"].startswith("/login")
    else:
        assert page.status_code == 403
    for response in (page, *api):
        assert response.status_code in (302, 403), response.request.path
        assert response.status_code == 403 or response is page
        assert "Хайруллин" not in response.text and "web-" not in response.text
    assert rows(state) == []
    with state.db.session() as session:
        assert session.scalars(select(Bot)).all() == [] and session.scalars(select(EmployeeLink)).all() == []


def test_posts_need_the_csrf_token_from_the_page(database_url: str, tmp_path: Path) -> None:
    app = make_test_app(database_url, WTF_CSRF_ENABLED=True)
    state = get_state(app)
    try:
        admin_id = add_user(app, "boss", "Админов Пётр", is_admin=True)
        measurer = add_user(app, "meas", "Хайруллин Ильдар", roles={Role.MEASURER})
        client = app.test_client()
        log_in(client, admin_id)
        assert send(client, measurer, type="text", text="без токена").status_code == 400
        forged = client.post(f"{API}/send", json={"user_id": measurer, "type": "text", "text": "x"},
                             headers={"X-CSRFToken": "forged"})
        assert forged.status_code == 400 and "обновите" in forged.json["error"]
        assert rows(state) == []
        found = re.search(r'name="csrf-token" content="([^"]+)"', client.get(PAGE).text)
        assert found is not None
        token = found.group(1)
        ok = client.post(f"{API}/send", json={"user_id": measurer, "type": "text", "text": "с токеном"},
                         headers={"X-CSRFToken": token})
        assert ok.status_code == 200 and [m.preview for m in rows(state)] == ["с токеном"]
    finally:
        state.db.dispose()
