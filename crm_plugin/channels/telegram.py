"""The Telegram channel, over pyTelegramBotAPI (telebot).

Credentials: ``{"token": "123456:ABC..."}``. ``api_url`` is the Bot API server ("https://api.telegram.org",
a local Bot API server, or a fake in tests); see telegram_transport for how each channel reaches its own.

Callback buttons: Telegram shows a spinner on a pressed inline button until the bot answers the
callback query. Parsing stays pure, so answering is a separate step: call ``acknowledge(inbound)`` once
the press is accepted (the webhook layer or the worker does); it is a no-op for other events.

Polling: getUpdates refuses to work while a webhook is set (409 Conflict); call ``prepare_for_polling()``
(``delete_webhook()``) first. ``poll`` never deletes the webhook by itself, so a bot switched to polling by
mistake fails loudly.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from typing import Any, TypeVar

import telebot
from telebot import apihelper, types

from ..core.chat import (
    ButtonPress,
    FileKindOut,
    FileRef,
    Inbound,
    Keyboard,
    LocationReply,
    MediaReply,
    OutFile,
    Reply,
    StatsReply,
    TextReply,
)
from ..core.crypto import webhook_secret_matches
from ..core.i18n import N_
from ..core.models import Bot, Platform
from . import telegram_render as render
from .base import (
    BotIdentity,
    Channel,
    CredentialField,
    CredentialsError,
    FileStore,
    ParsedRequest,
    SendError,
    WebhookInfo,
    WebhookRequest,
)
from .registry import register
from .stats_reply import ChartLocks, split_caption
from .telegram_errors import CALL_ERRORS, send_error
from .telegram_parse import parse_body, parse_update
from .telegram_transport import Route, bound

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
DOWNLOAD_LIMIT = 20 * 1024 * 1024  # the Bot API serves files up to 20 MB
CAPTION_LIMIT = 1024  # characters of a photo's caption
# my_chat_member: the person blocked (or unblocked) the bot; their link becomes UNREACHABLE at once.
ALLOWED_UPDATES = ["message", "callback_query", "my_chat_member"]
T = TypeVar("T")


class FileTooLarge(ValueError):
    """The person sent a file bigger than the Bot API lets a bot download (20 MB)."""


@register
class TelegramChannel(Channel):
    platform = Platform.TELEGRAM
    label = "Telegram"
    credential_fields = (CredentialField("token", N_("Токен бота"), N_("Выдаёт @BotFather: 123456:ABC…")),)
    api_url_setting = "telegram_api_url"
    per_chat_rate = 1.0
    per_bot_rate = 30.0

    def __init__(self, credentials: Mapping[str, str], *, api_url: str = "https://api.telegram.org",
                 webhook_secret: str | None = None, timeout: float = 10.0) -> None:
        super().__init__(credentials, api_url=api_url, webhook_secret=webhook_secret, timeout=timeout)
        token = self.credentials.get("token") or ""
        self.route = Route(api_url, token, timeout)
        self.bot = telebot.TeleBot(token, threaded=False)
        self._chart_locks = ChartLocks()  # a chart's first upload, waited for by the other threads

    @classmethod
    def deep_link(cls, bot: Bot, token: str) -> str | None:
        return f"https://t.me/{(bot.username or '').lstrip('@')}?start={token}"

    @classmethod
    def input_keyboard(cls, buttons: Keyboard) -> bool:
        return render.needs_reply_keyboard(buttons)  # a contact or location request: a reply keyboard

    # --- inbound -------------------------------------------------------------------------------------
    def verify(self, request: WebhookRequest) -> bool:
        # self.webhook_secret is the stored digest of the secret given to setWebhook: digests are compared.
        return webhook_secret_matches(request.headers.get(SECRET_HEADER), self.webhook_secret)

    def parse(self, request: WebhookRequest) -> ParsedRequest:
        return parse_body(request.body)

    def acknowledge(self, inbound: Inbound) -> None:
        """Answer a pressed inline button so its spinner stops; best effort (a late answer is refused)."""
        event = inbound.event
        if not isinstance(event, ButtonPress) or not event.callback_id:
            return
        try:
            self._call("answerCallbackQuery", self.bot.answer_callback_query, event.callback_id)
        except SendError as exc:
            log.warning("callback query %s not answered: %s", event.callback_id, exc)

    # --- outbound ------------------------------------------------------------------------------------
    def send(self, chat_id: str, reply: Reply, files: FileStore, *, message_key: int | None = None) -> list[str]:
        # ``message_key`` is unused: the Bot API has no idempotency key (no random_id as in MTProto's
        # messages.sendMessage), so a send retried after a lost answer can show twice.
        if isinstance(reply, TextReply):
            return [self._send_text(chat_id, reply)]
        if isinstance(reply, MediaReply):
            return self._send_media(chat_id, reply, files)
        if isinstance(reply, LocationReply):
            message = self._call("sendLocation", self.bot.send_location, chat_id, reply.latitude, reply.longitude)
            return [str(message.message_id)]
        if isinstance(reply, StatsReply):
            return self._send_stats(chat_id, reply, files)
        raise TypeError(f"not a reply: {reply!r}")

    def _send_text(self, chat_id: str, reply: TextReply) -> str:
        markup = render.keyboard(reply.buttons)  # a too-long payload fails here, before any call
        if markup is None and reply.remove_keyboard:
            markup = types.ReplyKeyboardRemove()
        message = self._call("sendMessage", self.bot.send_message, chat_id, reply.text, reply_markup=markup)
        return str(message.message_id)

    def _send_media(self, chat_id: str, reply: MediaReply, files: FileStore) -> list[str]:
        ids: list[str] = []
        caption = reply.caption
        for run in render.group_by_kind(reply.files):
            for chunk in render.album_chunks(run):
                media: list[str | types.InputFile] = [files.cached_id(f.crm_file_id) or self._upload(f, files)
                                                      for f in chunk]
                try:
                    sent = self._send_chunk(chat_id, chunk, media, caption)
                except SendError as exc:
                    # A remembered file id this bot cannot use (another token, or expired): upload afresh once.
                    if "file identifier" not in str(exc) or all(not isinstance(m, str) for m in media):
                        raise
                    media = [self._upload(f, files) for f in chunk]
                    sent = self._send_chunk(chat_id, chunk, media, caption)
                caption = None  # the caption goes with the first message only
                for file, used, message in zip(chunk, media, sent, strict=False):
                    ids.append(str(message.message_id))
                    if not isinstance(used, str):
                        self._remember(file, message, files)
        return ids

    def _send_chunk(self, chat_id: str, chunk: list[OutFile], media: list[str | types.InputFile],
                    caption: str | None) -> list[types.Message]:
        if len(chunk) == 1:
            return [self._send_one(chat_id, chunk[0], media[0], caption)]
        items = [render.input_media(f, m, caption if i == 0 else None)
                 for i, (f, m) in enumerate(zip(chunk, media, strict=True))]
        return self._call("sendMediaGroup", self.bot.send_media_group, chat_id, items)

    def _send_one(self, chat_id: str, file: OutFile, media: Any, caption: str | None) -> types.Message:
        if file.kind is FileKindOut.PHOTO:
            return self._call("sendPhoto", self.bot.send_photo, chat_id, media, caption=caption)
        return self._call("sendDocument", self.bot.send_document, chat_id, media, caption=caption)

    def _send_stats(self, chat_id: str, reply: StatsReply, files: FileStore) -> list[str]:
        """The chart with the text as its caption (the rest of a long text follows, buttons on the last
        message); the text alone when there is no chart to send. Each chart is uploaded once per bot: the
        threads sending it meanwhile wait for the file_id of the first upload."""
        key = reply.chart_key
        caption, rest = split_caption(reply.text, CAPTION_LIMIT)
        markup = None if rest else render.keyboard(reply.buttons)
        message = None
        if key:
            file_id = files.chart_cached_id(key)
            if file_id is not None:
                try:
                    message = self._call("sendPhoto", self.bot.send_photo, chat_id, file_id,
                                         caption=caption or None, reply_markup=markup)
                except SendError as exc:
                    if "file identifier" not in str(exc):  # else: an id this bot cannot use, upload afresh
                        raise
            if message is None:
                with self._chart_locks(key):
                    message = self._upload_chart(chat_id, key, caption, markup, files)
        if message is None:
            return [self._send_text(chat_id, TextReply(reply.text, reply.buttons))]
        ids = [str(message.message_id)]
        if rest:
            ids.append(self._send_text(chat_id, TextReply(rest, reply.buttons)))
        return ids

    def _upload_chart(self, chat_id: str, key: str, caption: str, markup: render.Markup | None,
                      files: FileStore) -> types.Message | None:
        file_id = files.chart_cached_id(key)  # another thread's upload, while this one waited
        if file_id is not None:
            return self._call("sendPhoto", self.bot.send_photo, chat_id, file_id, caption=caption or None,
                              reply_markup=markup)
        data = files.chart_png(key)
        if data is None:
            return None
        photo = types.InputFile(io.BytesIO(data), file_name="chart.png")
        message = self._call("sendPhoto", self.bot.send_photo, chat_id, photo, caption=caption or None,
                             reply_markup=markup)
        if message.photo:
            files.remember_chart(key, max(message.photo, key=lambda s: s.width * s.height).file_id)
        return message

    @staticmethod
    def _upload(file: OutFile, files: FileStore) -> types.InputFile:
        return types.InputFile(io.BytesIO(files.read(file.crm_file_id)), file_name=file.name)

    @staticmethod
    def _remember(file: OutFile, message: types.Message, files: FileStore) -> None:
        if file.kind is FileKindOut.PHOTO and message.photo:
            files.remember(file.crm_file_id, max(message.photo, key=lambda s: s.width * s.height).file_id)
        elif message.document is not None:
            files.remember(file.crm_file_id, message.document.file_id)

    def download(self, file: FileRef) -> bytes:
        if file.size is not None and file.size > DOWNLOAD_LIMIT:
            raise FileTooLarge(_too_large(file.size))
        try:
            info = self._call("getFile", self.bot.get_file, file.file_id)
        except SendError as exc:
            if "file is too big" in str(exc):  # the Bot API's own refusal of files over 20 MB
                raise FileTooLarge(_too_large(file.size or DOWNLOAD_LIMIT + 1)) from exc
            raise
        if info.file_size is not None and info.file_size > DOWNLOAD_LIMIT:
            raise FileTooLarge(_too_large(info.file_size))
        if not info.file_path:
            raise SendError(f"Telegram getFile: no file_path for {file.file_id}", permanent=True)
        try:
            response = self.route.get(self.route.file_url(info.file_path))
        except CALL_ERRORS as exc:
            raise send_error(exc, "file download") from exc
        if response.status_code != 200:
            raise SendError(f"Telegram file download: HTTP {response.status_code}",
                            permanent=response.status_code < 500)
        return response.content

    def group_rate(self, chat_id: str) -> float | None:
        return 20 / 60 if str(chat_id).startswith("-") else None

    # --- bot settings ----------------------------------------------------------------------------------
    def check(self) -> BotIdentity:
        me = self._admin_call(self.bot.get_me)
        return BotIdentity(id=str(me.id), name=me.first_name, username=me.username)

    def set_webhook(self, url: str, secret: str) -> None:
        self._admin_call(self.bot.set_webhook, url=url, secret_token=secret, allowed_updates=ALLOWED_UPDATES)

    def delete_webhook(self, drop_pending_updates: bool = False) -> None:
        """Needed before ``poll``: Telegram refuses getUpdates while a webhook is set."""
        self._admin_call(self.bot.delete_webhook, drop_pending_updates=drop_pending_updates)

    def prepare_for_polling(self) -> None:
        """Polling replaces the webhook: Telegram refuses getUpdates while one is set."""
        self.delete_webhook()

    def webhook_info(self) -> WebhookInfo:
        info = self._admin_call(self.bot.get_webhook_info)
        last_error_at = (datetime.fromtimestamp(info.last_error_date, timezone.utc).isoformat()
                         if info.last_error_date else None)
        return WebhookInfo(url=info.url or None, pending_updates=info.pending_update_count,
                           last_error=info.last_error_message or None, last_error_at=last_error_at,
                           extra={"allowed_updates": info.allowed_updates, "max_connections": info.max_connections})

    def poll(self, offset: int | None, timeout: int) -> tuple[list[ParsedRequest], int | None]:
        """One getUpdates long poll (``timeout`` seconds, at least 1); returns the requests and the next offset.

        Passing the returned offset to the next call confirms the updates received now.
        """
        raw = self._call("getUpdates", apihelper.get_updates, self.route.token, offset=offset,
                         allowed_updates=ALLOWED_UPDATES, long_polling_timeout=max(1, int(timeout)))
        parsed: list[ParsedRequest] = []
        for update in raw or []:
            update_id = update.get("update_id") if isinstance(update, dict) else None
            if isinstance(update_id, int):
                offset = max(offset or 0, update_id + 1)
            try:
                parsed.append(parse_update(update))
            except Exception as exc:  # noqa: BLE001 - one broken update must not stall the queue
                log.warning("skipped a malformed Telegram update %r: %s", update_id, exc)
        return parsed, offset

    # --- calls -----------------------------------------------------------------------------------------
    def _call(self, method: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        if not self.route.token:
            raise SendError("Telegram: the bot has no token", permanent=True)
        with bound(self.route):
            try:
                return fn(*args, **kwargs)
            except CALL_ERRORS as exc:
                raise send_error(exc, method) from exc

    def _admin_call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """A settings call; failures become CredentialsError in plain Russian for the admin."""
        if not self.route.token:
            raise CredentialsError("Не задан токен бота Telegram: скопируйте его из @BotFather")
        try:
            return self._call(fn.__name__, fn, *args, **kwargs)
        except SendError as exc:
            cause = exc.__cause__
            if isinstance(cause, apihelper.ApiTelegramException):
                log.info("telegram refused a settings call: %s", cause.description)  # its English words
                if cause.error_code in (401, 404):
                    raise CredentialsError("Telegram отклонил токен: такого бота нет или токен отозван. "
                                           "Скопируйте токен из @BotFather заново") from exc
                raise CredentialsError(f"Telegram ответил ошибкой с кодом {cause.error_code}: попробуйте "
                                       "позже") from exc
            log.info("telegram settings call failed: %s", exc)  # the library's English words: for the log
            raise CredentialsError(
                "Не удалось связаться с Telegram: сервер не ответил. Проверьте адрес API и доступ в интернет"
            ) from exc


def _too_large(size: int) -> str:
    return f"файл {size / 1024 / 1024:.1f} МБ больше 20 МБ — Telegram не отдаёт боту такие файлы"
