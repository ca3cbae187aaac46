"""The Telegram channel: real telebot against the fake Bot API server on loopback."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from crm_plugin.channels.base import CredentialsError, MalformedRequest, SendError, WebhookRequest
from crm_plugin.channels.telegram import FileTooLarge, TelegramChannel
from crm_plugin.channels.telegram_render import ButtonPayloadTooLong
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
from tests.fakes.telegram import FakeTelegram

FIXTURES = Path(__file__).parent / "fixtures" / "telegram"
CHAT = "111222333"


def photo(n: int) -> OutFile:
    return OutFile(FileKindOut.PHOTO, n, f"photo{n}.jpg", "image/jpeg")


def document(n: int) -> OutFile:
    return OutFile(FileKindOut.DOCUMENT, n, f"лист{n}.pdf", "application/pdf")


def fixture(name: str) -> bytes:
    return (FIXTURES / f"{name}.json").read_bytes()


def request(body: bytes, **headers: str) -> WebhookRequest:
    return WebhookRequest(headers=headers, body=body)


@pytest.fixture
def fake() -> Iterator[FakeTelegram]:
    with FakeTelegram() as server:
        yield server


@pytest.fixture
def channel(fake: FakeTelegram) -> TelegramChannel:
    return TelegramChannel({"token": fake.token}, api_url=fake.url, webhook_secret="s3cret-token", timeout=2.0)


# --- inbound ---------------------------------------------------------------------------------------------

def test_verify_accepts_only_the_right_secret_header(channel: TelegramChannel) -> None:
    body = fixture("text")
    assert channel.verify(request(body, **{"X-Telegram-Bot-Api-Secret-Token": "s3cret-token"}))
    assert not channel.verify(request(body, **{"X-Telegram-Bot-Api-Secret-Token": "s3cret-tokeN"}))
    assert not channel.verify(request(body))
    unset = TelegramChannel({"token": "1:x"}, api_url="http://127.0.0.1:9")
    assert not unset.verify(request(body, **{"X-Telegram-Bot-Api-Secret-Token": ""}))


@pytest.mark.parametrize(("name", "expected"), [
    ("text", Text("Мои замеры на сегодня")),
    ("start_payload", Start("bind_7f3a9c")),
    ("start_plain", Start(None)),
    ("callback", ButtonPress("job:57:done", callback_id="4382bfdwdsb323b2d9")),
    ("contact_own", Contact("79161234567", own=True)),
    ("contact_foreign", Contact("+79035550011", own=False)),
    ("location", Location(55.751244, 37.618423)),
    ("document", Document(FileRef("BQACAgIAAxkBAAIB9mZ0doc", "лист_замера_57.pdf", "application/pdf", 283455),
                          caption="Лист замера")),
])
def test_parse_fixture_into_neutral_event(channel: TelegramChannel, name: str, expected: object) -> None:
    parsed = channel.parse(request(fixture(name)))
    assert [i.event for i in parsed.inbound] == [expected]
    sender = parsed.inbound[0].sender
    assert (sender.user_id, sender.chat_id, sender.name, sender.language) == (CHAT, CHAT, "Иван Петров", "ru")
    assert parsed.dedupe_key == f"tg:{json.loads(fixture(name))['update_id']}"


def test_album_updates_share_a_media_group_and_take_the_largest_size(channel: TelegramChannel) -> None:
    events = [channel.parse(request(fixture(f"album_{n}"))).inbound[0].event for n in (1, 2, 3)]
    assert all(isinstance(e, Photo) for e in events)
    assert {e.media_group_id for e in events} == {"13735621744812345"}  # type: ignore[union-attr]
    first = events[0]
    assert isinstance(first, Photo)
    assert first.file == FileRef("AgACAgIAAxkBAAIB1AAHmZ0x", content_type="image/jpeg", size=154211)
    assert first.caption == "Замер Ленина 5"


def test_group_message_is_marked_as_group(channel: TelegramChannel) -> None:
    sender = channel.parse(request(fixture("group_text"))).inbound[0].sender
    assert sender.is_group and sender.chat_id == "-1001234567890" and sender.user_id == CHAT


def test_unknown_update_kind_gives_no_events(channel: TelegramChannel) -> None:
    parsed = channel.parse(request(fixture("edited_message")))
    assert parsed.inbound == [] and parsed.dedupe_key == "tg:845001012"


@pytest.mark.parametrize("body", [
    b"not json", b"\xff\xfe", b"[]", b'{"message": {}}', b'{"update_id": "5"}', b'{"update_id": true}',
    b'{"update_id": 5, "message": "hello"}',
    b'{"update_id": 5, "message": {"message_id": 1, "date": 1, "from": {"id": 1, "is_bot": false, "first_name": "A"}}}',
    b'{"update_id": 5, "message": {"message_id": 1, "date": 1, "chat": {"id": 1, "type": "private"},'
    b' "from": {"id": 1, "is_bot": false, "first_name": "A"}, "text": 42}}',
])
def test_malformed_bodies_raise(channel: TelegramChannel, body: bytes) -> None:
    with pytest.raises(MalformedRequest):
        channel.parse(request(body))


def test_acknowledge_answers_the_callback_query(channel: TelegramChannel, fake: FakeTelegram) -> None:
    inbound = channel.parse(request(fixture("callback"))).inbound[0]
    channel.acknowledge(inbound)
    channel.acknowledge(channel.parse(request(fixture("text"))).inbound[0])  # not a button: nothing to answer
    assert [a["callback_query_id"] for a in fake.callback_answers] == ["4382bfdwdsb323b2d9"]


# --- outbound: rendering --------------------------------------------------------------------------------

def test_payload_and_url_buttons_render_as_inline_keyboard(channel: TelegramChannel, fake: FakeTelegram) -> None:
    reply = TextReply("Замер №57", ((Button.action("Выполнено", "job:57:done"),),
                                    (Button.link("Карта", "https://yandex.ru/maps/?pt=37.6,55.7"),)))
    ids = channel.send(CHAT, reply, MemoryFiles())
    [sent] = fake.sent_messages(CHAT)
    assert ids == [str(sent.message_id)]
    assert sent.text == "Замер №57"
    assert sent.reply_markup == {"inline_keyboard": [
        [{"text": "Выполнено", "callback_data": "job:57:done"}],
        [{"text": "Карта", "url": "https://yandex.ru/maps/?pt=37.6,55.7"}],
    ]}


def test_request_buttons_use_a_one_time_reply_keyboard_removed_by_the_next_text(
        channel: TelegramChannel, fake: FakeTelegram) -> None:
    ask = TextReply("Поделитесь номером", ((Button.share_contact("Отправить номер"),),
                                           (Button.share_location("Где я"),)))
    channel.send(CHAT, ask, MemoryFiles())
    channel.send(CHAT, TextReply("Спасибо", remove_keyboard=True), MemoryFiles())  # the bot says when (its chat state)
    channel.send(CHAT, TextReply("Ещё"), MemoryFiles())
    first, second, third = fake.sent_messages(CHAT)
    assert first.reply_markup == {"keyboard": [[{"text": "Отправить номер", "request_contact": True}],
                                               [{"text": "Где я", "request_location": True}]],
                                  "resize_keyboard": True, "one_time_keyboard": True}
    assert second.reply_markup == {"remove_keyboard": True}
    assert third.reply_markup is None


def test_too_long_button_payload_is_refused_before_sending(channel: TelegramChannel, fake: FakeTelegram) -> None:
    with pytest.raises(ButtonPayloadTooLong, match="1-64 bytes"):
        channel.send(CHAT, TextReply("x", ((Button.action("Да", "я" * 33),),)), MemoryFiles())
    assert fake.sent_messages() == []


def test_one_photo_is_uploaded_once_then_reused_by_file_id(channel: TelegramChannel, fake: FakeTelegram) -> None:
    files = MemoryFiles({1: b"\xff\xd8jpeg-bytes"})
    channel.send(CHAT, MediaReply((photo(1),), caption="Фото замера"), files)
    channel.send(CHAT, MediaReply((photo(1),)), files)
    first, second = fake.sent_messages(CHAT)
    assert first.method == second.method == "sendPhoto"
    assert first.files[0].uploaded and first.files[0].content == b"\xff\xd8jpeg-bytes"
    assert first.files[0].filename == "photo1.jpg" and first.caption == "Фото замера"
    assert not second.files[0].uploaded and second.files[0].file_id == first.files[0].file_id
    assert files.reads == [1]  # the bytes were read for the first send only


def test_several_photos_go_as_one_album(channel: TelegramChannel, fake: FakeTelegram) -> None:
    files = MemoryFiles({1: b"one", 2: b"two", 3: b"three"})
    ids = channel.send(CHAT, MediaReply((photo(1), photo(2), photo(3)), caption="Объект"), files)
    sent = fake.sent_messages(CHAT)
    assert len(fake.calls("sendMediaGroup")) == 1 and len(ids) == 3
    assert {m.media_group_id for m in sent} == {sent[0].media_group_id}
    assert [m.files[0].content for m in sent] == [b"one", b"two", b"three"]
    assert [m.caption for m in sent] == ["Объект", None, None]
    assert set(files.remembered) == {1, 2, 3}


def test_big_albums_are_split_without_a_lonely_photo(channel: TelegramChannel, fake: FakeTelegram) -> None:
    files = MemoryFiles({n: bytes([n]) for n in range(1, 12)})
    channel.send(CHAT, MediaReply(tuple(photo(n) for n in range(1, 12))), files)
    groups = [json.loads(c.params["media"]) for c in fake.calls("sendMediaGroup")]
    assert [len(g) for g in groups] == [6, 5]
    assert fake.calls("sendPhoto") == []


def test_documents_and_mixed_files(channel: TelegramChannel, fake: FakeTelegram) -> None:
    files = MemoryFiles({1: b"pdf1", 2: b"pdf2", 3: b"jpg"})
    channel.send(CHAT, MediaReply((document(1),)), files)
    channel.send(CHAT, MediaReply((document(1), document(2), photo(3))), files)
    methods = [m.method for m in fake.sent_messages(CHAT)]
    assert methods == ["sendDocument", "sendMediaGroup", "sendMediaGroup", "sendPhoto"]
    single, again, second, pic = fake.sent_messages(CHAT)
    assert single.files[0].filename == "лист1.pdf" and single.files[0].uploaded
    assert not again.files[0].uploaded and second.files[0].uploaded  # document 1 reused, 2 uploaded
    assert pic.files[0].kind == "photo"


def test_location_reply(channel: TelegramChannel, fake: FakeTelegram) -> None:
    channel.send(CHAT, LocationReply(55.75, 37.61, "Объект"), MemoryFiles())
    [sent] = fake.sent_messages(CHAT)
    assert sent.method == "sendLocation" and sent.location == (55.75, 37.61)


# --- outbound: failures ---------------------------------------------------------------------------------

def test_injected_429_carries_retry_after(channel: TelegramChannel, fake: FakeTelegram) -> None:
    fake.too_many_requests(retry_after=7)
    with pytest.raises(SendError) as caught:
        channel.send(CHAT, TextReply("Привет"), MemoryFiles())
    assert caught.value.retry_after == 7 and not caught.value.permanent


def test_the_fake_enforces_the_per_chat_limit(fake: FakeTelegram, channel: TelegramChannel) -> None:
    fake.set_limits(per_chat=(2, 30.0))
    channel.send(CHAT, TextReply("1"), MemoryFiles())
    channel.send(CHAT, TextReply("2"), MemoryFiles())
    channel.send("555", TextReply("other chat"), MemoryFiles())
    with pytest.raises(SendError) as caught:
        channel.send(CHAT, TextReply("3"), MemoryFiles())
    assert caught.value.retry_after is not None and caught.value.retry_after >= 1
    assert fake.rate_limited == 1 and len(fake.sent_messages(CHAT)) == 2


def test_the_fake_enforces_the_group_limit(fake: FakeTelegram, channel: TelegramChannel) -> None:
    fake.set_limits(per_chat=None, per_group=(3, 60.0))
    group = "-1001234567890"
    for n in range(3):
        channel.send(group, TextReply(str(n)), MemoryFiles())
    with pytest.raises(SendError) as caught:
        channel.send(group, TextReply("4"), MemoryFiles())
    assert caught.value.retry_after is not None and caught.value.retry_after > 1
    assert channel.group_rate(group) == pytest.approx(20 / 60) and channel.group_rate(CHAT) is None


@pytest.mark.parametrize("inject", [
    lambda f: f.server_error(500), lambda f: f.server_error(502), lambda f: f.drop_connection(),
    lambda f: f.delay(1.5),
])
def test_server_failures_are_transient(fake: FakeTelegram, inject: object) -> None:
    channel = TelegramChannel({"token": fake.token}, api_url=fake.url, timeout=0.5)
    inject(fake)  # type: ignore[operator]
    with pytest.raises(SendError) as caught:
        channel.send(CHAT, TextReply("Привет"), MemoryFiles())
    assert not caught.value.permanent and caught.value.retry_after is None
    channel.send(CHAT, TextReply("Снова"), MemoryFiles())  # the next try goes through
    assert "Снова" in [m.text for m in fake.sent_messages(CHAT)]


def test_blocked_user_is_unreachable_and_unknown_chat_is_permanent(channel: TelegramChannel,
                                                                   fake: FakeTelegram) -> None:
    fake.block(CHAT)
    fake.forget_chat("404")
    with pytest.raises(SendError, match="blocked") as blocked:
        channel.send(CHAT, TextReply("Привет"), MemoryFiles())
    assert blocked.value.unreachable and blocked.value.permanent
    with pytest.raises(SendError, match="chat not found") as missing:
        channel.send("404", TextReply("Привет"), MemoryFiles())
    assert missing.value.permanent and not missing.value.unreachable


# --- files, settings, polling -----------------------------------------------------------------------------

def test_download_round_trip_and_size_limit(channel: TelegramChannel, fake: FakeTelegram) -> None:
    file_id = fake.add_file(b"%PDF-1.7 measurement sheet")
    assert channel.download(FileRef(file_id)) == b"%PDF-1.7 measurement sheet"
    huge = fake.add_file(b"x", file_size=25 * 1024 * 1024)
    with pytest.raises(FileTooLarge):
        channel.download(FileRef(huge))  # only getFile tells the size
    calls = len(fake.calls())
    with pytest.raises(FileTooLarge):
        channel.download(FileRef("anything", size=21 * 1024 * 1024))
    assert len(fake.calls()) == calls  # refused before any call


def test_check_reports_the_bot_and_refuses_bad_tokens(channel: TelegramChannel, fake: FakeTelegram) -> None:
    me = channel.check()
    assert (me.id, me.name, me.username) == ("123456", "CRM Бот", "crm_test_bot")
    with pytest.raises(CredentialsError, match="^Telegram отклонил токен: такого бота нет или токен отозван"):
        TelegramChannel({"token": "999:wrong"}, api_url=fake.url).check()
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{unused.getsockname()[1]}"
    with pytest.raises(CredentialsError, match="Не удалось связаться с Telegram"):
        TelegramChannel({"token": fake.token}, api_url=closed, timeout=0.5).check()


def test_set_webhook_and_webhook_info(channel: TelegramChannel, fake: FakeTelegram) -> None:
    channel.set_webhook("https://crm.example.ru/crm-plugin/hook/telegram/1", "s3cret-token")
    hook = fake.webhook()
    assert hook["secret_token"] == "s3cret-token" and hook["allowed_updates"] == ["message", "callback_query",
                                                                                    "my_chat_member"]
    fake.set_webhook_state(pending_update_count=3, last_error_date=1718000000,
                           last_error_message="Wrong response from the webhook: 500 Internal Server Error")
    info = channel.webhook_info()
    assert info.url == "https://crm.example.ru/crm-plugin/hook/telegram/1"
    assert info.pending_updates == 3 and info.last_error is not None and "500" in info.last_error
    assert info.last_error_at == "2024-06-10T06:13:20+00:00"


def test_polling_needs_the_webhook_deleted_then_returns_events(channel: TelegramChannel,
                                                               fake: FakeTelegram) -> None:
    channel.set_webhook("https://crm.example.ru/hook", "s3cret-token")
    fake.push_update(json.loads(fixture("text")))
    last = fake.push_update(json.loads(fixture("callback")))
    with pytest.raises(SendError, match="Conflict"):
        channel.poll(None, timeout=1)
    channel.delete_webhook()
    parsed, offset = channel.poll(None, timeout=1)
    assert [type(p.inbound[0].event) for p in parsed] == [Text, ButtonPress]
    assert offset == last["update_id"] + 1
    fake.push_update(json.loads(fixture("location")))
    parsed, _ = channel.poll(offset, timeout=1)  # the earlier two are confirmed and gone
    assert [type(p.inbound[0].event) for p in parsed] == [Location]


def test_channels_on_two_servers_in_parallel_reach_their_own(fake: FakeTelegram) -> None:
    with FakeTelegram(token="777:other") as other:
        channels = [TelegramChannel({"token": fake.token}, api_url=fake.url),
                    TelegramChannel({"token": "777:other"}, api_url=other.url)]
        fake.set_limits(per_chat=None)
        other.set_limits(per_chat=None)

        def burst(index: int) -> None:
            for n in range(10):
                channels[index].send(CHAT, TextReply(f"{index}-{n}"), MemoryFiles())

        threads = [threading.Thread(target=burst, args=(i,)) for i in (0, 1)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10)
        assert {(m.text or "")[:1] for m in fake.sent_messages()} == {"0"} and len(fake.sent_messages()) == 10
        assert {(m.text or "")[:1] for m in other.sent_messages()} == {"1"} and len(other.sent_messages()) == 10


def test_a_stale_cached_file_id_is_replaced_by_a_fresh_upload(channel: TelegramChannel, fake: FakeTelegram) -> None:
    files = MemoryFiles({1: b"jpeg"})
    files.remember(1, "AgAC-from-another-bot")
    channel.send(CHAT, MediaReply((photo(1),)), files)
    [sent] = fake.sent_messages(CHAT)
    assert sent.files[0].uploaded and sent.files[0].content == b"jpeg"
    assert files.remembered[1] == sent.files[0].file_id != "AgAC-from-another-bot"
