"""The VK channel: real vk_api against the fake VK API server on loopback."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from crm_plugin.channels.base import CredentialsError, MalformedRequest, SendError, WebhookRequest
from crm_plugin.channels.vk import VkChannel
from crm_plugin.channels.vk_render import REQUEST_CONTACT_PAYLOAD, ButtonPayloadTooLong
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
from tests.fakes.vk import FakeVk

FIXTURES = Path(__file__).parent / "fixtures" / "vk"
PEER = "501234567"


def fixture(name: str) -> bytes:
    return (FIXTURES / f"{name}.json").read_bytes()


def request(body: bytes) -> WebhookRequest:
    return WebhookRequest(headers={}, body=body)


def photo(n: int) -> OutFile:
    return OutFile(FileKindOut.PHOTO, n, f"photo{n}.jpg", "image/jpeg")


@pytest.fixture
def fake() -> Iterator[FakeVk]:
    with FakeVk() as server:
        yield server


@pytest.fixture
def channel(fake: FakeVk) -> VkChannel:
    return VkChannel(fake.credentials(), api_url=fake.api_url, webhook_secret="plugin-secret", timeout=2.0)


# --- inbound ---------------------------------------------------------------------------------------------

def test_verify_compares_the_secret_field(channel: VkChannel) -> None:
    body = json.loads(fixture("message_new_text"))
    assert channel.verify(request(json.dumps(body).encode()))
    assert channel.verify(request(json.dumps({**body, "secret": "plugin-secret"}).encode()))
    assert not channel.verify(request(json.dumps({**body, "secret": "vk-secreT"}).encode()))
    assert not channel.verify(request(json.dumps({k: v for k, v in body.items() if k != "secret"}).encode()))
    with pytest.raises(MalformedRequest):
        channel.verify(request(b"{not json"))


def test_confirmation_is_answered_with_the_code(channel: VkChannel, fake: FakeVk) -> None:
    parsed = channel.parse(request(fixture("confirmation")))
    assert parsed.response == fake.confirmation and parsed.inbound == [] and parsed.dedupe_key is None


@pytest.mark.parametrize(("name", "expected"), [
    ("message_new_text", [Text("Мои замеры на сегодня")]),
    ("message_new_start", [Start("bind_7f3a9c")]),
    ("message_new_button", [ButtonPress("job:57:done")]),
    ("message_new_geo", [Location(55.751244, 37.618423)]),
    ("message_event", [ButtonPress("job:57:done", callback_id="7a1b2c3d4e5f")]),
    ("message_new_doc", [Document(FileRef(
        "https://vk.com/doc501234567_678901234?hash=9f8e7d&dl=GE3TEMRT&api=1&no_preview=1",
        "лист_замера_57.pdf", "application/pdf", 283455))]),
    ("wall_post_new", []),
])
def test_parse_fixture_into_neutral_events(channel: VkChannel, name: str, expected: list[object]) -> None:
    data = json.loads(fixture(name))
    parsed = channel.parse(request(fixture(name)))
    assert [i.event for i in parsed.inbound] == expected
    assert parsed.response == "ok" and parsed.dedupe_key == f"vk:{data['event_id']}"
    for inbound in parsed.inbound:
        assert (inbound.sender.user_id, inbound.sender.chat_id) == (PEER, PEER)
        assert not isinstance(inbound.event, Contact)


def test_photos_of_one_message_are_one_album(channel: VkChannel) -> None:
    events = [i.event for i in channel.parse(request(fixture("message_new_photos"))).inbound]
    assert len(events) == 2 and all(isinstance(e, Photo) for e in events)
    first, second = events
    assert isinstance(first, Photo) and isinstance(second, Photo)
    assert first.media_group_id == second.media_group_id == "vk:304"
    assert first.file.file_id == "https://sun9-1.userapi.com/impg/457239017_z.jpg"  # the largest size
    assert (first.caption, second.caption) == ("Замер Ленина 5", None)


@pytest.mark.parametrize("body", [
    b"nope", b"[1]", b'{"object": {}}', b'{"type": 5}',
    b'{"type": "message_new", "event_id": "e"}',
    b'{"type": "message_new", "event_id": "e", "object": {"message": {"from_id": "1", "peer_id": 1}}}',
    b'{"type": "message_new", "event_id": "e", "object": {"message": {"from_id": 1, "peer_id": 1, "payload": "{x"}}}',
    b'{"type": "message_event", "event_id": "e", "object": {"user_id": 1}}',
])
def test_malformed_bodies_raise(channel: VkChannel, body: bytes) -> None:
    with pytest.raises(MalformedRequest):
        channel.parse(request(body))


def test_acknowledge_answers_the_message_event(channel: VkChannel, fake: FakeVk) -> None:
    channel.acknowledge(channel.parse(request(fixture("message_event"))).inbound[0])
    channel.acknowledge(channel.parse(request(fixture("message_new_button"))).inbound[0])  # no callback id
    assert [(a["event_id"], a["user_id"]) for a in fake.event_answers] == [("7a1b2c3d4e5f", PEER)]


# --- outbound ------------------------------------------------------------------------------------------

def test_payload_and_url_buttons_render_as_inline_keyboard(channel: VkChannel, fake: FakeVk) -> None:
    reply = TextReply("Замер №57", ((Button.action("Выполнено", "job:57:done"), Button.link("Карта", "https://ya.ru")),))
    ids = channel.send(PEER, reply, MemoryFiles())
    [sent] = fake.sent_messages(PEER)
    assert ids == [str(sent.message_id)] and sent.text == "Замер №57"
    assert sent.keyboard is not None and sent.keyboard["inline"] is True and sent.keyboard["one_time"] is False
    done, link = sent.keyboard["buttons"][0]
    assert done["action"] == {"type": "callback", "label": "Выполнено", "payload": '{"cmd":"job:57:done"}'}
    assert link["action"] == {"type": "open_link", "label": "Карта", "link": "https://ya.ru", "payload": None}


def test_request_buttons_use_a_one_time_keyboard_removed_by_the_next_text(channel: VkChannel, fake: FakeVk) -> None:
    ask = TextReply("Как с вами связаться?", ((Button.share_contact("Мой телефон"), Button.share_location("Где я"),
                                               Button.action("Отмена", "cancel")),))
    channel.send(PEER, ask, MemoryFiles())
    channel.send(PEER, TextReply("Спасибо", remove_keyboard=True), MemoryFiles())  # the bot says when (its chat state)
    channel.send(PEER, TextReply("Ещё"), MemoryFiles())
    first, second, third = fake.sent_messages(PEER)
    assert first.keyboard is not None and first.keyboard["one_time"] and not first.keyboard["inline"]
    rows = [[b["action"] for b in row] for row in first.keyboard["buttons"]]
    assert rows == [
        [{"type": "text", "label": "Мой телефон", "payload": f'{{"cmd":"{REQUEST_CONTACT_PAYLOAD}"}}'}],
        [{"type": "location", "payload": None}],  # a location button takes a line of its own
        [{"type": "text", "label": "Отмена", "payload": '{"cmd":"cancel"}'}],
    ]
    assert second.keyboard == {"one_time": False, "inline": False, "buttons": []}
    assert third.keyboard is None


def test_too_long_payload_is_refused_before_sending(channel: VkChannel, fake: FakeVk) -> None:
    with pytest.raises(ButtonPayloadTooLong):
        channel.send(PEER, TextReply("x", ((Button.action("Да", "x" * 300),),)), MemoryFiles())
    assert fake.sent_messages() == []


def test_album_is_one_message_and_uploads_are_reused(channel: VkChannel, fake: FakeVk) -> None:
    files = MemoryFiles({1: b"one", 2: b"two", 3: b"three"})
    channel.send(PEER, MediaReply((photo(1), photo(2), photo(3)), caption="Объект"), files)
    [sent] = fake.sent_messages(PEER)
    assert sent.text == "Объект" and len(sent.attachments) == 3
    assert [fake.uploads[a].content for a in sent.attachments] == [b"one", b"two", b"three"]
    assert [files.remembered[n] for n in (1, 2, 3)] == sent.attachments
    uploads = len(fake.calls("photos.getMessagesUploadServer"))
    channel.send(PEER, MediaReply((photo(2),)), files)
    assert len(fake.calls("photos.getMessagesUploadServer")) == uploads and files.reads == [1, 2, 3]
    assert fake.sent_messages(PEER)[-1].attachments == [files.remembered[2]]


def test_document_upload(channel: VkChannel, fake: FakeVk) -> None:
    files = MemoryFiles({7: b"%PDF"})
    channel.send(PEER, MediaReply((OutFile(FileKindOut.DOCUMENT, 7, "лист.pdf", "application/pdf"),)), files)
    [sent] = fake.sent_messages(PEER)
    [attachment] = sent.attachments
    assert attachment.startswith(f"doc-{fake.GROUP_ID}_") and fake.uploads[attachment].filename == "лист.pdf"
    assert fake.uploads[attachment].content == b"%PDF"


def test_location_and_idempotent_random_id(channel: VkChannel, fake: FakeVk) -> None:
    channel.send(PEER, LocationReply(55.75, 37.61, "Объект"), MemoryFiles(), message_key=41)
    channel.send(PEER, LocationReply(55.75, 37.61, "Объект"), MemoryFiles(), message_key=41)  # a retry
    channel.send(PEER, TextReply("Другое"), MemoryFiles(), message_key=42)
    sent = fake.sent_messages(PEER)
    assert [m.location for m in sent] == [(55.75, 37.61), None] and len(fake.calls("messages.send")) == 3


@pytest.mark.parametrize(("inject", "kind"), [
    (lambda f: f.vk_error(6), "retry"), (lambda f: f.vk_error(10), "transient"),
    (lambda f: f.vk_error(5), "permanent"), (lambda f: f.server_error(500), "transient"),
    (lambda f: f.drop_connection(), "transient"), (lambda f: f.delay(1.5), "transient"),
])
def test_errors_map_to_send_errors(fake: FakeVk, inject: object, kind: str) -> None:
    channel = VkChannel(fake.credentials(), api_url=fake.api_url, timeout=0.5)
    inject(fake)  # type: ignore[operator]
    with pytest.raises(SendError) as caught:
        channel.send(PEER, TextReply("Привет"), MemoryFiles())
    error = caught.value
    assert (error.retry_after, error.permanent) == {"retry": (1.0, False), "transient": (None, False),
                                                    "permanent": (None, True)}[kind]
    assert len(fake.calls("messages.send")) == 1  # vk_api did not retry on its own


def test_the_fake_enforces_calls_per_second_and_blocked_users(fake: FakeVk, channel: VkChannel) -> None:
    fake.set_limit((2, 60.0))
    channel.send(PEER, TextReply("1"), MemoryFiles())
    channel.send(PEER, TextReply("2"), MemoryFiles())
    with pytest.raises(SendError) as limited:
        channel.send(PEER, TextReply("3"), MemoryFiles())
    assert limited.value.retry_after == 1.0 and fake.rate_limited == 1
    fake.set_limit(None)
    fake.block(PEER, 901)
    with pytest.raises(SendError) as blocked:
        channel.send(PEER, TextReply("4"), MemoryFiles())
    assert blocked.value.unreachable and blocked.value.permanent


def test_download_round_trip(channel: VkChannel, fake: FakeVk) -> None:
    url = fake.add_file(b"\xff\xd8photo", "photo1.jpg")
    assert channel.download(FileRef(url)) == b"\xff\xd8photo"


def test_check_and_wrong_token(channel: VkChannel, fake: FakeVk) -> None:
    me = channel.check()
    assert (me.id, me.name) == (str(fake.GROUP_ID), "Окна Комфорт")
    wrong = VkChannel(fake.credentials(token="vk1.a.wrong"), api_url=fake.api_url)
    with pytest.raises(CredentialsError, match="^VK отклонил ключ доступа: User authorization failed"):
        wrong.check()


def test_set_webhook_registers_one_server_and_reports_it(channel: VkChannel, fake: FakeVk) -> None:
    channel.set_webhook("https://crm.example.ru/hook/vk/1", "plugin-secret")
    channel.set_webhook("https://crm.example.ru/hook/vk/1b", "plugin-secret2")  # moved: edited, not added
    [server] = fake.callback_servers
    assert server["url"] == "https://crm.example.ru/hook/vk/1b" and server["secret_key"] == "plugin-secret2"
    settings = fake.callback_settings[server["id"]]
    assert settings["message_new"] == "1" and settings["message_event"] == "1" and settings["api_version"] == "5.199"
    assert channel.webhook_info().url == "https://crm.example.ru/hook/vk/1b"
    fake.set_callback_status("failed")
    info = channel.webhook_info()
    assert info.extra["status"] == "failed" and info.last_error == "status: failed"
    assert channel.confirmation_code() == fake.confirmation


def test_long_poll_returns_events_and_renews_an_expired_key(channel: VkChannel, fake: FakeVk) -> None:
    parsed, state = channel.poll(None, timeout=0)
    assert parsed == []
    fake.push_event(json.loads(fixture("message_new_text")))
    fake.push_event(json.loads(fixture("message_event")))
    parsed, state = channel.poll(state, timeout=1)
    assert [type(p.inbound[0].event) for p in parsed] == [Text, ButtonPress]
    fake.expire_long_poll_key()
    parsed, state = channel.poll(state, timeout=1)
    assert parsed == []
    fake.push_event(json.loads(fixture("message_new_geo")))
    parsed, state = channel.poll(state, timeout=1)
    assert [type(p.inbound[0].event) for p in parsed] == [Location]
