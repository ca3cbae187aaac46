"""Issue 11, the ingest side: legitimate input longer than a column, and hostile or broken input, answered
200, 400 or 404 but never 500, before and after the signature check, on SQLite and PostgreSQL; the VK secret
never stored with the raw update."""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from crm_plugin import PluginState
from crm_plugin.core.chat import Location, Text, check_inbound
from crm_plugin.core.models import Direction, InboundKey, Message, MessageStatus
from crm_plugin.core.untrusted import MAX_JSON_DEPTH, bounded_id, clean_json, clean_text, load_json
from crm_plugin.delivery.outbox import inbound_from_dict
from tests.test_webchat import API, add_user, log_in
from tests.test_webhooks import CASES, VK_SECRET, add_bot, fixture_bytes, post, signed

PLATFORMS = list(CASES)


def sample(platform: str, name: str) -> dict[str, Any]:
    return json.loads(fixture_bytes(platform, name))  # type: ignore[no-any-return]


@pytest.fixture
def bots(state: PluginState) -> dict[str, int]:
    return {platform: add_bot(state, case) for platform, case in CASES.items()}


def send(client: FlaskClient, bots: dict[str, int], platform: str, body: bytes | Any,
         headers: dict[str, str] | None = None) -> int:
    data, signature = signed(CASES[platform], body)
    return post(client, bots[platform], data, {**signature, **(headers or {})}).status_code  # type: ignore[no-any-return]


def messages(state: PluginState) -> list[Message]:
    with state.db.session() as session:
        return list(session.scalars(select(Message).order_by(Message.id)))


def keys(state: PluginState) -> list[str]:
    with state.db.session() as session:
        return list(session.scalars(select(InboundKey.dedupe_key).order_by(InboundKey.id)))


def text_sample(platform: str, *, secret: bool = False) -> dict[str, Any]:
    """The platform's text message sample (VK's with its secret when ``secret``: for bodies signed as bytes)."""
    update = sample(platform, {"telegram": "text.json", "vk": "message_new_text.json",
                               "viber": "message_text.json", "slack": "message_im.json"}[platform])
    if platform == "vk" and secret:
        update["secret"] = VK_SECRET
    return update


def nested(depth: int, inner: str = "1") -> str:
    return "[" * depth + inner + "]" * depth


# --- legitimate input longer than its column ------------------------------------------------------------

def test_photo_caption_of_600_characters_is_stored_with_a_cut_preview(client: FlaskClient, state: PluginState,
                                                                      bots: dict[str, int]) -> None:
    update = sample("telegram", "album_1.json")
    caption = "Замер: " + "к" * 1017  # Telegram's longest caption, 1024
    update["message"]["caption"] = caption
    assert send(client, bots, "telegram", update) == 200
    [row] = messages(state)
    assert len(row.preview) == 500 and row.preview.startswith("[фото] Замер: кк") and row.preview.endswith("…")
    assert row.payload["inbound"]["event"]["caption"] == caption  # the whole caption is kept in the payload


def test_every_event_kind_fits_its_preview(client: FlaskClient, state: PluginState, bots: dict[str, int]) -> None:
    long = "д" * 4096  # a Telegram text's limit
    updates = [
        _with(sample("telegram", "start_payload.json"), ("message", "text"), f"/start {long}"),
        _with(sample("telegram", "document.json"), ("message", "document", "file_name"), long),
        _with(sample("telegram", "contact_own.json"), ("message", "contact", "phone_number"), "7" * 1000),
        _with(sample("telegram", "text.json"), ("message", "text"), long),
    ]
    for update in updates:
        assert send(client, bots, "telegram", update) == 200
    rows = messages(state)
    assert [row.kind for row in rows] == ["start", "document", "contact", "text"]
    assert all(len(row.preview) == 500 and row.preview.endswith("…") for row in rows)


def _with(data: dict[str, Any], path: tuple[str, ...], value: Any) -> dict[str, Any]:
    target = data
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return data


@pytest.mark.parametrize("platform, name, path, value", [
    ("telegram", "text.json", ("update_id",), 10**130),  # 131 digits
    ("viber", "message_text.json", ("message_token",), 10**199),  # 200 digits
    ("slack", "message_im.json", ("event_id",), "Ev" + "0" * 200),  # 202 characters
    ("vk", "message_new_text.json", ("event_id",), "f" * 300),
])
def test_dedupe_keys_longer_than_their_column_are_hashed_and_still_dedupe(
        client: FlaskClient, state: PluginState, bots: dict[str, int], platform: str, name: str,
        path: tuple[str, ...], value: Any) -> None:
    update = _with(sample(platform, name), path, value)
    assert [send(client, bots, platform, update) for _ in range(2)] == [200, 200]
    [key] = keys(state)
    assert key.startswith("sha256:") and len(key) <= 128
    assert len(messages(state)) == 1  # the retry was recognised


def test_chat_sender_and_message_ids_over_64_characters_are_stored(client: FlaskClient, state: PluginState,
                                                                   bots: dict[str, int]) -> None:
    update = sample("telegram", "text.json")
    update["message"]["chat"]["id"] = update["message"]["from"]["id"] = 10**70
    update["message"]["message_id"] = 10**140
    viber = sample("viber", "message_text.json")
    viber["sender"]["id"] = "v" * 100
    assert send(client, bots, "telegram", update) == 200
    assert send(client, bots, "viber", viber) == 200
    telegram_row, viber_row = messages(state)
    for row in (telegram_row, viber_row):
        assert row.chat_id.startswith("sha256:") and len(row.chat_id) == 64
    assert telegram_row.platform_message_id is not None and telegram_row.platform_message_id.startswith("sha256:")
    # the payload keeps the id as the platform sent it, for support
    assert telegram_row.payload["inbound"]["sender"]["chat_id"] == str(10**70)


# --- hostile or broken input ------------------------------------------------------------------------------

def test_100000_brackets_to_a_vk_bot_get_400(client: FlaskClient, state: PluginState, bots: dict[str, int]) -> None:
    # The VK secret is inside the body, so the body is read before the secret is compared.
    assert post(client, bots["vk"], b"[" * 100_000, {}).status_code == 400
    assert messages(state) == []


def test_deep_nesting_gets_400_on_every_platform(client: FlaskClient, state: PluginState,
                                                 bots: dict[str, int]) -> None:
    """Past the parser's limit (100,000), and under it (900: parsed, but storing the raw body failed), inside a
    real update, signed."""
    for platform in PLATFORMS:
        for depth in (100_000, 900, MAX_JSON_DEPTH + 1):
            body = (json.dumps(text_sample(platform, secret=True))[:-1] + f', "deep": {nested(depth)}}}').encode()
            assert send(client, bots, platform, body) == 400, (platform, depth)
    assert messages(state) == []


def test_nesting_a_platform_sends_is_read(client: FlaskClient, state: PluginState, bots: dict[str, int]) -> None:
    update = sample("telegram", "text.json")
    update["deep"] = json.loads(nested(MAX_JSON_DEPTH - 1))
    assert send(client, bots, "telegram", update) == 200


@pytest.mark.parametrize("platform, name, path", [
    ("telegram", "location.json", ("message", "location", "latitude")),
    ("vk", "message_new_geo.json", ("object", "message", "geo", "coordinates", "latitude")),
    ("viber", "message_location.json", ("message", "location", "lat")),
    ("telegram", "album_1.json", ("message", "photo", 0, "width")),
    ("vk", "message_new_photos.json", ("object", "message", "attachments", 0, "photo", "sizes", 0, "width")),
    ("telegram", "document.json", ("message", "document", "file_size")),
])
def test_huge_numbers_get_400_or_are_stored(client: FlaskClient, state: PluginState, bots: dict[str, int],
                                            platform: str, name: str, path: tuple[Any, ...]) -> None:
    for number in ("1e400", "1" + "0" * 400, "-1e400", "1e308"):
        update = sample(platform, name)
        if platform == "vk":
            update["secret"] = VK_SECRET
            update["event_id"] = number  # a new update each time
        marker = "__NUMBER__"
        _with_path(update, path, marker)
        body = json.dumps(update).replace(f'"{marker}"', number).encode()
        status = send(client, bots, platform, body)
        is_coordinate = "lat" in path[-1] if isinstance(path[-1], str) else False
        if is_coordinate or number in ("1e400", "-1e400"):
            assert status == 400, number  # no place on Earth, or a number no float holds
        elif number.isdigit() and path[-1] == "width":
            assert status == 200, number  # a silly width harms nothing
        else:
            assert status in (200, 400), number  # e.g. a float file size: 400
    for row in messages(state):
        check_inbound(inbound_from_dict(row.payload["inbound"]))  # what was stored reads back


def _with_path(data: Any, path: tuple[Any, ...], value: Any) -> None:
    for key in path[:-1]:
        data = data[key]
    data[path[-1]] = value


TEXT_PATHS = {"telegram": ("message", "text"), "vk": ("object", "message", "text"), "viber": ("message", "text"),
              "slack": ("event", "text")}


def test_lone_surrogates_in_texts_and_ids_are_stored_replaced(client: FlaskClient, state: PluginState,
                                                              bots: dict[str, int]) -> None:
    for platform in PLATFORMS:
        update = text_sample(platform)
        _with_path(update, TEXT_PATHS[platform], "замер\ud800")
        if platform == "telegram":
            update["message"]["from"]["first_name"] = "\udfff"
        elif platform == "vk":
            update["event_id"] = "\ud800"
        elif platform == "viber":
            update["sender"]["id"] = "id\ud800"
        else:
            update["event"]["channel"] = "D\ud800"
        assert send(client, bots, platform, update) == 200, platform
    rows = messages(state)
    assert [row.preview for row in rows] == ["замер\ufffd"] * len(PLATFORMS)
    for row in rows:
        assert json.dumps(row.payload, ensure_ascii=False).encode()  # storable and readable as UTF-8


def test_nul_characters_are_stored_removed(client: FlaskClient, state: PluginState, bots: dict[str, int]) -> None:
    for platform in PLATFORMS:
        update = text_sample(platform)
        _with_path(update, TEXT_PATHS[platform], "за\x00мер")
        update["extra\x00"] = ["\x00"]
        assert send(client, bots, platform, update) == 200, platform
    rows = messages(state)
    assert [row.preview for row in rows] == ["замер"] * len(PLATFORMS)
    for row in rows:
        assert "\\u0000" not in json.dumps(row.payload)  # neither in the event nor in the raw update


def test_nan_and_infinity_get_400(client: FlaskClient, state: PluginState, bots: dict[str, int]) -> None:
    """Not JSON (Python's parser takes them; PostgreSQL refuses them in a json column)."""
    for platform in PLATFORMS:
        for constant in ("NaN", "Infinity", "-Infinity"):
            body = (json.dumps(text_sample(platform, secret=True))[:-1] + f', "n": {constant}}}').encode()
            assert send(client, bots, platform, body) == 400, (platform, constant)
    assert messages(state) == []


def test_a_stored_row_never_fails_on_nan_nul_or_length(state: PluginState) -> None:
    """The column types themselves: whatever reaches a row is stored on both databases."""
    with state.db.session() as session:
        bot_id = add_bot(state, CASES["telegram"])
        session.add(Message(bot_id=bot_id, chat_id="c" * 65 + "\x00", direction=Direction.IN, kind="text",
                            preview="\x00\ud800" + "x" * 600, status=MessageStatus.RECEIVED, error="boom\x00\udc00",
                            payload={"n": float("nan"), "i": float("-inf"), "s\x00": ["\ud800\x00"],
                                     "deep": json.loads(nested(MAX_JSON_DEPTH + 5))},
                            platform_message_id="m" * 129))
    [row] = messages(state)
    assert row.chat_id.startswith("sha256:") and len(row.chat_id) == 64
    assert row.preview.startswith("\ufffdxx") and len(row.preview) == 500
    assert row.error == "boom\ufffd"
    assert row.payload["n"] == "NaN" and row.payload["i"] == "-Infinity" and row.payload["s"] == ["\ufffd"]
    assert row.platform_message_id is not None and row.platform_message_id.startswith("sha256:")


def test_slack_timestamp_of_400_digits_is_refused(client: FlaskClient, state: PluginState,
                                                  bots: dict[str, int]) -> None:
    body, headers = signed(CASES["slack"], sample("slack", "message_im.json"))
    for timestamp in ("9" * 400, "1²", "١٧١٨٠٠٠٠٠٠"):  # slack_sdk overflowed on the first, int() fails on the rest
        assert post(client, bots["slack"], body, {**headers, "X-Slack-Request-Timestamp": timestamp}).status_code == 403
    assert post(client, bots["slack"], body, {**headers, "X-Slack-Signature": "v0=é"}).status_code == 403
    assert messages(state) == []


def test_webhook_bot_id_of_2_63_is_404(client: FlaskClient, bots: dict[str, int]) -> None:
    body, headers = signed(CASES["telegram"], sample("telegram", "text.json"))
    for bot_id in (2**31, 2**63, 10**30):
        assert post(client, bot_id, body, headers).status_code == 404


def test_non_string_language_code_is_ignored(client: FlaskClient, state: PluginState, bots: dict[str, int]) -> None:
    for number, language in enumerate([5, ["ru"], {"code": "ru"}, True]):
        telegram = _with(text_sample("telegram"), ("message", "from", "language_code"), language)
        telegram["update_id"] += number
        viber = _with(text_sample("viber"), ("sender", "language"), language)
        viber["message_token"] += number
        assert send(client, bots, "telegram", telegram) == 200
        assert send(client, bots, "viber", viber) == 200
    rows = messages(state)
    assert len(rows) == 8
    assert all(inbound_from_dict(row.payload["inbound"]).sender.language is None for row in rows)


WRONG_TYPES = [
    ("telegram", "text.json", ("message", "text"), 5),
    ("telegram", "album_1.json", ("message", "caption"), {"a": 1}),
    ("telegram", "document.json", ("message", "document", "file_size"), "big"),
    ("telegram", "text.json", ("message", "chat", "id"), "not-a-number"),
    ("viber", "message_picture.json", ("message", "text"), None),
    ("slack", "message_im_file.json", ("event", "files", 0, "size"), "big"),
]


def test_wrong_types_are_400_or_read_as_nothing(client: FlaskClient, state: PluginState,
                                                bots: dict[str, int]) -> None:
    for platform, name, path, value in WRONG_TYPES:
        update = sample(platform, name)
        _with_path(update, path, value)
        assert send(client, bots, platform, update) in (200, 400), (name, path)
    for row in messages(state):
        check_inbound(inbound_from_dict(row.payload["inbound"]))  # anything stored is well typed


def test_a_body_no_parser_foresaw_is_400_and_logged(client: FlaskClient, state: PluginState, bots: dict[str, int],
                                                    monkeypatch: pytest.MonkeyPatch,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    from crm_plugin.channels import telegram_parse

    def broken(body: bytes) -> Any:
        raise RuntimeError("a parser bug")

    monkeypatch.setattr("crm_plugin.channels.telegram.parse_body", broken)
    with caplog.at_level(logging.ERROR, logger="crm_plugin.web.webhooks"):
        assert send(client, bots, "telegram", sample("telegram", "text.json")) == 400
    assert "did not foresee" in caplog.text and "a parser bug" in caplog.text
    assert messages(state) == [] and telegram_parse.parse_body is not broken


# --- secrets in the raw update -----------------------------------------------------------------------------

def test_vk_secret_and_slack_token_are_not_stored_with_the_raw_update(client: FlaskClient, state: PluginState,
                                                                      bots: dict[str, int]) -> None:
    vk = sample("vk", "message_new_text.json")
    assert vk["secret"] == VK_SECRET
    assert send(client, bots, "vk", vk) == 200
    slack = sample("slack", "message_im.json")
    assert send(client, bots, "slack", slack) == 200
    vk_row, slack_row = messages(state)
    assert "secret" not in vk_row.payload["raw"] and VK_SECRET not in json.dumps(vk_row.payload)
    assert vk_row.payload["raw"]["event_id"] == vk["event_id"]  # the rest is kept for support
    assert "token" not in slack_row.payload["raw"] and slack["token"] not in json.dumps(slack_row.payload)


# --- the web chat's JSON API -------------------------------------------------------------------------------

@pytest.fixture
def page(app: Flask, client: FlaskClient) -> Iterator[tuple[FlaskClient, int]]:
    admin_id = add_user(app, "boss", "Админов Пётр", is_admin=True)
    measurer = add_user(app, "meas", "Хайруллин Ильдар", phone="+7 927 401-22-11")
    log_in(client, admin_id)
    yield client, measurer


def test_web_chat_user_id_that_is_no_user_is_400(page: tuple[FlaskClient, int], state: PluginState) -> None:
    client, _ = page
    for user_id in ("Infinity", "-Infinity", "NaN", str(2**63), str(2**31), "1e400", "true", "1.5", '"²"', '"-5"',
                    "[1]", "null"):
        for route in ("session", "send"):
            body = f'{{"user_id": {user_id}, "type": "text", "text": "x"}}'
            response = client.post(f"{API}/{route}", data=body, content_type="application/json")
            assert response.status_code == 400, (user_id, route, response.text)
        assert client.get(f"{API}/messages", query_string={"user": user_id}).status_code == 400, user_id
    assert messages(state) == []


def test_web_chat_hostile_bodies_are_400(page: tuple[FlaskClient, int], state: PluginState) -> None:
    client, measurer = page
    bodies = [
        f'{{"user_id": {measurer}, "type": "location", "latitude": 1e400, "longitude": 1}}',
        f'{{"user_id": {measurer}, "type": "location", "latitude": {10**400}, "longitude": 1}}',
        f'{{"user_id": {measurer}, "type": "location", "latitude": "nan", "longitude": 1}}',
        f'{{"user_id": {measurer}, "type": "start", "payload": {{"a": 1}}}}',
        f'{{"user_id": {measurer}, "type": "start", "payload": "{"x" * 65}"}}',
        f'{{"user_id": {measurer}, "type": "text", "text": {nested(100_000)}}}',
        f'{{"user_id": {measurer}, "type": "text", "text": {nested(900)}}}',
        "[" * 100_000,
    ]
    for body in bodies:
        response = client.post(f"{API}/send", data=body, content_type="application/json")
        assert response.status_code == 400, (body[:80], response.text)
    assert messages(state) == []


def test_web_chat_texts_with_nul_and_surrogates_are_stored_clean(page: tuple[FlaskClient, int],
                                                                 state: PluginState) -> None:
    client, measurer = page
    body = json.dumps({"user_id": measurer, "type": "text", "text": "за\x00мер\ud800"})
    assert client.post(f"{API}/send", data=body, content_type="application/json").status_code == 200
    [row] = messages(state)
    assert row.preview == "замер\ufffd"


def test_web_chat_cursors_and_file_ids_past_the_columns_are_harmless(page: tuple[FlaskClient, int]) -> None:
    client, measurer = page
    for after in (10**30, -1, 2**63):
        response = client.get(f"{API}/messages", query_string={"user": measurer, "after": after})
        assert response.status_code == 200, after
    assert client.get(f"{API}/file/{2**63}/0").status_code == 404
    assert client.get(f"{API}/file/{2**70}/{2**70}").status_code == 404


# --- the helpers themselves ---------------------------------------------------------------------------------

def test_untrusted_helpers() -> None:
    with pytest.raises(ValueError):
        load_json(b"[" * 100_000)
    with pytest.raises(ValueError):
        load_json(nested(MAX_JSON_DEPTH + 1))
    with pytest.raises(ValueError):
        load_json(b"[1e400]")
    with pytest.raises(ValueError):
        load_json(b"\xff")
    assert load_json(nested(MAX_JSON_DEPTH)) is not None
    assert load_json(b'{"n": 100000000000000000000000000000}') == {"n": 10**29}
    assert clean_text("a\x00b\ud83d\ude00\ud800", 5) == "ab😀\ufffd"  # a split pair is joined again
    assert clean_text("x" * 10, 5) == "xxxx…"
    long = bounded_id("1" * 200, 64)
    assert long.startswith("sha256:") and len(long) == 64 and bounded_id(long, 64) == long  # stable
    assert bounded_id("1" * 200, 64) != bounded_id("1" * 201, 64) and bounded_id("42", 64) == "42"
    assert bounded_id("a\x00", 64).startswith("sha256:")
    assert clean_json((1.5, float("nan"), {"\x00k": "v"})) == [1.5, "NaN", {"k": "v"}]
    with pytest.raises(ValueError):
        check_inbound(dataclasses.replace(_inbound(), event=Location(float("inf"), 0)))
    with pytest.raises(ValueError):
        check_inbound(dataclasses.replace(_inbound(), event=Text(5)))  # type: ignore[arg-type]
    assert check_inbound(_inbound()) == _inbound()


def _inbound() -> Any:
    from crm_plugin.core.chat import Inbound, Sender

    return Inbound(Sender("1", "1", "n", "ru"), Text("hi"), "m1")


def test_migration_0004_strips_the_secrets_already_stored(state: PluginState) -> None:
    """Rows stored before this change kept VK's secret and Slack's token in their raw update: the upgrade
    removes them and keeps the rest."""
    from crm_plugin.core import migrate
    from crm_plugin.core.chat import Inbound, Sender
    from crm_plugin.delivery.outbox import log_inbound

    migrate.downgrade(state.db.engine, state.manifest, "0003")
    vk_bot, slack_bot = add_bot(state, CASES["vk"]), add_bot(state, CASES["slack"])
    inbound = Inbound(Sender("1", "1"), Text("hi"), "m")
    with state.db.session() as session:
        log_inbound(session, bot_id=vk_bot, inbound=inbound, raw={"type": "message_new", "secret": VK_SECRET})
        log_inbound(session, bot_id=slack_bot, inbound=inbound, raw={"type": "event_callback", "token": "T0KEN"})
    migrate.upgrade(state.db.engine, state.manifest)
    vk_row, slack_row = messages(state)
    assert vk_row.payload["raw"] == {"type": "message_new"} and slack_row.payload["raw"] == {"type": "event_callback"}
    assert vk_row.payload["inbound"]["event"] == {"text": "hi"}
