"""A fake Telegram Bot API server: same URLs (/bot<token>/<method>, /file/bot<token>/<path>) and JSON shapes.

It answers the methods the plugin uses, records what was sent (``sent_messages``), serves files, holds
getUpdates queues and webhook state, and enforces the send limits with Telegram's own 429 answer:
per bot token (30 a second), per chat (3 in any 3 s: 1 a second on average with a burst of 3, as the
real one tolerates short bursts) and per group chat (20 a minute). Only send* methods count, one per call.

    with FakeTelegram() as fake:                      # token FakeTelegram.TOKEN
        channel = TelegramChannel({"token": fake.token}, api_url=fake.url)
        fake.too_many_requests(retry_after=7)         # the next call answers 429
        fake.block("42")                              # 403 Forbidden: bot was blocked by the user
"""

from __future__ import annotations

import io
import itertools
import json
import math
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from flask import Response, request

from .server import FakePlatformServer, Fault, SlidingWindow

SEND_METHODS = frozenset({"sendMessage", "sendPhoto", "sendDocument", "sendMediaGroup", "sendLocation"})
UNLIMITED = None


@dataclass
class SentFile:
    kind: str  # "photo" | "document"
    file_id: str  # the id Telegram gave it (new for an upload)
    uploaded: bool  # bytes were uploaded (False: an existing file_id was reused)
    filename: str | None = None
    content: bytes | None = None
    caption: str | None = None


@dataclass
class SentMessage:
    token: str
    method: str
    chat_id: str
    message_id: int
    text: str | None = None
    caption: str | None = None
    reply_markup: dict[str, Any] | None = None
    files: list[SentFile] = field(default_factory=list)  # one, or one per album item
    media_group_id: str | None = None
    location: tuple[float, float] | None = None


@dataclass
class FakeBot:
    token: str
    id: int
    username: str
    first_name: str
    webhook: dict[str, Any] = field(default_factory=lambda: {"url": "", "pending_update_count": 0})
    updates: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class StoredFile:
    file_id: str
    file_path: str
    content: bytes
    size: int


class ApiError(Exception):
    def __init__(self, code: int, description: str, **parameters: Any) -> None:
        super().__init__(description)
        self.code, self.description, self.parameters = code, description, parameters


class FakeTelegram(FakePlatformServer):
    name = "telegram"
    TOKEN = "123456:TEST-token"

    def __init__(self, token: str = TOKEN, *, username: str = "crm_test_bot", first_name: str = "CRM Бот",
                 per_bot: tuple[int, float] | None = (30, 1.0), per_chat: tuple[int, float] | None = (3, 3.0),
                 per_group: tuple[int, float] | None = (20, 60.0)) -> None:
        super().__init__()
        self.token = token
        self.bots: dict[str, FakeBot] = {}
        self.files: dict[str, StoredFile] = {}
        self.sent: list[SentMessage] = []
        self.callback_answers: list[dict[str, Any]] = []
        self.blocked: dict[str, str] = {}  # chat id -> the 403 description
        self.unknown_chats: set[str] = set()
        self._state = threading.Condition()
        self._ids = itertools.count(1001)
        self._windows: dict[str, SlidingWindow | None] = {}
        self.set_limits(per_bot=per_bot, per_chat=per_chat, per_group=per_group)
        self.add_bot(token, username=username, first_name=first_name)
        self.app.wsgi_app = _QuoteFilenames(self.app.wsgi_app)  # type: ignore[method-assign]
        self.app.add_url_rule("/bot<token>/<method>", view_func=self._api, methods=["GET", "POST"])
        self.app.add_url_rule("/file/bot<token>/<path:file_path>", view_func=self._file)

    def __enter__(self) -> FakeTelegram:
        self.start()
        return self

    # --- configuration --------------------------------------------------------------------------------
    def add_bot(self, token: str, *, username: str = "other_bot", first_name: str = "Другой бот") -> FakeBot:
        bot = FakeBot(token, int(token.split(":", 1)[0]), username, first_name)
        self.bots[token] = bot
        return bot

    def set_limits(self, **limits: tuple[int, float] | None) -> None:
        """per_bot / per_chat / per_group = (count, window seconds), or None for no limit."""
        for name, value in limits.items():
            if name not in ("per_bot", "per_chat", "per_group"):
                raise TypeError(f"unknown limit {name}")
            self._windows[name] = SlidingWindow(*value) if value else None

    def block(self, chat_id: str | int, description: str = "Forbidden: bot was blocked by the user") -> None:
        self.blocked[str(chat_id)] = description

    def unblock(self, chat_id: str | int) -> None:
        self.blocked.pop(str(chat_id), None)

    def forget_chat(self, chat_id: str | int) -> None:
        """Sends to this chat answer 400 Bad Request: chat not found."""
        self.unknown_chats.add(str(chat_id))

    def too_many_requests(self, retry_after: int = 5, method: str | None = None, times: int = 1) -> None:
        body = {"ok": False, "error_code": 429, "description": f"Too Many Requests: retry after {retry_after}",
                "parameters": {"retry_after": retry_after}}
        self.inject(Fault(status=429, body=body, method=method), times)

    def server_error(self, status: int = 500, method: str | None = None, times: int = 1) -> None:
        if status == 502:  # a proxy's HTML page, not the Bot API's JSON
            self.inject(Fault(status=502, body="<html>502 Bad Gateway</html>", method=method), times)
            return
        body = {"ok": False, "error_code": status, "description": "Internal Server Error"}
        self.inject(Fault(status=status, body=body, method=method), times)

    def drop_connection(self, method: str | None = None, times: int = 1) -> None:
        self.inject(Fault(drop=True, method=method), times)

    def delay(self, seconds: float, method: str | None = None, times: int = 1) -> None:
        """The next call answers normally but only after ``seconds`` (longer than a client time-out: a time-out)."""
        self.inject(Fault(delay=seconds, method=method), times)

    def add_file(self, content: bytes, *, file_size: int | None = None, file_path: str | None = None) -> str:
        """A file a person 'sent'; returns its file_id. ``file_size`` may claim more than the bytes given."""
        with self._state:
            return self._store(content, file_path, file_size).file_id

    def push_update(self, update: dict[str, Any], token: str | None = None) -> dict[str, Any]:
        """Queue an update for getUpdates; gets a fresh update_id unless it has one."""
        with self._state:
            bot = self.bots[token or self.token]
            update = {"update_id": next(self._ids), **update}
            bot.updates.append(update)
            self._state.notify_all()
            return update

    def set_webhook_state(self, token: str | None = None, **fields: Any) -> None:
        """Fields of getWebhookInfo: url, pending_update_count, last_error_date, last_error_message..."""
        with self._state:
            self.bots[token or self.token].webhook.update(fields)

    # --- reading what happened ------------------------------------------------------------------------------
    def sent_messages(self, chat_id: str | int | None = None) -> list[SentMessage]:
        with self._state:
            return [m for m in self.sent if chat_id is None or m.chat_id == str(chat_id)]

    def webhook(self, token: str | None = None) -> dict[str, Any]:
        return dict(self.bots[token or self.token].webhook)

    # --- the server -----------------------------------------------------------------------------------
    def api_method(self) -> str:
        return "file" if request.path.startswith("/file/") else super().api_method()

    def _api(self, token: str, method: str) -> Response:
        bot = self.bots.get(token)
        if bot is None:
            return _error(ApiError(401, "Unauthorized"))
        handler = getattr(self, f"_m_{method}", None)
        if handler is None:
            return _error(ApiError(404, "Not Found"))
        params = request.values.to_dict()
        try:
            if method in SEND_METHODS:
                self._check_chat(bot, str(params.get("chat_id", "")))
            return _ok(handler(bot, params))
        except ApiError as exc:
            return _error(exc)

    def _check_chat(self, bot: FakeBot, chat_id: str) -> None:
        if not chat_id or chat_id in self.unknown_chats:
            raise ApiError(400, "Bad Request: chat not found")
        if chat_id in self.blocked:
            raise ApiError(403, self.blocked[chat_id])
        checks = [("per_chat", f"{bot.token}/{chat_id}"), ("per_bot", bot.token)]
        if chat_id.startswith("-"):
            checks.insert(1, ("per_group", f"{bot.token}/{chat_id}"))
        for name, key in checks:
            window = self._windows.get(name)
            if window is None:
                continue
            wait = window.hit(key)
            if wait > 0:
                with self._lock:
                    self.rate_limited += 1
                raise _too_many(wait)

    def _file(self, token: str, file_path: str) -> Response:
        stored = next((f for f in self.files.values() if f.file_path == file_path), None)
        if token not in self.bots or stored is None:
            return Response(json.dumps({"ok": False, "error_code": 404, "description": "Not Found"}), 404,
                            content_type="application/json")
        return Response(stored.content, content_type="application/octet-stream")

    # --- methods -----------------------------------------------------------------------------------------
    def _m_getMe(self, bot: FakeBot, params: dict[str, Any]) -> Any:
        return {"id": bot.id, "is_bot": True, "first_name": bot.first_name, "username": bot.username,
                "can_join_groups": True, "can_read_all_group_messages": False, "supports_inline_queries": False}

    def _m_setWebhook(self, bot: FakeBot, params: dict[str, Any]) -> Any:
        with self._state:
            bot.webhook.update(url=params.get("url", ""), secret_token=params.get("secret_token"),
                               allowed_updates=json.loads(params.get("allowed_updates") or "null"))
        return True

    def _m_deleteWebhook(self, bot: FakeBot, params: dict[str, Any]) -> Any:
        with self._state:
            bot.webhook.update(url="", secret_token=None)
            if params.get("drop_pending_updates") == "True":
                bot.updates.clear()
        return True

    def _m_getWebhookInfo(self, bot: FakeBot, params: dict[str, Any]) -> Any:
        with self._state:
            info = {k: v for k, v in bot.webhook.items() if k != "secret_token" and v is not None}
        return {"has_custom_certificate": False, **info}

    def _m_getUpdates(self, bot: FakeBot, params: dict[str, Any]) -> Any:
        if bot.webhook.get("url"):
            raise ApiError(409, "Conflict: can't use getUpdates method while webhook is active; "
                                "use deleteWebhook to delete the webhook first")
        offset = int(params.get("offset") or 0)
        deadline = time.monotonic() + min(float(params.get("timeout") or 0), 30.0)
        with self._state:
            bot.updates = [u for u in bot.updates if u["update_id"] >= offset]  # confirmed ones are gone
            while not bot.updates and time.monotonic() < deadline:
                self._state.wait(deadline - time.monotonic())
            return list(bot.updates[: int(params.get("limit") or 100)])

    def _m_getFile(self, bot: FakeBot, params: dict[str, Any]) -> Any:
        stored = self.files.get(params.get("file_id", ""))
        if stored is None:
            raise ApiError(400, "Bad Request: invalid file_id")
        if stored.size > 20 * 1024 * 1024:
            raise ApiError(400, "Bad Request: file is too big")
        return {"file_id": stored.file_id, "file_unique_id": f"u{stored.file_id}", "file_size": stored.size,
                "file_path": stored.file_path}

    def _m_answerCallbackQuery(self, bot: FakeBot, params: dict[str, Any]) -> Any:
        with self._state:
            self.callback_answers.append(params)
        return True

    def _m_sendMessage(self, bot: FakeBot, params: dict[str, Any]) -> Any:
        if not params.get("text"):
            raise ApiError(400, "Bad Request: message text is empty")
        return self._record(bot, "sendMessage", params, text=params["text"])

    def _m_sendLocation(self, bot: FakeBot, params: dict[str, Any]) -> Any:
        location = (float(params["latitude"]), float(params["longitude"]))
        message = self._record(bot, "sendLocation", params, location=location)
        return {**message, "location": {"latitude": location[0], "longitude": location[1]}}

    def _m_sendPhoto(self, bot: FakeBot, params: dict[str, Any]) -> Any:
        return self._send_file(bot, "sendPhoto", "photo", params)

    def _m_sendDocument(self, bot: FakeBot, params: dict[str, Any]) -> Any:
        return self._send_file(bot, "sendDocument", "document", params)

    def _send_file(self, bot: FakeBot, method: str, kind: str, params: dict[str, Any]) -> Any:
        sent = self._take_file(kind, params.get(kind) or f"attach://{kind}", params.get("caption"))
        message = self._record(bot, method, params, caption=params.get("caption"), files=[sent])
        return {**message, **_file_json(sent, self.files[sent.file_id])}

    def _m_sendMediaGroup(self, bot: FakeBot, params: dict[str, Any]) -> Any:
        media = json.loads(params.get("media") or "[]")
        if not 2 <= len(media) <= 10:
            raise ApiError(400, "Bad Request: wrong number of media in the group: 2-10 are allowed")
        kinds = {item["type"] for item in media}
        if len(kinds) > 1 and "document" in kinds:
            raise ApiError(400, "Bad Request: documents can't be mixed with other media types")
        sent = [self._take_file(item["type"], item["media"], item.get("caption")) for item in media]
        group_id = str(next(self._ids) * 7919)
        messages = []
        for file in sent:
            message = self._record(bot, "sendMediaGroup", params, caption=file.caption, files=[file],
                                   media_group_id=group_id)
            messages.append({**message, "media_group_id": group_id, **_file_json(file, self.files[file.file_id])})
        return messages

    def _take_file(self, kind: str, media: str, caption: str | None) -> SentFile:
        if media.startswith("attach://"):
            upload = request.files.get(media[len("attach://"):])
            if upload is None:
                raise ApiError(400, f"Bad Request: there is no {kind} in the request")
            upload.stream.seek(0)
            content = upload.read()
            with self._state:
                stored = self._store(content, None, None, prefix="AgAC" if kind == "photo" else "BQAC")
            return SentFile(kind, stored.file_id, True, upload.filename, content, caption)
        if media not in self.files:
            raise ApiError(400, "Bad Request: wrong file identifier/HTTP URL specified")
        return SentFile(kind, media, False, None, self.files[media].content, caption)

    def _store(self, content: bytes, file_path: str | None, size: int | None, prefix: str = "BQAC") -> StoredFile:
        file_id = f"{prefix}{next(self._ids)}"
        stored = StoredFile(file_id, file_path or f"documents/file_{file_id}", content,
                            size if size is not None else len(content))
        self.files[file_id] = stored
        return stored

    def _record(self, bot: FakeBot, method: str, params: dict[str, Any], **fields: Any) -> dict[str, Any]:
        chat_id = str(params["chat_id"])
        markup = json.loads(params["reply_markup"]) if params.get("reply_markup") else None
        with self._state:
            message = SentMessage(bot.token, method, chat_id, next(self._ids), reply_markup=markup, **fields)
            self.sent.append(message)
        chat_type = ("private" if not chat_id.startswith("-")
                     else "supergroup" if chat_id.startswith("-100") else "group")
        result: dict[str, Any] = {
            "message_id": message.message_id, "date": int(time.time()),
            "from": {"id": bot.id, "is_bot": True, "first_name": bot.first_name, "username": bot.username},
            "chat": {"id": int(chat_id), "type": chat_type},
        }
        if message.text is not None:
            result["text"] = message.text
        if message.caption:
            result["caption"] = message.caption
        if markup and "inline_keyboard" in markup:
            result["reply_markup"] = markup
        return result


class _QuoteFilenames:
    """telebot writes multipart file names unquoted and raw UTF-8 (``filename=лист.pdf``), which the real Bot
    API accepts but werkzeug's parser drops; quote them before Flask parses the body."""

    _UNQUOTED = re.compile(rb'(Content-Disposition: form-data; name="[^"]*"; filename=)([^"\r\n][^\r\n]*)')

    def __init__(self, app: Any) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        if environ.get("CONTENT_TYPE", "").startswith("multipart/form-data"):
            body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
            body = self._UNQUOTED.sub(rb'\1"\2"', body)
            environ["wsgi.input"], environ["CONTENT_LENGTH"] = io.BytesIO(body), str(len(body))
        return self.app(environ, start_response)


def _file_json(sent: SentFile, stored: StoredFile) -> dict[str, Any]:
    if sent.kind == "photo":  # Telegram lists sizes smallest first; the last one is the full picture
        return {"photo": [
            {"file_id": f"{sent.file_id}-thumb", "file_unique_id": "t", "width": 90, "height": 67, "file_size": 900},
            {"file_id": sent.file_id, "file_unique_id": f"u{sent.file_id}", "width": 1280, "height": 960,
             "file_size": stored.size},
        ]}
    return {"document": {"file_id": sent.file_id, "file_unique_id": f"u{sent.file_id}", "file_name": sent.filename,
                         "mime_type": "application/octet-stream", "file_size": stored.size}}


def _too_many(wait: float) -> ApiError:
    retry_after = max(1, math.ceil(wait))
    return ApiError(429, f"Too Many Requests: retry after {retry_after}", retry_after=retry_after)


def _ok(result: Any) -> Response:
    return Response(json.dumps({"ok": True, "result": result}), content_type="application/json")


def _error(exc: ApiError) -> Response:
    body: dict[str, Any] = {"ok": False, "error_code": exc.code, "description": exc.description}
    if exc.parameters:
        body["parameters"] = exc.parameters
    return Response(json.dumps(body), status=exc.code, content_type="application/json")
