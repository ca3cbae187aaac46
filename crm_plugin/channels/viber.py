"""The Viber adapter (REST Bot API through viberbot).

Credentials: ``token`` (the bot's auth token), ``name`` (the sender name shown on every message, max 28
characters), optional ``avatar`` (URL), optional ``welcome_text`` / ``welcome_button`` (the conversation_started
answer). Viber has no separate webhook secret: callbacks are signed with the token itself.

Viber fetches media by URL and cannot receive an upload, so sending files needs ``media_url``: a callable
turning a CRM file id into a public, signed URL the plugin serves (``channel_for(..., media_url=...)``).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

import requests
from viberbot import Api, BotConfiguration
from viberbot.api.messages.message import Message

from ..core.chat import FileRef, LocationReply, MediaReply, Reply, StatsReply, TextReply
from ..core.i18n import N_
from ..core.models import Bot, Platform
from . import viber_inbound, viber_outbound
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
from .http_fetch import fetch_limited
from .registry import register
from .viber_outbound import ViberApiError, ViberHttpError, ViberRequestSender

SIGNATURE_HEADER = "X-Viber-Content-Signature"
DEFAULT_NAME = "CRM"
WELCOME_TEXT = "Здравствуйте! Нажмите «Начать», чтобы подключиться к боту."
WELCOME_BUTTON = "Начать"
# Callbacks we ask for; "message" always comes. delivered/seen are left out: nothing uses read receipts.
WEBHOOK_EVENTS = ["failed", "subscribed", "unsubscribed", "conversation_started"]


@register
class ViberChannel(Channel):
    platform: ClassVar[Platform] = Platform.VIBER
    label: ClassVar[str] = "Viber"
    credential_fields: ClassVar[tuple[CredentialField, ...]] = (
        CredentialField("token", N_("Токен"), N_("partners.viber.com → Info → Token")),)
    api_url_setting: ClassVar[str | None] = "viber_api_url"
    media_by_url: ClassVar[bool] = True  # Viber fetches pictures and files by URL, it takes no upload
    per_chat_rate: ClassVar[float] = 1.0
    # Viber publishes no per-bot send rate, only "100 messages an hour to one person without a reply"
    # (status 12). 10 a second keeps a burst of job notices well clear of its throttling.
    per_bot_rate: ClassVar[float] = 10.0

    def __init__(self, credentials: Mapping[str, str], *, api_url: str, webhook_secret: str | None = None,
                 timeout: float = 10.0, media_url: Callable[[int], str] | None = None) -> None:
        super().__init__(credentials, api_url=api_url, webhook_secret=webhook_secret, timeout=timeout)
        self.token = self.credentials.get("token", "")
        self.name = (self.credentials.get("name") or DEFAULT_NAME)[:28]
        self.avatar = self.credentials.get("avatar") or None
        self.media_url = media_url
        self._session = requests.Session()
        self.api = Api(BotConfiguration(self.token, self.name, self.avatar))
        # The hook that points viberbot at api_url (see ViberRequestSender): the Api and its MessageSender
        # share one request sender object, so both references are replaced.
        sender = ViberRequestSender(logging.getLogger("viber.bot.api"), api_url, self.api._bot_configuration,
                                    timeout=timeout, session=self._session)
        self.api._request_sender = sender
        self.api._message_sender._request_sender = sender

    @classmethod
    def deep_link(cls, bot: Bot, token: str) -> str | None:
        return f"viber://pa?chatURI={bot.username or ''}&context={token}"

    @classmethod
    def stored_credentials(cls, credentials: Mapping[str, str], identity: BotIdentity | None) -> dict[str, str]:
        data = dict(credentials)
        if identity is not None:
            data.setdefault("name", (identity.name or "")[:28])  # Viber shows it as the sender of every message
        return data

    # --- inbound ------------------------------------------------------------------------------------
    def verify(self, request: WebhookRequest) -> bool:
        signature = request.headers.get(SIGNATURE_HEADER)
        if not signature or not self.token:
            return False
        expected = hmac.new(self.token.encode(), request.body, hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected.encode(), signature.strip().lower().encode())

    def parse(self, request: WebhookRequest) -> ParsedRequest:
        welcome = viber_outbound.welcome_message(
            self.name, self.avatar, self.credentials.get("welcome_text") or WELCOME_TEXT,
            self.credentials.get("welcome_button") or WELCOME_BUTTON)
        return viber_inbound.parse_callback(viber_inbound.load(request.body), welcome=welcome)

    # --- outbound -----------------------------------------------------------------------------------
    def send(self, chat_id: str, reply: Reply, files: FileStore, *, message_key: int | None = None) -> list[str]:
        # ``message_key`` is unused: send_message has no idempotency key (tracking_data is only echoed back).
        if isinstance(reply, TextReply):
            messages: list[Message] = [viber_outbound.render_text(reply)]
        elif isinstance(reply, MediaReply):
            messages = viber_outbound.render_media(reply, files, self.media_url)
        elif isinstance(reply, LocationReply):
            messages = viber_outbound.render_location(reply)
        elif isinstance(reply, StatsReply):
            messages = viber_outbound.render_stats(reply, files)
        else:
            raise SendError(f"Viber cannot send {type(reply).__name__}", permanent=True)
        for message in messages:
            if not message.validate():  # viberbot would raise a bare Exception; say what is wrong instead
                raise SendError(f"Viber refuses this message: {message}", permanent=True)
        tokens: list[str] = []
        for message in messages:
            try:
                tokens.extend(str(token) for token in self.api.send_messages(chat_id, [message]))
            except (ViberApiError, ViberHttpError) as exc:
                raise viber_outbound.send_error(exc) from exc
        return tokens

    def download(self, file: FileRef) -> bytes:
        return fetch_limited(self._session, file.file_id, timeout=self.timeout)

    # --- account and webhook --------------------------------------------------------------------------
    def check(self) -> BotIdentity:
        info = self._account_info()
        return BotIdentity(id=str(info.get("id", "")), name=str(info.get("name", "")), username=info.get("uri"))

    def set_webhook(self, url: str, secret: str) -> None:
        # ``secret`` is unused: Viber signs callbacks with the bot token, there is nothing else to register.
        try:
            self.api.set_webhook(url, webhook_events=WEBHOOK_EVENTS)
        except (ViberApiError, ViberHttpError) as exc:
            raise CredentialsError(_admin_words(exc)) from exc

    def webhook_info(self) -> WebhookInfo:
        info = self._account_info()
        extra: dict[str, Any] = {key: info[key] for key in ("event_types", "subscribers_count") if key in info}
        return WebhookInfo(url=info.get("webhook") or None, extra=extra)

    def _account_info(self) -> dict[str, Any]:
        try:
            return self.api.get_account_info()  # type: ignore[no-any-return]
        except (ViberApiError, ViberHttpError) as exc:
            raise CredentialsError(_admin_words(exc)) from exc


# Viber's status codes (its REST API's "status"), as the admin reads them.
_STATUS_WORDS = {
    1: "Viber не принял адрес вебхука: нужен публичный адрес https://",
    2: "Viber отклонил токен: проверьте, что он скопирован из настроек бота целиком",
    7: "Viber заблокировал этого бота",
    8: "Viber не нашёл этого бота: проверьте токен",
    9: "Viber приостановил этого бота",
    12: "Viber просит подождать: слишком много запросов, попробуйте через минуту",
}


def _admin_words(exc: Exception) -> str:
    """Russian for the admin; Viber's own English words go to the log only."""
    logging.getLogger(__name__).info("viber refused a settings call: %s", exc)
    if isinstance(exc, ViberApiError):
        return _STATUS_WORDS.get(exc.status, f"Viber ответил ошибкой с кодом {exc.status}: попробуйте позже "
                                             "или проверьте настройки бота")
    return "Viber недоступен: сервер не ответил. Проверьте адрес API и доступ в интернет"


__all__ = ["ViberChannel"]
