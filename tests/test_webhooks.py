"""The webhook route for each platform: a valid request stored, a forged, missing or stale signature 403
with nothing stored, a malformed body 400, an update delivered three times stored once, a size limit."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import event, func, select

from crm_plugin import PluginState
from crm_plugin.core.models import Bot, InboundKey, Message, MessageStatus, Platform
from tests.store_helpers import configure

FIXTURES = Path(__file__).parent / "fixtures"
TELEGRAM_SECRET = "tg-webhook-secret"
VK_SECRET = "vk-secret"
VIBER_TOKEN = "viber-token"
SLACK_SIGNING = "slack-signing-secret"


def fixture_bytes(platform: str, name: str) -> bytes:
    return (FIXTURES / platform / name).read_bytes()


@dataclass
class PlatformCase:
    platform: Platform
    credentials: dict[str, str]
    fixture: str
    sign: Callable[[bytes], dict[str, str]]  # valid headers for a body
    forge: Callable[[bytes], dict[str, str]]  # headers with a wrong signature
    malformed: bytes  # a body the platform never sends, signed validly where the signature covers the body
    expected_kind: str
    webhook_secret: str | None = None

    def body(self) -> bytes:
        return fixture_bytes(self.platform.value, self.fixture)


def _viber_signature(body: bytes, token: str = VIBER_TOKEN) -> dict[str, str]:
    return {"X-Viber-Content-Signature": hmac.new(token.encode(), body, hashlib.sha256).hexdigest()}


def _slack_signature(body: bytes, secret: str = SLACK_SIGNING, at: int | None = None) -> dict[str, str]:
    timestamp = str(at if at is not None else int(time.time()))
    digest = hmac.new(secret.encode(), f"v0:{timestamp}:".encode() + body, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": timestamp, "X-Slack-Signature": f"v0={digest}",
            "Content-Type": "application/json"}


def _vk_malformed() -> bytes:
    return json.dumps({"type": "message_new", "secret": VK_SECRET, "object": "not-an-object",
                       "group_id": 229000111, "event_id": "x"}).encode()


CASES = {
    "telegram": PlatformCase(
        Platform.TELEGRAM, {"token": "123456:TEST-token"}, "text.json",
        sign=lambda body: {"X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET},
        forge=lambda body: {"X-Telegram-Bot-Api-Secret-Token": "guess"},
        malformed=b'{"update_id": "seven", "message": []}', expected_kind="text", webhook_secret=TELEGRAM_SECRET,
    ),
    "vk": PlatformCase(
        Platform.VK, {"token": "vk-token", "group_id": "229000111", "secret": VK_SECRET, "confirmation": "abc123"},
        "message_new_text.json", sign=lambda body: {}, forge=lambda body: {}, malformed=_vk_malformed(),
        expected_kind="text",
    ),
    "viber": PlatformCase(
        Platform.VIBER, {"token": VIBER_TOKEN, "name": "Окна"}, "message_text.json",
        sign=_viber_signature, forge=lambda body: _viber_signature(body, "wrong-token"),
        malformed=b'{"event": "message", "message_token": 5}', expected_kind="text",
    ),
    "slack": PlatformCase(
        Platform.SLACK, {"token": "xoxb-test-token", "signing_secret": SLACK_SIGNING}, "message_im.json",
        sign=_slack_signature, forge=lambda body: _slack_signature(body, "wrong-secret"),
        malformed=b'{"type": "event_callback", "event": "nope"}', expected_kind="text",
    ),
}


def signed(case: PlatformCase, body: bytes | Any) -> tuple[bytes, dict[str, str]]:
    """``body`` (bytes, or a value to send as JSON) with a valid signature for the case's bot: VK's secret goes
    into the body when it is an object; the other platforms sign the bytes or carry a header."""
    if not isinstance(body, bytes):
        if case.platform == Platform.VK and isinstance(body, dict):
            body = {**body, "secret": VK_SECRET}
        body = json.dumps(body).encode()  # ASCII: a lone surrogate goes as the escape \ud800, as JSON allows
    return body, case.sign(body)


@pytest.fixture(params=list(CASES))
def case(request: pytest.FixtureRequest) -> PlatformCase:
    return CASES[request.param]


def add_bot(state: PluginState, case: PlatformCase) -> int:
    with state.db.session() as session:
        bot = Bot(platform=case.platform, name="test", credentials_encrypted=state.secrets.seal(case.credentials),
                  webhook_secret=case.webhook_secret)
        session.add(bot)
        session.flush()
        return bot.id


@pytest.fixture
def bot_id(state: PluginState, case: PlatformCase) -> int:
    return add_bot(state, case)


def stored(state: PluginState) -> tuple[int, int]:
    with state.db.session() as session:
        return (session.scalar(select(func.count()).select_from(Message)) or 0,
                session.scalar(select(func.count()).select_from(InboundKey)) or 0)


def post(client: FlaskClient, bot_id: int, body: bytes, headers: dict[str, str]) -> Any:
    headers = {"Content-Type": "application/json", **headers}
    return client.post(f"/crm-plugin/webhook/{bot_id}", data=body, headers=headers)


def test_valid_request_is_stored_for_the_bot(client: FlaskClient, state: PluginState, case: PlatformCase,
                                             bot_id: int) -> None:
    body = case.body()
    response = post(client, bot_id, body, case.sign(body))
    assert response.status_code == 200
    if case.platform == Platform.VK:
        assert response.get_data(as_text=True) == "ok"  # VK retries anything but the body "ok"
    with state.db.session() as session:
        rows = session.scalars(select(Message)).all()
    assert [(row.kind, row.status) for row in rows] == [(case.expected_kind, MessageStatus.RECEIVED)]


def test_forged_and_missing_signatures_get_403_and_store_nothing(client: FlaskClient, state: PluginState,
                                                                 case: PlatformCase, bot_id: int) -> None:
    body = case.body()
    if case.platform == Platform.VK:  # VK signs with a field inside the body
        forged = json.dumps({**json.loads(body), "secret": "guess"}).encode()
        missing = json.dumps({k: v for k, v in json.loads(body).items() if k != "secret"}).encode()
        attempts: list[tuple[bytes, dict[str, str]]] = [(forged, {}), (missing, {})]
    else:
        attempts = [(body, case.forge(body)), (body, {})]
    for attempt_body, headers in attempts:
        assert post(client, bot_id, attempt_body, headers).status_code == 403
    assert stored(state) == (0, 0)


def test_stale_slack_timestamp_is_refused(client: FlaskClient, state: PluginState) -> None:
    case = CASES["slack"]
    bot_id = add_bot(state, case)
    body = case.body()
    stale = _slack_signature(body, at=int(time.time()) - 301)  # a replay from more than 5 minutes ago
    assert post(client, bot_id, body, stale).status_code == 403
    assert stored(state) == (0, 0)


def test_malformed_body_gets_400_never_500(client: FlaskClient, state: PluginState, case: PlatformCase,
                                           bot_id: int) -> None:
    for body in (case.malformed, b"{not json", b"[]"):
        headers = case.sign(body)
        assert post(client, bot_id, body, headers).status_code == 400, body
    assert stored(state) == (0, 0)


def test_same_update_three_times_is_stored_once(client: FlaskClient, state: PluginState, case: PlatformCase,
                                                bot_id: int) -> None:
    body = case.body()
    statuses = [post(client, bot_id, body, case.sign(body)).status_code for _ in range(3)]
    assert statuses == [200, 200, 200]  # retries are acknowledged, or the platform keeps retrying
    assert stored(state) == (1, 1)


def test_body_over_the_limit_gets_413(client: FlaskClient, state: PluginState, bot_id: int,
                                      case: PlatformCase) -> None:
    configure(state, max_body_bytes=100)
    body = case.body()
    assert len(body) > 100
    assert post(client, bot_id, body, case.sign(body)).status_code == 413
    assert stored(state) == (0, 0)


def test_unknown_and_inactive_bots_get_404(client: FlaskClient, state: PluginState, bot_id: int,
                                           case: PlatformCase) -> None:
    body = case.body()
    assert post(client, bot_id + 1000, body, case.sign(body)).status_code == 404
    with state.db.session() as session:
        session.get(Bot, bot_id).active = False  # type: ignore[union-attr]
    assert post(client, bot_id, body, case.sign(body)).status_code == 404
    assert stored(state) == (0, 0)


def test_vk_confirmation_is_answered_with_the_code(client: FlaskClient, state: PluginState) -> None:
    bot_id = add_bot(state, CASES["vk"])
    body = fixture_bytes("vk", "confirmation.json")
    body = json.dumps({**json.loads(body), "secret": VK_SECRET}).encode()
    response = post(client, bot_id, body, {})
    assert response.status_code == 200 and response.get_data(as_text=True) == "abc123"


def test_slack_url_verification_echoes_the_challenge(client: FlaskClient, state: PluginState) -> None:
    bot_id = add_bot(state, CASES["slack"])
    body = fixture_bytes("slack", "url_verification.json")
    response = post(client, bot_id, body, _slack_signature(body))
    assert response.status_code == 200
    assert response.json == {"challenge": json.loads(body)["challenge"]}


def test_a_stored_update_is_one_short_core_write_and_wakes_the_watchers(
        client: FlaskClient, state: PluginState) -> None:
    case = CASES["telegram"]
    bot_id = add_bot(state, case)
    first, second = case.body(), json.dumps({**json.loads(case.body()), "update_id": 987654321}).encode()
    assert post(client, bot_id, first, case.sign(first)).status_code == 200  # the bot is read and kept
    woken: list[int] = []
    unwatch = state.db.watch(lambda: woken.append(1))
    seen: list[str] = []
    listener = lambda *args: seen.append(args[2].split()[0])  # noqa: E731
    event.listen(state.db.engine, "before_cursor_execute", listener)
    try:
        assert post(client, bot_id, second, case.sign(second)).status_code == 200
        assert post(client, bot_id, second, case.sign(second)).status_code == 200  # a retry: nothing stored
    finally:
        event.remove(state.db.engine, "before_cursor_execute", listener)
        unwatch()
    if state.db.engine.dialect.name == "postgresql":
        assert seen == ["WITH", "WITH"]  # the key and the log row together, no BEGIN or COMMIT round trips
    else:  # the key, then the row only when the key was new: the retry meets no error and stores nothing
        assert seen == ["BEGIN", "INSERT", "INSERT"] * 2
    assert woken == [1]  # the new row wakes the worker; the retry does not
    with state.db.session() as session:
        rows = session.scalars(select(Message).order_by(Message.id)).all()
    assert stored(state) == (2, 2)
    row = rows[1]
    assert (row.bot_id, row.status, row.attempts, row.link_id, row.claimed_by) == (
        bot_id, MessageStatus.RECEIVED, 0, None, None)
    assert row.kind == rows[0].kind and row.chat_id == rows[0].chat_id
    assert row.payload["raw"]["update_id"] == 987654321 and row.payload["inbound"] == rows[0].payload["inbound"]
    assert row.created_at is not None and row.next_attempt_at is not None
