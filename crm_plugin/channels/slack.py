"""The Slack adapter (Events API + Web API through slack_sdk).

Credentials: ``token`` (the Bot User OAuth Token, xoxb-...; ``bot_token`` is accepted too),
``signing_secret`` (verifies Events API and interactivity requests),
optional ``app_token`` (xapp-..., Socket Mode: ``poll`` receives events without a public URL, see slack_socket).

Slack has no API to register the webhook: the Request URL is set in the app's settings (Event Subscriptions
and Interactivity & Shortcuts), so ``set_webhook`` does nothing and ``webhook_info`` says where to set it.
"""

from __future__ import annotations

import http.client
import logging
from collections.abc import Mapping
from typing import Any, ClassVar

import requests
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.signature import SignatureVerifier

from ..core.chat import FileRef, LocationReply, MediaReply, Reply, StatsReply, TextReply
from ..core.i18n import N_
from ..core.models import Platform
from . import slack_inbound, slack_outbound
from .base import (
    BotIdentity,
    Channel,
    CredentialField,
    CredentialsError,
    FileStore,
    MalformedRequest,
    ParsedRequest,
    SendError,
    WebhookInfo,
    WebhookRequest,
)
from .http_fetch import fetch_limited
from .registry import register
from .slack_socket import SocketModeReceiver

log = logging.getLogger(__name__)

WEBHOOK_NOTE = ("Slack has no API for this: set the Request URL in the Slack app settings "
                "(Event Subscriptions and Interactivity & Shortcuts)")
# What a Web API call can raise: SlackApiError (a SlackClientError) for Slack's answers; SlackRequestError for a
# failed upload step; OSError/HTTPException for time-outs, refused and dropped connections.
_ERRORS = (SlackClientError, OSError, http.client.HTTPException)


@register
class SlackChannel(Channel):
    platform: ClassVar[Platform] = Platform.SLACK
    label: ClassVar[str] = "Slack"
    credential_fields: ClassVar[tuple[CredentialField, ...]] = (
        CredentialField("token", N_("Bot User OAuth Token"), N_("xoxb-…: OAuth & Permissions")),
        CredentialField("signing_secret", N_("Signing Secret"), N_("Basic Information → App Credentials")),
        CredentialField("app_token", N_("App-Level Token (Socket Mode)"),
                        N_("xapp-…: Basic Information → App-Level Tokens (connections:write). Только для "
                           "работы без публичного адреса: flask crm-plugin poll"), required=False),
    )
    api_url_setting: ClassVar[str | None] = "slack_api_url"
    secret_body_fields = ("token",)  # the app's (deprecated) verification token rides in every Events API body
    per_chat_rate: ClassVar[float] = 1.0  # chat.postMessage: about one message a second per channel

    def __init__(self, credentials: Mapping[str, str], *, api_url: str, webhook_secret: str | None = None,
                 timeout: float = 10.0) -> None:
        super().__init__(credentials, api_url=api_url, webhook_secret=webhook_secret, timeout=timeout)
        self.bot_token = self.credentials.get("token") or self.credentials.get("bot_token") or ""
        # The signing secret is a credential. (The bot row's webhook_secret is only a digest now: no HMAC key.)
        self.signing_secret = self.credentials.get("signing_secret") or ""
        base_url = api_url if api_url.endswith("/") else api_url + "/"  # urljoin drops a last segment without "/"
        # No retry handlers: the outbox owns retries and back-off, one attempt per send keeps them countable.
        self.client = WebClient(token=self.bot_token, base_url=base_url, retry_handlers=[],
                                timeout=timeout)  # type: ignore[arg-type]  # urlopen takes a float
        self._session = requests.Session()
        self.app_token = self.credentials.get("app_token") or ""
        self._socket: SocketModeReceiver | None = None  # opened by the first poll()

    @classmethod
    def can_poll(cls, credentials: Mapping[str, str]) -> bool:
        """Socket Mode needs the app-level token (xapp-...); without it the bot has only the Events API."""
        return bool(str(credentials.get("app_token") or "").strip())

    # --- inbound ------------------------------------------------------------------------------------
    def verify(self, request: WebhookRequest) -> bool:
        """v0 signature over ``v0:{timestamp}:{body}``; stale (> 300 s off) or forged requests are refused.
        slack_sdk's SignatureVerifier compares with hmac.compare_digest."""
        if not self.signing_secret.strip():
            return False
        try:
            request.body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise MalformedRequest("Slack request body is not UTF-8") from exc
        timestamp = (request.headers.get("X-Slack-Request-Timestamp") or "").strip()
        signature = request.headers.get("X-Slack-Signature")
        # Checked before slack_sdk sees them: it overflows on a 400-digit timestamp and compare_digest refuses
        # a non-ASCII signature with TypeError.
        if not slack_inbound.timestamp_is_readable(timestamp) or signature is None or not signature.isascii():
            return False
        verifier = SignatureVerifier(self.signing_secret)
        return verifier.is_valid(body=request.body, timestamp=timestamp, signature=signature)

    def parse(self, request: WebhookRequest) -> ParsedRequest:
        return slack_inbound.parse_body(request.body)

    # --- outbound -----------------------------------------------------------------------------------
    def send(self, chat_id: str, reply: Reply, files: FileStore, *, message_key: int | None = None) -> list[str]:
        # ``message_key`` is unused: chat.postMessage and files_upload_v2 take no idempotency key.
        try:
            if isinstance(reply, TextReply):
                return [self._post(chat_id, slack_outbound.escape(reply.text), slack_outbound.text_blocks(reply))]
            if isinstance(reply, LocationReply):
                return [self._post(chat_id, slack_outbound.map_link_text(reply), None)]
            if isinstance(reply, MediaReply):
                return self._upload(chat_id, reply, files)
            if isinstance(reply, StatsReply):
                return self._send_stats(chat_id, reply, files)
        except _ERRORS as exc:
            raise slack_outbound.send_error(exc) from exc
        raise SendError(f"Slack cannot send {type(reply).__name__}", permanent=True)

    def _post(self, chat_id: str, text: str, blocks: list[dict[str, Any]] | None) -> str:
        # ``text``: Slack mrkdwn, already escaped; with blocks it is the notification and screen-reader fallback.
        channel, thread_ts = slack_outbound.split_chat_id(chat_id)  # a lead's auto-reply goes in its thread
        response = self.client.chat_postMessage(channel=channel, text=text, blocks=blocks or None,
                                                unfurl_links=False, thread_ts=thread_ts)
        return str(response["ts"])

    def _upload(self, channel: str, reply: MediaReply, files: FileStore) -> list[str]:
        # files_upload_v2: files.getUploadURLExternal per file, a POST of the bytes to each upload URL, then
        # one files.completeUploadExternal that shares them all in the channel with the caption.
        uploads = [{"file": files.read(out.crm_file_id), "filename": out.name, "title": out.name}
                   for out in reply.files]
        response = self.client.files_upload_v2(file_uploads=uploads, channel=channel,
                                               initial_comment=reply.caption or None)
        return [str(item["id"]) for item in response.get("files") or []]

    def _send_stats(self, chat_id: str, reply: StatsReply, files: FileStore) -> list[str]:
        """The chart uploaded into the person's direct message (files_upload_v2), the text as its comment, or
        as a following message when it has buttons (a file comment carries none); the text alone without a
        chart."""
        data = files.chart_png(reply.chart_key) if reply.chart_key else None
        text = TextReply(reply.text, reply.buttons)
        if data is None:
            return [self._post(chat_id, slack_outbound.escape(reply.text), slack_outbound.text_blocks(text))]
        channel = self._direct_channel(chat_id)
        comment = None if reply.buttons or len(reply.text) > slack_outbound.SECTION_LIMIT else reply.text
        response = self.client.files_upload_v2(file=data, filename="chart.png", title="chart.png",
                                               channel=channel, initial_comment=comment)
        ids = [str(item["id"]) for item in response.get("files") or []]
        if comment is None:
            ids.append(self._post(channel, slack_outbound.escape(reply.text), slack_outbound.text_blocks(text)))
        return ids

    def _direct_channel(self, chat_id: str) -> str:
        """The channel id of a person's direct message: files.completeUploadExternal takes channel ids only,
        so a user id (U…/W…) is opened as a DM with conversations.open."""
        if not chat_id.startswith(("U", "W")):
            return chat_id
        return str(self.client.conversations_open(users=chat_id)["channel"]["id"])

    def download(self, file: FileRef) -> bytes:
        # url_private(_download) needs the bot token; Slack answers a login page without it.
        return fetch_limited(self._session, file.file_id, timeout=self.timeout,
                             headers={"Authorization": f"Bearer {self.bot_token}"})

    def user_profile(self, user_id: str) -> dict[str, Any]:
        """users.info for a lead's author: id, name (display name, else real name), real_name, email, phone.
        E-mail needs the users:read.email scope; it is None without it. Raises SendError like send()."""
        try:
            user = self.client.users_info(user=user_id)["user"]
        except _ERRORS as exc:
            raise slack_outbound.send_error(exc) from exc
        profile = user.get("profile") or {}
        real_name = profile.get("real_name") or user.get("real_name") or ""
        return {"id": user.get("id", user_id), "name": profile.get("display_name") or real_name or user.get("name"),
                "real_name": real_name or None, "email": profile.get("email"), "phone": profile.get("phone") or None}

    def lead_channels(self) -> list[tuple[str, str]]:
        """(id, name) of the channels the bot is in (conversations.list, public and private, not archived), for
        the admin to choose which make leads. Raises SendError like send()."""
        found: list[tuple[str, str]] = []
        cursor = None
        try:
            for _page in range(50):  # 200 a page: 10 000 channels is more than any window company has
                response = self.client.conversations_list(types="public_channel,private_channel",
                                                          exclude_archived=True, limit=200, cursor=cursor)
                found += [(str(c["id"]), str(c.get("name") or c["id"])) for c in response.get("channels") or []
                          if c.get("is_member")]
                cursor = (response.get("response_metadata") or {}).get("next_cursor")
                if not cursor:
                    break
        except _ERRORS as exc:
            raise slack_outbound.send_error(exc) from exc
        return sorted(found, key=lambda item: item[1])

    # --- account and webhook --------------------------------------------------------------------------
    def check(self) -> BotIdentity:
        """auth.test: the bot user's id (what mentions and events carry), "user (team)" and the user name."""
        try:
            response = self.client.auth_test()
        except _ERRORS as exc:
            raise CredentialsError(_admin_words(exc)) from exc
        if self.app_token.strip():
            self._check_app_token()
        user, team = str(response.get("user") or ""), str(response.get("team") or "")
        return BotIdentity(id=str(response.get("user_id") or response.get("bot_id") or ""),
                           name=f"{user} ({team})" if team else user, username=user or None)

    def _check_app_token(self) -> None:
        """apps.connections.open is what an app-level token is for: it answers a WebSocket URL, left unused."""
        try:
            self.client.apps_connections_open(app_token=self.app_token.strip())
        except SlackApiError as exc:
            if exc.response.status_code < 500:
                log.info("slack refused the app-level token: %s", exc)
                raise CredentialsError("Slack отклонил токен уровня приложения: нужен токен xapp-… с правом "
                                       "connections:write и включённый режим Socket Mode") from exc
            raise CredentialsError(_admin_words(exc)) from exc
        except _ERRORS as exc:
            raise CredentialsError(_admin_words(exc)) from exc

    def set_webhook(self, url: str, secret: str) -> None:
        log.info("slack: %s (wanted %s)", WEBHOOK_NOTE, url)

    def webhook_info(self) -> WebhookInfo:
        return WebhookInfo(url=None, extra={"note": WEBHOOK_NOTE})

    # --- Socket Mode (flask crm-plugin poll) ------------------------------------------------------------
    def prepare_for_polling(self) -> None:
        """Nothing to prepare: the first poll() opens the Socket Mode connection."""

    def poll(self, cursor: Any, timeout: int) -> tuple[list[ParsedRequest], list[str]]:
        """Events and clicks that came over Socket Mode within ``timeout`` seconds; pass the returned cursor
        to the next call, which acknowledges them to Slack (they are stored by then)."""
        if self._socket is None:
            if not self.app_token.strip():
                raise SendError("slack: no app-level token (xapp-...) for Socket Mode", permanent=True)
            self._socket = SocketModeReceiver(self.app_token.strip(), api_url=self.api_url, timeout=self.timeout)
        return self._socket.poll(cursor, timeout)

    def close(self) -> None:
        """Close the Socket Mode connection, if one was opened."""
        if self._socket is not None:
            self._socket.close()
            self._socket = None


# Slack's error codes for a token, as the admin reads them.
_ERROR_WORDS = {
    "invalid_auth": "Slack не узнал токен: скопируйте токен бота (xoxb-…) целиком",
    "not_authed": "Slack не получил токен: вставьте токен бота (xoxb-…)",
    "token_revoked": "Этот токен Slack отозван: выпустите новый в настройках приложения",
    "token_expired": "Срок этого токена Slack истёк: выпустите новый в настройках приложения",
    "account_inactive": "Приложение Slack удалено или отключено в рабочем пространстве",
}


def _admin_words(exc: Exception) -> str:
    """Russian for the admin; Slack's own English words go to the log only."""
    log.info("slack refused a settings call: %s", exc)
    if isinstance(exc, SlackApiError) and exc.response.status_code < 500:
        error = exc.response.get("error") if isinstance(exc.response.data, dict) else None
        return _ERROR_WORDS.get(str(error), "Slack отклонил токен: проверьте токен бота (начинается с xoxb-), "
                                            "скопируйте его целиком")
    return "Slack недоступен: сервер не ответил. Проверьте адрес API и доступ в интернет"
