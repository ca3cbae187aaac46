"""Replies as the outbox stores them (crm_plugin.core.chat.reply_to_dict / reply_from_dict).

reply_to_dict is written out field by field (dataclasses.asdict deep-copied every button); it must store exactly
what the asdict version stored, key order included (the JSON text of rows already queued), and read back equal.
"""

from __future__ import annotations

import enum
import json
from dataclasses import asdict
from typing import Any

import pytest

from crm_plugin.core.chat import (
    Button,
    ButtonKind,
    FileKindOut,
    LocationReply,
    MediaReply,
    OutFile,
    Reply,
    StatsReply,
    TextReply,
    reply_from_dict,
    reply_kind,
    reply_to_dict,
)

MENU = ((Button.action("Сегодня", "today:0"), Button.action("Завтра", "today:1")),
        (Button.link("Сайт", "https://example.com/a?b=1"),),
        (Button.share_contact("Мой номер"), Button.share_location("Где я")))

REPLIES: list[Reply] = [
    TextReply("Привет"),
    TextReply("Меню", MENU),
    TextReply("Готово", remove_keyboard=True),
    TextReply("", ((Button("только метка"),),)),
    MediaReply((OutFile(FileKindOut.PHOTO, 7, "a.jpg", "image/jpeg"),
                OutFile(FileKindOut.DOCUMENT, 8, "смета.pdf", "application/pdf"))),
    MediaReply((OutFile(FileKindOut.PHOTO, 9, "b.png", "image/png"),), caption="подпись"),
    LocationReply(55.75, 37.62),
    LocationReply(-33.9, 151.2, title="Офис"),
    StatsReply("Итоги недели"),
    StatsReply("Итоги", chart_key="jobs:week:3", buttons=MENU[:1]),
]


def _plain(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def asdict_version(reply: Reply) -> dict[str, Any]:
    """What reply_to_dict stored before it was written out by hand."""
    return {"type": reply_kind(reply), **_plain(asdict(reply))}


@pytest.mark.parametrize("reply", REPLIES, ids=lambda r: f"{type(r).__name__}")
def test_stored_exactly_as_the_asdict_version_stored_it(reply: Reply) -> None:
    stored = reply_to_dict(reply)
    assert stored == asdict_version(reply)
    assert json.dumps(stored, ensure_ascii=False) == json.dumps(asdict_version(reply), ensure_ascii=False)


@pytest.mark.parametrize("reply", REPLIES, ids=lambda r: f"{type(r).__name__}")
def test_read_back_equal(reply: Reply) -> None:
    assert reply_from_dict(json.loads(json.dumps(reply_to_dict(reply)))) == reply


def test_enums_are_stored_as_their_values() -> None:
    stored = reply_to_dict(TextReply("x", ((Button.share_contact("Номер"),),)))
    kind = stored["buttons"][0][0]["kind"]
    assert kind == "request_contact" and type(kind) is str and not isinstance(kind, ButtonKind)
    photo = reply_to_dict(MediaReply((OutFile(FileKindOut.PHOTO, 1, "a.jpg", "image/jpeg"),)))["files"][0]["kind"]
    assert photo == "photo" and type(photo) is str


def test_the_stored_dict_shares_nothing_mutable_with_the_reply() -> None:
    """Rows are lists made for the dict: changing the stored dict cannot change a (frozen) reply."""
    reply = TextReply("Меню", MENU)
    stored = reply_to_dict(reply)
    stored["buttons"][0].clear()
    assert reply.buttons == MENU and reply_to_dict(reply) == asdict_version(reply)
