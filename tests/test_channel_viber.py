"""The Viber adapter with the real viberbot library against the fake Viber server on loopback."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from werkzeug.datastructures import Headers

from crm_plugin.channels.base import CredentialsError, MalformedRequest, SendError, WebhookRequest
from crm_plugin.channels.viber import ViberChannel
from crm_plugin.core.chat import (
    Button,
    ButtonPress,
    Contact,
    Document,
    FileKindOut,
    FileRef,
    Location,
    LocationReply,
    MediaReply,
    OutFile,
    Photo,
    Start,
    Text,
    TextReply,
)
from tests.fakes.memory_files import MemoryFiles
from tests.fakes.server import Fault
from tests.fakes.viber import FakeViber

FIXTURES = Path(__file__).parent / "fixtures" / "viber"
TOKEN = "4453b6ac12345678-e02c5f12174805f9-daec9cbb5448c51f"
USER = "01234567890A="


@pytest.fixture
def fake() -> Iterator[FakeViber]:
    with FakeViber(TOKEN, per_receiver=(50, 60.0)) as server:
        yield server  # type: ignore[misc]


def make_channel(fake: FakeViber, token: str = TOKEN, **options: object) -> ViberChannel:
    # The plugin's default URL ends with a slash; the adapter must not double it.
    options.setdefault("timeout", 2.0)
    return ViberChannel({"token": token, "name": "Окна CRM"}, api_url=fake.url + "/pa/",
                        **options)  # type: ignore[arg-type]


@pytest.fixture
def channel(fake: FakeViber) -> ViberChannel:
    return make_channel(fake, media_url=lambda file_id: f"https://crm.example/media/{file_id}?sig=s{file_id}")


def signed(body: bytes, key: str = TOKEN) -> WebhookRequest:
    signature = hmac.new(key.encode(), body, hashlib.sha256).hexdigest()
    return WebhookRequest(Headers({"X-Viber-Content-Signature": signature}), body)


def fixture(name: str) -> WebhookRequest:
    return signed((FIXTURES / f"{name}.json").read_bytes())


def parse_one(channel: ViberChannel, name: str) -> object:
    parsed = channel.parse(fixture(name))
    assert len(parsed.inbound) == 1
    assert parsed.inbound[0].sender.user_id == USER and parsed.inbound[0].sender.chat_id == USER
    return parsed.inbound[0].event


# --- verify -------------------------------------------------------------------------------------------

def test_signature_valid_forged_missing_tampered(channel: ViberChannel) -> None:
    body = (FIXTURES / "message_text.json").read_bytes()
    assert channel.verify(signed(body))
    assert not channel.verify(signed(body, key="another-bot-token"))
    assert not channel.verify(WebhookRequest(Headers(), body))
    good = signed(body)
    assert not channel.verify(WebhookRequest(good.headers, body.replace("замер".encode(), "оплата".encode())))


# --- parse --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("body", [b"not json", b"[1, 2]", b'{"timestamp": 1}', b"\xff\xfe",
                                  b'{"event": "message", "message_token": 1, "message": {"type": "text"}}',
                                  b'{"event": "message", "message_token": 1, "sender": "x", "message": {}}',
                                  b'{"event": "message", "message_token": 1, "sender": {"id": "u"},'
                                  b' "message": {"type": "location", "location": {"lat": "north"}}}',
                                  b'{"event": "unsubscribed", "message_token": 1}'])
def test_malformed_bodies_raise(channel: ViberChannel, body: bytes) -> None:
    with pytest.raises(MalformedRequest):
        channel.parse(signed(body))


def test_text_and_dedupe_key(channel: ViberChannel) -> None:
    parsed = channel.parse(fixture("message_text"))
    assert parsed.dedupe_key == "viber:5741311803571721087"
    inbound = parsed.inbound[0]
    assert inbound.event == Text("Добрый день, когда замер?")
    assert inbound.sender.name == "Иван Петров" and inbound.sender.language == "ru"
    assert inbound.message_id == "5741311803571721087"


def test_button_text_becomes_button_press(channel: ViberChannel) -> None:
    assert parse_one(channel, "message_button") == ButtonPress("job:42:done")


def test_picture_and_file(channel: ViberChannel) -> None:
    photo = parse_one(channel, "message_picture")
    assert isinstance(photo, Photo) and photo.caption == "Проём на кухне"
    assert photo.file.file_id.endswith("a6.jpg") and photo.file.name == "IMG_20240610_101500.jpg"
    assert photo.file.size == 245123
    document = parse_one(channel, "message_file")
    assert isinstance(document, Document)
    assert document.file.name == "Замерный лист.pdf" and document.file.size == 102400


def test_location(channel: ViberChannel) -> None:
    assert parse_one(channel, "message_location") == Location(55.755826, 37.6173)


def test_forwarded_contact_is_foreign_share_phone_is_own(channel: ViberChannel) -> None:
    assert parse_one(channel, "message_contact") == Contact("+79161234567", own=False)
    assert parse_one(channel, "message_contact_share_phone") == Contact("79031112233", own=True)


def test_conversation_started_unsubscribed_answers_welcome_then_start(channel: ViberChannel) -> None:
    parsed = channel.parse(fixture("conversation_started"))
    assert parsed.inbound == [] and isinstance(parsed.response, dict)
    assert parsed.response["sender"]["name"] == "Окна CRM" and parsed.response["type"] == "text"
    (button,) = parsed.response["keyboard"]["Buttons"]
    assert button["ActionType"] == "reply" and button["ActionBody"] == "start:inv_8f3a9c"
    # Pressing it sends the ActionBody as the person's text: that is the Start with the deep-link context.
    pressed = json.loads((FIXTURES / "message_text.json").read_text())
    pressed["message"]["text"] = button["ActionBody"]
    again = channel.parse(signed(json.dumps(pressed).encode()))
    assert again.inbound[0].event == Start("inv_8f3a9c")
    # The template is not changed by one person's context.
    assert channel.parse(fixture("conversation_started")).response == parsed.response


def test_conversation_started_subscribed_is_start(channel: ViberChannel) -> None:
    parsed = channel.parse(fixture("conversation_started_subscribed"))
    assert parsed.response is None and parsed.inbound[0].event == Start("inv_8f3a9c")


def test_unsubscribed_marks_unreachable(channel: ViberChannel) -> None:
    parsed = channel.parse(fixture("unsubscribed"))
    assert parsed.inbound == [] and parsed.unreachable == [USER]
    assert parsed.dedupe_key == "viber:5741311803571721097"


@pytest.mark.parametrize("name", ["subscribed", "delivered", "seen", "failed", "webhook"])
def test_receipts_and_webhook_check_carry_no_events(channel: ViberChannel, name: str) -> None:
    parsed = channel.parse(fixture(name))
    assert parsed.inbound == [] and parsed.unreachable == [] and parsed.response is None


# --- send ---------------------------------------------------------------------------------------------

def test_text_with_keyboard_reaches_viber(channel: ViberChannel, fake: FakeViber) -> None:
    reply = TextReply("Новая заявка на замер", (
        (Button.action("Принять", "job:7:accept"), Button.action("Отказаться", "job:7:decline")),
        (Button.link("Карта", "https://maps.example/7"), Button.share_contact("Мой номер"),
         Button.share_location("Где я")),
    ))
    ids = channel.send(USER, reply, MemoryFiles({}))
    (sent,) = fake.sent
    assert ids == [str(sent["message_token"])]
    assert sent["receiver"] == USER and sent["text"] == "Новая заявка на замер"
    assert fake.calls("send_message")[0].headers["X-Viber-Auth-Token"] == TOKEN
    buttons = sent["keyboard"]["Buttons"]
    assert [b["Columns"] for b in buttons] == [3, 3, 2, 2, 2]
    assert [b["ActionType"] for b in buttons] == ["reply", "reply", "open-url", "share-phone", "location-picker"]
    assert buttons[2]["ActionBody"] == "https://maps.example/7" and buttons[3]["Text"] == "Мой номер"
    # A share-phone keyboard hides the input field and tags the message, so the reply contact is provably own.
    assert sent["keyboard"]["InputFieldState"] == "hidden" and sent["tracking_data"] == "crm:share-phone"
    assert sent["min_api_version"] >= 3
    # The rendered payload button, pressed, comes back as the same payload.
    pressed = json.loads((FIXTURES / "message_text.json").read_text())
    pressed["message"]["text"] = buttons[1]["ActionBody"]
    assert channel.parse(signed(json.dumps(pressed).encode())).inbound[0].event == ButtonPress("job:7:decline")


def test_plain_text_has_no_keyboard_and_wide_rows_wrap(channel: ViberChannel, fake: FakeViber) -> None:
    channel.send(USER, TextReply("Готово"), MemoryFiles({}))
    row = tuple(Button.action(str(n), f"n:{n}") for n in range(8))
    channel.send(USER, TextReply("Выберите", (row,)), MemoryFiles({}))
    plain, wide = fake.sent
    assert "keyboard" not in plain and "tracking_data" not in plain
    assert [b["Columns"] for b in wide["keyboard"]["Buttons"]] == [1] * 6 + [3, 3]


def test_media_reply_sends_pictures_and_files_by_url(channel: ViberChannel, fake: FakeViber) -> None:
    reply = MediaReply((OutFile(FileKindOut.PHOTO, 11, "a.jpg", "image/jpeg"),
                        OutFile(FileKindOut.PHOTO, 12, "b.jpg", "image/jpeg"),
                        OutFile(FileKindOut.DOCUMENT, 13, "Договор.pdf", "application/pdf")), caption="Фото замера")
    ids = channel.send(USER, reply, MemoryFiles({11: b"a", 12: b"b", 13: b"%PDF-1.4 contract"}))
    first, second, document = fake.sent
    assert len(ids) == 3 and len(set(ids)) == 3
    assert (first["type"], first["media"], first["text"]) == ("picture", "https://crm.example/media/11?sig=s11",
                                                               "Фото замера")
    assert second["type"] == "picture" and second["text"] == ""
    assert document["type"] == "file" and document["file_name"] == "Договор.pdf"
    assert document["size"] == len(b"%PDF-1.4 contract") and document["media"].endswith("/13?sig=s13")


def test_document_caption_goes_as_text_first(channel: ViberChannel, fake: FakeViber) -> None:
    reply = MediaReply((OutFile(FileKindOut.DOCUMENT, 5, "act.pdf", "application/pdf"),), caption="Акт")
    channel.send(USER, reply, MemoryFiles({5: b"pdf"}))
    assert [(m["type"], m.get("text")) for m in fake.sent] == [("text", "Акт"), ("file", None)]


def test_media_without_media_url_is_permanent(fake: FakeViber) -> None:
    reply = MediaReply((OutFile(FileKindOut.PHOTO, 1, "a.jpg", "image/jpeg"),))
    with pytest.raises(SendError) as error:
        make_channel(fake).send(USER, reply, MemoryFiles({1: b"x"}))
    assert error.value.permanent and fake.sent == []


def test_location_reply(channel: ViberChannel, fake: FakeViber) -> None:
    channel.send(USER, LocationReply(55.75, 37.61), MemoryFiles({}))
    channel.send(USER, LocationReply(59.93, 30.31, "Объект: ул. Ленина, 5"), MemoryFiles({}))
    assert fake.sent[0]["type"] == "location" and fake.sent[0]["location"] == {"lat": 55.75, "lon": 37.61}
    assert [m["type"] for m in fake.sent[1:]] == ["text", "location"]
    assert fake.sent[1]["text"] == "Объект: ул. Ленина, 5"


def test_each_channel_uses_its_own_api_url(channel: ViberChannel, fake: FakeViber) -> None:
    with FakeViber(TOKEN) as other:
        make_channel(other).send(USER, TextReply("второй"), MemoryFiles({}))  # type: ignore[arg-type]
        channel.send(USER, TextReply("первый"), MemoryFiles({}))
        assert [m["text"] for m in other.sent] == ["второй"]  # type: ignore[attr-defined]
    assert [m["text"] for m in fake.sent] == ["первый"]


# --- errors -------------------------------------------------------------------------------------------

def send_error(channel: ViberChannel, chat_id: str = USER) -> SendError:
    with pytest.raises(SendError) as error:
        channel.send(chat_id, TextReply("текст"), MemoryFiles({}))
    return error.value


def test_not_subscribed_and_not_registered_are_unreachable(channel: ViberChannel, fake: FakeViber) -> None:
    fake.unsubscribed.add("gone=")
    fake.unregistered.add("never=")
    for receiver in ("gone=", "never="):
        error = send_error(channel, receiver)
        assert error.unreachable and error.permanent and error.retry_after is None


def test_bad_token_is_permanent(fake: FakeViber) -> None:
    error = send_error(make_channel(fake, token="wrong"))
    assert error.permanent and not error.unreachable and "invalidAuthToken" in str(error)


def test_too_many_requests_asks_to_retry(fake: FakeViber) -> None:
    with FakeViber(TOKEN, per_receiver=(2, 60.0)) as limited:
        channel = make_channel(limited)  # type: ignore[arg-type]
        channel.send(USER, TextReply("1"), MemoryFiles({}))
        channel.send(USER, TextReply("2"), MemoryFiles({}))
        error = send_error(channel)
        assert error.retry_after == 1.0 and not error.permanent
        assert limited.rate_limited == 1 and len(limited.sent) == 2  # type: ignore[attr-defined]
        channel.send("someone-else=", TextReply("3"), MemoryFiles({}))  # the limit is per receiver


@pytest.mark.parametrize("fault", [Fault(status=500, body="oops"), Fault(status=503, body="busy"), Fault(drop=True),
                                   Fault(delay=1.0), Fault(status=200, body="<html>proxy</html>"),
                                   Fault(status=200, body={"status": 99, "status_message": "generalError"})],
                         ids=["500", "503", "drop", "timeout", "not-json", "general-error"])
def test_server_faults_are_transient(fake: FakeViber, fault: Fault) -> None:
    channel = make_channel(fake, timeout=0.3)
    fake.inject(Fault(**{**fault.__dict__, "method": "send_message"}))
    error = send_error(channel)
    assert not error.permanent and error.retry_after is None
    channel.send(USER, TextReply("после сбоя"), MemoryFiles({}))  # the next try goes through
    assert fake.sent[-1]["text"] == "после сбоя"


def test_http_429_asks_to_retry(channel: ViberChannel, fake: FakeViber) -> None:
    fake.inject(Fault(status=429, body="slow down", headers={"Retry-After": "7"}))
    assert send_error(channel).retry_after == 7.0
    fake.inject(Fault(status=429, body="slow down"))
    assert send_error(channel).retry_after == 1.0


def test_account_faults_are_permanent(channel: ViberChannel, fake: FakeViber) -> None:
    fake.inject(Fault(status=200, body={"status": 7, "status_message": "publicAccountBlocked"}))
    assert send_error(channel).permanent


def test_invalid_message_is_refused_before_sending(channel: ViberChannel, fake: FakeViber) -> None:
    with pytest.raises(SendError) as error:
        channel.send(USER, LocationReply(95.0, 37.0), MemoryFiles({}))  # latitude out of range
    assert error.value.permanent and fake.calls("send_message") == []


# --- account, webhook, download -----------------------------------------------------------------------

def test_check_ok_and_wrong_token(channel: ViberChannel, fake: FakeViber) -> None:
    identity = channel.check()
    assert (identity.id, identity.name, identity.username) == ("pa:5551234", "Окна CRM", "oknacrm")
    with pytest.raises(CredentialsError, match="токен"):
        make_channel(fake, token="wrong").check()


def test_check_unreachable_server(fake: FakeViber) -> None:
    channel = make_channel(fake)
    fake.stop()
    with pytest.raises(CredentialsError, match="недоступен"):
        channel.check()


def test_set_webhook_and_info(channel: ViberChannel, fake: FakeViber) -> None:
    assert channel.webhook_info().url is None
    channel.set_webhook("https://crm.example/crm-plugin/webhook/viber/3", secret="ignored")
    call = fake.calls("set_webhook")[0]
    assert call.params["url"] == "https://crm.example/crm-plugin/webhook/viber/3"
    assert "conversation_started" in call.params["event_types"] and "unsubscribed" in call.params["event_types"]
    info = channel.webhook_info()
    assert info.url == "https://crm.example/crm-plugin/webhook/viber/3"
    assert "conversation_started" in info.extra["event_types"]
    with pytest.raises(CredentialsError, match="не принял адрес вебхука"):
        channel.set_webhook("ftp://nope", secret="")


def test_download_round_trip_and_limits(channel: ViberChannel, fake: FakeViber) -> None:
    photo = bytes(range(256)) * 40
    assert channel.download(FileRef(fake.add_media("p.jpg", photo, "image/jpeg"))) == photo
    too_big = b"\0" * (20 * 1024 * 1024 + 1)
    for declare_length in (True, False):
        url = fake.add_media(f"big-{declare_length}.bin", too_big, declare_length=declare_length)
        with pytest.raises(SendError, match="too large") as error:
            channel.download(FileRef(url))
        assert error.value.permanent
    with pytest.raises(SendError) as missing:
        channel.download(FileRef(fake.url + "/media/absent.jpg"))
    assert missing.value.permanent


def test_url_and_sticker_messages_are_text(channel: ViberChannel) -> None:
    message = json.loads((FIXTURES / "message_text.json").read_text())
    message["message"] = {"type": "url", "media": "https://example.com/okna"}
    assert channel.parse(signed(json.dumps(message).encode())).inbound[0].event == Text("https://example.com/okna")
    message["message"] = {"type": "sticker", "sticker_id": 46105, "media": "https://viber.example/sticker.png"}
    assert channel.parse(signed(json.dumps(message).encode())).inbound[0].event == Text("[sticker]")
