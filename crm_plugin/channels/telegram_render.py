"""Neutral replies -> Telegram markup and message plans (pure: no network)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar, Union

from telebot import types

from ..core.chat import ButtonKind, FileKindOut, Keyboard, OutFile

CALLBACK_DATA_LIMIT = 64  # bytes, Telegram's limit for callback_data
ALBUM_LIMIT = 10  # items in one sendMediaGroup

Markup = Union[types.InlineKeyboardMarkup, types.ReplyKeyboardMarkup, types.ReplyKeyboardRemove]
T = TypeVar("T")


class ButtonPayloadTooLong(ValueError):
    """A payload button's data does not fit Telegram's 64-byte callback_data."""


def needs_reply_keyboard(buttons: Keyboard) -> bool:
    """Telegram asks for a contact or a location only from a reply keyboard (under the input field)."""
    return any(b.kind in (ButtonKind.REQUEST_CONTACT, ButtonKind.REQUEST_LOCATION) for row in buttons for b in row)


def keyboard(buttons: Keyboard) -> Markup | None:
    if not buttons:
        return None
    if needs_reply_keyboard(buttons):
        return _reply_keyboard(buttons)
    return _inline_keyboard(buttons)


def _inline_keyboard(buttons: Keyboard) -> types.InlineKeyboardMarkup:
    markup = types.InlineKeyboardMarkup()
    for row in buttons:
        cells = []
        for button in row:
            if button.kind is ButtonKind.URL:
                cells.append(types.InlineKeyboardButton(button.label, url=button.url))
            else:
                cells.append(types.InlineKeyboardButton(button.label, callback_data=_callback_data(button.payload)))
        markup.row(*cells)
    return markup


def _reply_keyboard(buttons: Keyboard) -> types.ReplyKeyboardMarkup:
    # One-time: the keyboard hides once used, the person is back at the text field.
    # A payload or URL button cannot live in a reply keyboard; it becomes a plain button that sends its
    # label as text, so such a press arrives as Text(label), not ButtonPress.
    markup = types.ReplyKeyboardMarkup(resize_keyboard=True, one_time_keyboard=True)
    for row in buttons:
        markup.row(*(types.KeyboardButton(b.label, request_contact=b.kind is ButtonKind.REQUEST_CONTACT or None,
                                          request_location=b.kind is ButtonKind.REQUEST_LOCATION or None)
                     for b in row))
    return markup


def _callback_data(payload: str | None) -> str:
    data = payload or ""
    size = len(data.encode("utf-8"))
    if not data or size > CALLBACK_DATA_LIMIT:
        raise ButtonPayloadTooLong(
            f"a Telegram button payload must be 1-{CALLBACK_DATA_LIMIT} bytes of UTF-8, got {size}: {data[:80]!r}")
    return data


def album_chunks(items: Sequence[T]) -> list[list[T]]:
    """Albums of at most 10, none of a single item when it can be helped (11 -> 6 + 5, not 10 + 1)."""
    if not items:
        return []
    count = -(-len(items) // ALBUM_LIMIT)
    size, extra = divmod(len(items), count)
    chunks, start = [], 0
    for index in range(count):
        end = start + size + (1 if index < extra else 0)
        chunks.append(list(items[start:end]))
        start = end
    return chunks


def group_by_kind(files: Sequence[OutFile]) -> list[list[OutFile]]:
    """Runs of photos and of documents in their order: a Telegram album cannot mix the two."""
    runs: list[list[OutFile]] = []
    for file in files:
        if runs and runs[-1][0].kind is file.kind:
            runs[-1].append(file)
        else:
            runs.append([file])
    return runs


def input_media(file: OutFile, media: str | types.InputFile, caption: str | None) -> types.InputMedia:
    if file.kind is FileKindOut.PHOTO:
        return types.InputMediaPhoto(media, caption=caption)
    return types.InputMediaDocument(media, caption=caption)
