"""The Slack adapter with the real slack_sdk against the fake Slack Web API on loopback."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import pytest
from werkzeug.datastructures import Headers

from crm_plugin.channels.base import CredentialsError, MalformedRequest, SendError, WebhookRequest
from crm_plugin.channels.slack import SlackChannel
from crm_plugin.core.chat import (
    Button,
    ButtonPress,
    FileKindOut,
    FileRef,
    LocationReply,
    MediaReply,
    OutFile,
    Photo,
    Text,
    TextReply,
)
from tests.fakes.memory_files import MemoryFiles
from tests.fakes.server import Fault
from tests.fakes.slack import FakeSlack

FIXTURES = Path(__file__).parent / "fixtures" / "slack"
TOKEN = "xoxb-1111-2222-test"
SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
DM = "D0DM00001"


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    with FakeSlack(TOKEN) as server:
        server.add_channel("C0LEADS01")  # type: ignore[attr-defined]
        yield server  # type: ignore[misc]


def make_channel(fake: FakeSlack, token: str = TOKEN, timeout: float = 2.0) -> SlackChannel:
    return SlackChannel({"token": token, "signing_secret": SECRET}, api_url=fake.url + "/api/", timeout=timeout)


@pytest.fixture
def channel(fake: FakeSlack) -> SlackChannel:
    return make_channel(fake)


def signed(body: bytes, *, secret: str = SECRET, timestamp: int | None = None) -> WebhookRequest:
    ts = str(int(time.time()) if timestamp is None else timestamp)
    signature = "v0=" + hmac.new(secret.encode(), f"v0:{ts}:".encode() + body, hashlib.sha256).hexdigest()
    return WebhookRequest(Headers({"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": signature}), body)


def fixture(name: str) -> WebhookRequest:
    return signed((FIXTURES / f"{name}.json").read_bytes())


def interaction(payload: dict[str, object]) -> WebhookRequest:
    return signed(urlencode({"payload": json.dumps(payload)}).encode())


# --- verify -------------------------------------------------------------------------------------------

def test_signature_valid_forged_missing_stale(channel: SlackChannel) -> None:
    body = (FIXTURES / "message_channel.json").read_bytes()
    assert channel.verify(signed(body))
    assert not channel.verify(signed(body, secret="someone-elses-secret"))
    assert not channel.verify(WebhookRequest(Headers(), body))
    good = signed(body)
    assert not channel.verify(WebhookRequest(Headers({"X-Slack-Signature": good.headers["X-Slack-Signature"]}), body))
    assert not channel.verify(WebhookRequest(good.headers, body.replace(b"6", b"9")))
    now = int(time.time())
    assert not channel.verify(signed(body, timestamp=now - 301))  # a replay of an old request
    assert not channel.verify(signed(body, timestamp=now + 301))
    assert channel.verify(signed(body, timestamp=now - 200))
    odd = WebhookRequest(Headers({"X-Slack-Request-Timestamp": "yesterday", "X-Slack-Signature": "v0=00"}), body)
    assert not channel.verify(odd)


def test_unreadable_body_is_malformed(channel: SlackChannel) -> None:
    with pytest.raises(MalformedRequest):
        channel.verify(signed(b"\xff\xfe\x00"))


def test_no_signing_secret_verifies_nothing(fake: FakeSlack) -> None:
    channel = SlackChannel({"token": TOKEN}, api_url=fake.url + "/api/")
    assert not channel.verify(fixture("message_channel"))


# --- parse --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("body", [b"not json", b"[]", b'{"no": "type"}', b'{"type": "url_verification"}',
                                  b'{"type": "event_callback", "event": {"type": "message"}}',
                                  b'{"type": "event_callback", "event_id": "Ev1", "event": "text"}',
                                  b"payload=%7Bnot+json", b"payload=",
                                  urlencode({"payload": json.dumps({"type": "block_actions"})}).encode()])
def test_malformed_bodies_raise(channel: SlackChannel, body: bytes) -> None:
    with pytest.raises(MalformedRequest):
        channel.parse(signed(body))


def test_url_verification_answers_challenge(channel: SlackChannel) -> None:
    parsed = channel.parse(fixture("url_verification"))
    assert parsed.response == {"challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"}
    assert parsed.inbound == [] and parsed.leads == []


def test_channel_message_becomes_lead(channel: SlackChannel) -> None:
    parsed = channel.parse(fixture("message_channel"))
    assert parsed.dedupe_key == "slack:Ev0LEAD00001" and parsed.inbound == []
    assert parsed.leads == [{"event": "message", "source": "slack:C0LEADS01", "channel": "C0LEADS01",
                             "text": "Нужны пластиковые окна в частный дом, 6 шт. Позвоните: +7 916 123-45-67",
                             "user_id": "U061F7AUR", "external_id": "slack:C0LEADS01:1718000000.000200",
                             "chat_id": "C0LEADS01", "thread_ts": "1718000000.000200",
                             "link": "https://slack.com/archives/C0LEADS01/p1718000000000200",
                             "reply_chat_id": "C0LEADS01:1718000000.000200"}]  # an auto-reply: in the thread


def test_direct_message_is_text(channel: SlackChannel) -> None:
    parsed = channel.parse(fixture("message_im"))
    (inbound,) = parsed.inbound
    assert parsed.leads == [] and parsed.dedupe_key == "slack:Ev0DM000001"
    assert inbound.event == Text("статистика за неделю")
    assert (inbound.sender.user_id, inbound.sender.chat_id, inbound.sender.is_group) == ("U061F7AUR", DM, False)


def test_direct_message_with_file_is_photo(channel: SlackChannel) -> None:
    (inbound,) = channel.parse(fixture("message_im_file")).inbound
    assert isinstance(inbound.event, Photo) and inbound.event.caption == "план квартиры"
    assert inbound.event.file.file_id.endswith("/download/plan.png")
    assert inbound.event.file.size == 48213 and inbound.event.file.content_type == "image/png"


def test_app_mention_is_text_without_the_mention(channel: SlackChannel) -> None:
    parsed = channel.parse(fixture("app_mention"))
    (inbound,) = parsed.inbound
    assert inbound.event == Text("выручка за месяц") and parsed.leads == []
    assert inbound.sender.chat_id == "C0LEADS01" and inbound.sender.is_group


@pytest.mark.parametrize("name", ["bot_message", "message_changed"])
def test_bot_messages_and_edits_are_ignored(channel: SlackChannel, name: str) -> None:
    parsed = channel.parse(fixture(name))
    assert parsed.inbound == [] and parsed.leads == [] and parsed.dedupe_key is not None


def test_block_actions_is_button_press(channel: SlackChannel) -> None:
    payload = json.loads((FIXTURES / "block_actions.json").read_text())
    parsed = channel.parse(interaction(payload))
    (inbound,) = parsed.inbound
    assert inbound.event == ButtonPress("job:7:accept")
    assert (inbound.sender.user_id, inbound.sender.chat_id) == ("U061F7AUR", DM)
    assert parsed.dedupe_key == "slack:action:1718000105.123456"


# --- send ---------------------------------------------------------------------------------------------

def test_text_with_buttons_renders_blocks(channel: SlackChannel, fake: FakeSlack) -> None:
    reply = TextReply("Заявка <№7> & замер", (
        (Button.action("Принять", "job:7:accept"), Button.action("Отказаться", "job:7:decline")),
        (Button.link("Карта", "https://maps.example/7"), Button.share_contact("Мой номер"),
         Button.share_location("Где я")),
    ))
    ids = channel.send(DM, reply, MemoryFiles({}))
    (message,) = fake.messages
    assert ids == [message["ts"]] and message["channel"] == DM
    assert fake.calls("chat.postMessage")[0].headers["Authorization"] == f"Bearer {TOKEN}"
    section, first_row, second_row, hints = message["blocks"]
    assert section["text"]["text"] == "Заявка &lt;№7&gt; &amp; замер" == message["text"]
    assert [e["value"] for e in first_row["elements"]] == ["job:7:accept", "job:7:decline"]
    assert second_row["elements"] == [{"type": "button", "text": {"type": "plain_text", "text": "Карта", "emoji": True},
                                       "action_id": "crm_1_0", "url": "https://maps.example/7"}]
    assert [h["text"] for h in hints["elements"]][0].startswith("📞 Мой номер")
    assert "Где я" in hints["elements"][1]["text"]
    # The rendered button, clicked, comes back as the same payload.
    payload = json.loads((FIXTURES / "block_actions.json").read_text())
    payload["actions"] = [{**first_row["elements"][1], "action_ts": "1718000200.000001"}]
    assert channel.parse(interaction(payload)).inbound[0].event == ButtonPress("job:7:decline")


def test_long_text_is_split_into_sections(channel: SlackChannel, fake: FakeSlack) -> None:
    channel.send(DM, TextReply("я" * 7000), MemoryFiles({}))
    assert [len(b["text"]["text"]) for b in fake.messages[0]["blocks"]] == [3000, 3000, 1000]


def test_media_reply_uploads_files(channel: SlackChannel, fake: FakeSlack) -> None:
    reply = MediaReply((OutFile(FileKindOut.PHOTO, 1, "window.jpg", "image/jpeg"),
                        OutFile(FileKindOut.DOCUMENT, 2, "Договор.pdf", "application/pdf")), caption="Документы")
    ids = channel.send("C0LEADS01", reply, MemoryFiles({1: b"\xff\xd8jpeg", 2: b"%PDF-1.4"}))
    (share,) = fake.shares
    assert share["channel"] == "C0LEADS01" and share["initial_comment"] == "Документы"
    assert [f["name"] for f in share["files"]] == ["window.jpg", "Договор.pdf"]
    assert ids == [f["id"] for f in share["files"]]
    assert [fake.uploads[i]["data"] for i in ids] == [b"\xff\xd8jpeg", b"%PDF-1.4"]
    assert len(fake.calls("files.getUploadURLExternal")) == 2 and len(fake.calls("upload")) == 2


def test_location_reply_is_map_link(channel: SlackChannel, fake: FakeSlack) -> None:
    channel.send(DM, LocationReply(55.7558, 37.6173, "Объект <Ленина, 5>"), MemoryFiles({}))
    text = fake.messages[0]["text"]
    assert "mlat=55.755800&mlon=37.617300" in text and text.endswith("|Объект &lt;Ленина, 5&gt;>")


# --- errors -------------------------------------------------------------------------------------------

def send_error(channel: SlackChannel, chat_id: str = DM) -> SendError:
    with pytest.raises(SendError) as error:
        channel.send(chat_id, TextReply("текст"), MemoryFiles({}))
    return error.value


def test_one_message_a_second_per_channel() -> None:
    with FakeSlack(TOKEN, per_channel=(1, 30.0)) as fake:
        channel = make_channel(fake)  # type: ignore[arg-type]
        channel.send(DM, TextReply("1"), MemoryFiles({}))
        error = send_error(channel)
        assert error.retry_after is not None and 1 <= error.retry_after <= 30 and not error.permanent
        assert fake.rate_limited == 1 and len(fake.messages) == 1  # type: ignore[attr-defined]
        channel.send("D0OTHER01", TextReply("2"), MemoryFiles({}))  # another channel is not limited


def test_target_errors_are_permanent(channel: SlackChannel, fake: FakeSlack) -> None:
    fake.add_channel("C0NOTIN01", member=False)
    fake.add_channel("C0OLD0001", archived=True)
    for chat_id, error_code in (("C0NOSUCH1", "channel_not_found"), ("C0NOTIN01", "not_in_channel"),
                                ("C0OLD0001", "is_archived")):
        error = send_error(channel, chat_id)
        assert error.permanent and not error.unreachable and error_code in str(error)
    assert fake.messages == []


def test_inactive_accounts_are_unreachable(channel: SlackChannel, fake: FakeSlack) -> None:
    fake.inactive.add(DM)
    assert send_error(channel).unreachable
    fake.inject(Fault(status=200, body={"ok": False, "error": "user_disabled"}, method="chat.postMessage"))
    assert send_error(channel, "D0OTHER01").unreachable


def test_bad_token_is_permanent(fake: FakeSlack) -> None:
    error = send_error(make_channel(fake, token="xoxb-wrong"))
    assert error.permanent and not error.unreachable and "invalid_auth" in str(error)


@pytest.mark.parametrize("fault", [Fault(status=500, body="oops"), Fault(status=503, body={"ok": False}),
                                   Fault(drop=True), Fault(delay=1.0),
                                   Fault(status=200, body={"ok": False, "error": "internal_error"})],
                         ids=["500", "503", "drop", "timeout", "internal_error"])
def test_server_faults_are_transient(fake: FakeSlack, fault: Fault) -> None:
    channel = make_channel(fake, timeout=0.3)
    fake.inject(Fault(**{**fault.__dict__, "method": "chat.postMessage"}))
    error = send_error(channel)
    assert not error.permanent and error.retry_after is None
    channel.send("D0OTHER01", TextReply("после сбоя"), MemoryFiles({}))
    assert fake.messages[-1]["text"] == "после сбоя"


def test_failed_upload_step_is_transient(channel: SlackChannel, fake: FakeSlack) -> None:
    fake.inject(Fault(status=500, body="upload failed", method="upload"))
    reply = MediaReply((OutFile(FileKindOut.DOCUMENT, 1, "a.pdf", "application/pdf"),))
    with pytest.raises(SendError) as error:
        channel.send(DM, reply, MemoryFiles({1: b"pdf"}))
    assert not error.value.permanent and fake.shares == []


# --- account, profile, download, webhook --------------------------------------------------------------

def test_check_ok_wrong_token_and_down(channel: SlackChannel, fake: FakeSlack) -> None:
    identity = channel.check()
    assert (identity.id, identity.name, identity.username) == ("U0BOT001", "crm_bot (Окна Плюс)", "crm_bot")
    with pytest.raises(CredentialsError, match="^Slack не узнал токен"):
        make_channel(fake, token="xoxb-wrong").check()
    fake.stop()
    with pytest.raises(CredentialsError, match="недоступен"):
        channel.check()


def test_user_profile_for_lead_author(channel: SlackChannel, fake: FakeSlack) -> None:
    fake.add_user("U061F7AUR", name="ivan.petrov", real_name="Иван Петров", display_name="Ваня",
                  email="ivan@example.com", phone="")
    assert channel.user_profile("U061F7AUR") == {"id": "U061F7AUR", "name": "Ваня", "real_name": "Иван Петров",
                                                 "email": "ivan@example.com", "phone": None}
    assert fake.calls("users.info")[0].params["user"] == "U061F7AUR"
    with pytest.raises(SendError):
        channel.user_profile("U0NOBODY1")


def test_download_round_trip_needs_the_token(channel: SlackChannel, fake: FakeSlack) -> None:
    data = bytes(range(256)) * 100
    url = fake.add_file("plan.png", data)
    assert channel.download(FileRef(url, "plan.png")) == data
    with pytest.raises(SendError) as refused:
        make_channel(fake, token="xoxb-wrong").download(FileRef(url))
    assert refused.value.permanent


def test_webhook_is_set_in_app_settings(channel: SlackChannel, fake: FakeSlack) -> None:
    channel.set_webhook("https://crm.example/crm-plugin/webhook/slack/2", secret="x")
    info = channel.webhook_info()
    assert info.url is None and "Request URL" in info.extra["note"]
    assert fake.calls() == []  # nothing to call: Slack has no API for it
