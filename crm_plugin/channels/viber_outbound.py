"""Neutral replies rendered as viberbot messages with Viber keyboards; Viber's answers mapped to SendError."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import requests
from viberbot.api.api_request_sender import ApiRequestSender
from viberbot.api.consts import VIBER_BOT_USER_AGENT
from viberbot.api.messages import FileMessage, LocationMessage, PictureMessage, TextMessage
from viberbot.api.messages.data_types.location import Location
from viberbot.api.messages.message import Message

from ..core.chat import Button, ButtonKind, FileKindOut, Keyboard, LocationReply, MediaReply, StatsReply, TextReply
from .base import FileStore, SendError
from .stats_reply import split_caption
from .viber_inbound import BUTTON_PREFIX, SHARE_PHONE_TRACKING, START_PREFIX

ROW_COLUMNS = 6  # a Viber keyboard row is 6 columns wide
PICTURE_TEXT_LIMIT = 768  # characters of a picture message's description
SHARE_PHONE_API = 4  # share-phone needs API 3, InputFieldState (hiding the input field) API 4
LOCATION_PICKER_API = 3

# Viber's status codes (REST API "Error codes"). 5/6: the person is gone or never subscribed; 12: too many
# messages (100 an hour to one person without a reply); 2 and the account/request faults: retrying cannot
# help. Anything unlisted ("generalError") is treated as transient.
UNREACHABLE_STATUSES = {5, 6}
RATE_LIMITED_STATUS = 12
RATE_LIMIT_WAIT = 1.0
PERMANENT_STATUSES = {1, 2, 3, 4, 7, 8, 9, 10, 11, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24}


class ViberApiError(Exception):
    def __init__(self, status: int, status_message: str) -> None:
        super().__init__(f"Viber status {status}: {status_message}")
        self.status, self.status_message = status, status_message


class ViberHttpError(Exception):
    """No Viber answer: connection refused, dropped, timed out, an HTTP error or a body that is not JSON."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ViberRequestSender(ApiRequestSender):
    """viberbot's request sender with a base URL of our choice, a time-out, a pooled session, the token in
    the X-Viber-Auth-Token header (as the REST API documents) and typed errors.

    viberbot copies VIBER_BOT_API_URL into every Api at construction and posts with ``requests.post`` and no
    time-out. Setting a module global would change the URL for every bot in the process, so each channel
    builds its Api and then gives it (and its MessageSender, which holds the same object) this sender:
    viberbot keeps building and validating the payloads, only the HTTP call is ours.
    """

    def __init__(self, logger: logging.Logger, api_url: str, bot_configuration: Any, *, timeout: float,
                 session: requests.Session) -> None:
        super().__init__(logger, api_url.rstrip("/"), bot_configuration, VIBER_BOT_USER_AGENT)
        self._timeout = timeout
        self._session = session

    def post_request(self, endpoint: str, payload: str) -> dict[str, Any]:
        headers = {"User-Agent": self._user_agent, "Content-Type": "application/json",
                   "X-Viber-Auth-Token": self._bot_configuration.auth_token}
        try:
            response = self._session.post(f"{self._viber_bot_api_url}/{endpoint}", data=payload.encode(),
                                          headers=headers, timeout=self._timeout)
        except requests.RequestException as exc:
            raise ViberHttpError(f"{endpoint}: {exc.__class__.__name__}: {exc}") from exc
        if response.status_code == 429:  # Viber says status 12, but a proxy in front of it may say 429
            raise ViberHttpError(f"{endpoint}: HTTP 429", retry_after=_seconds(response.headers.get("Retry-After")))
        if response.status_code != 200:
            raise ViberHttpError(f"{endpoint}: HTTP {response.status_code}")
        try:
            result = response.json()
        except ValueError as exc:
            raise ViberHttpError(f"{endpoint}: the answer is not JSON") from exc
        if not isinstance(result, dict):
            raise ViberHttpError(f"{endpoint}: unexpected answer {result!r}")
        if result.get("status") != 0:
            status = result.get("status")
            raise ViberApiError(status if isinstance(status, int) else -1, str(result.get("status_message", "")))
        return result


def send_error(exc: Exception) -> SendError:
    if isinstance(exc, ViberApiError):
        if exc.status in UNREACHABLE_STATUSES:
            return SendError(str(exc), unreachable=True)
        if exc.status == RATE_LIMITED_STATUS:
            return SendError(str(exc), retry_after=RATE_LIMIT_WAIT)
        return SendError(str(exc), permanent=exc.status in PERMANENT_STATUSES)
    if isinstance(exc, ViberHttpError) and exc.retry_after is not None:
        return SendError(str(exc), retry_after=exc.retry_after)
    return SendError(str(exc))  # ViberHttpError: transient


def _seconds(value: str | None) -> float:
    try:
        return max(float(value or ""), 0.0)
    except ValueError:
        return RATE_LIMIT_WAIT


# --- rendering ------------------------------------------------------------------------------------

def render_text(reply: TextReply) -> Message:
    if not reply.buttons:
        return TextMessage(text=reply.text)
    kinds = {button.kind for row in reply.buttons for button in row}
    keyboard = render_keyboard(reply.buttons)
    if ButtonKind.REQUEST_CONTACT in kinds:
        # Hidden input field + tracking data: the reply contact is provably the share-phone answer
        # (see viber_inbound.SHARE_PHONE_TRACKING).
        keyboard["InputFieldState"] = "hidden"
        return TextMessage(text=reply.text, keyboard=keyboard, tracking_data=SHARE_PHONE_TRACKING,
                           min_api_version=SHARE_PHONE_API)
    api = LOCATION_PICKER_API if ButtonKind.REQUEST_LOCATION in kinds else None
    return TextMessage(text=reply.text, keyboard=keyboard, min_api_version=api)


def render_keyboard(rows: Keyboard) -> dict[str, Any]:
    buttons: list[dict[str, Any]] = []
    for row in rows:
        for start in range(0, len(row), ROW_COLUMNS):  # more than 6 buttons wrap onto further rows
            chunk = row[start:start + ROW_COLUMNS]
            for button, columns in zip(chunk, split_columns(len(chunk))):
                buttons.append({"Columns": columns, "Rows": 1, "Text": button.label, "TextSize": "regular",
                                **_action(button)})
    return {"Type": "keyboard", "DefaultHeight": False, "Buttons": buttons}


def split_columns(count: int) -> list[int]:
    """6 columns shared among ``count`` buttons, wider buttons first: 4 -> [2, 2, 1, 1]."""
    base, extra = divmod(ROW_COLUMNS, count)
    return [base + (1 if index < extra else 0) for index in range(count)]


def _action(button: Button) -> dict[str, str]:
    if button.kind is ButtonKind.URL:
        return {"ActionType": "open-url", "ActionBody": button.url or ""}
    if button.kind is ButtonKind.REQUEST_CONTACT:
        return {"ActionType": "share-phone", "ActionBody": "share-phone"}
    if button.kind is ButtonKind.REQUEST_LOCATION:
        return {"ActionType": "location-picker", "ActionBody": "location"}
    return {"ActionType": "reply", "ActionBody": BUTTON_PREFIX + (button.payload or "")}


def welcome_message(name: str, avatar: str | None, text: str, button: str) -> dict[str, Any]:
    """The conversation_started answer: Viber sends it even to a person who has not subscribed yet."""
    keyboard = {"Type": "keyboard", "DefaultHeight": False, "Buttons": [
        {"Columns": ROW_COLUMNS, "Rows": 1, "Text": button, "TextSize": "regular",
         "ActionType": "reply", "ActionBody": START_PREFIX}]}
    sender = {"name": name, **({"avatar": avatar} if avatar else {})}
    return {"sender": sender, "type": "text", "text": text, "keyboard": keyboard}


def render_media(reply: MediaReply, files: FileStore, media_url: Callable[[int], str] | None) -> list[Message]:
    if media_url is None:
        raise SendError("Viber sends files by public URL: the channel needs a media_url(crm_file_id) callable",
                        permanent=True)
    messages: list[Message] = []
    caption = reply.caption
    for out in reply.files:
        url = media_url(out.crm_file_id)
        if out.kind is FileKindOut.PHOTO:
            messages.append(PictureMessage(media=url, text=caption or ""))
            caption = None  # the caption goes under the first photo only
        else:
            size = len(files.read(out.crm_file_id))  # Viber requires the size of a file message
            messages.append(FileMessage(media=url, size=size, file_name=out.name))
    if caption:  # documents only: Viber file messages have no caption, so it goes as a text first
        messages.insert(0, TextMessage(text=caption))
    return messages


def render_stats(reply: StatsReply, files: FileStore) -> list[Message]:
    """The chart as a picture message by its public .png link, the text as its description (the rest of a
    long text follows as a text message, the keyboard with the last message); the text alone without a chart."""
    url = files.chart_url(reply.chart_key) if reply.chart_key else None
    if url is None:
        return [render_text(TextReply(reply.text, reply.buttons))]
    caption, rest = split_caption(reply.text, PICTURE_TEXT_LIMIT)
    if rest:
        return [PictureMessage(media=url, text=caption), render_text(TextReply(rest, reply.buttons))]
    keyboard = render_keyboard(reply.buttons) if reply.buttons else None
    return [PictureMessage(media=url, text=caption, keyboard=keyboard)]


def render_location(reply: LocationReply) -> list[Message]:
    pin = LocationMessage(location=Location(lat=reply.latitude, lon=reply.longitude))
    return [TextMessage(text=reply.title), pin] if reply.title else [pin]

