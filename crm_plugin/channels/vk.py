"""The VK channel (community bot), over vk_api.

Credentials: ``{"token": community token, "group_id": "123", "secret": Callback API secret key,
"confirmation": the confirmation code VK shows for the callback server}``.

vk_api hard-codes ``https://api.vk.ru/method/``; ``VkSession`` (a requests.Session given to VkApi as
``session=``) sends those calls to ``api_url`` instead and adds our time-out, which vk_api never sets.
vk_api's own handler for error 6 (too many requests) sleeps and retries forever; we drop it so the
delivery worker decides when to retry (SendError.retry_after).

Idempotent sends: messages.send takes a ``random_id`` and VK drops a second message with the same one.
``send(..., message_key=outbox_id)`` derives it from the outbox row, so a retried send after a lost answer
is not shown twice; without a key it is random.
"""

from __future__ import annotations

import io
import logging
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import requests
import vk_api
from jconfig.memory import MemoryConfig
from vk_api.exceptions import ApiError, ApiHttpError
from vk_api.upload import VkUpload

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
from ..core.crypto import webhook_secret_digest, webhook_secret_matches
from ..core.i18n import N_
from ..core.models import Bot, Platform
from . import vk_render as render
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
from .stats_reply import ChartLocks, split_caption
from .vk_errors import CALL_ERRORS, TOO_MANY_REQUESTS, send_error
from .vk_parse import load_body, parse_event

log = logging.getLogger(__name__)

API_VERSION = "5.199"
VK_METHOD_PREFIX = "https://api.vk.ru/method/"
ATTACHMENTS_PER_MESSAGE = 10
MESSAGE_LIMIT = 4096  # characters of one messages.send text
CALLBACK_TITLE = "crm_plugin"


class VkSession(requests.Session):
    def __init__(self, method_base: str, timeout: float) -> None:
        super().__init__()
        self.method_base, self.timeout = method_base, timeout

    def request(  # type: ignore[override]
            self, method: str, url: str, *args: Any, **kwargs: Any) -> requests.Response:
        if url.startswith(VK_METHOD_PREFIX):
            url = self.method_base + url[len(VK_METHOD_PREFIX):]
        kwargs.setdefault("timeout", self.timeout)
        return super().request(method, url, *args, **kwargs)


@register
class VkChannel(Channel):
    platform = Platform.VK
    label = N_("ВКонтакте")
    credential_fields = (
        CredentialField("token", N_("Ключ доступа сообщества"), N_("Управление → Работа с API → Ключи доступа")),
        # Optional: check() fetches it (groups.getCallbackConfirmationCode) when the token may read it.
        CredentialField("confirmation", N_("Строка подтверждения"),
                        N_("Callback API: строка, которую должен вернуть сервер"), secret=False, required=False),
        CredentialField("secret", N_("Секретный ключ"), N_("Callback API: поле «Секретный ключ»")),
    )
    api_url_setting = "vk_api_url"
    secret_body_fields = ("secret",)  # the Callback API secret rides in every event's body
    per_chat_rate = 1.0
    per_bot_rate = 20.0  # API calls a second per community token

    def __init__(self, credentials: Mapping[str, str], *, api_url: str = VK_METHOD_PREFIX,
                 webhook_secret: str | None = None, timeout: float = 10.0) -> None:
        super().__init__(credentials, api_url=api_url, webhook_secret=webhook_secret, timeout=timeout)
        base = api_url.rstrip("/")
        self.session = VkSession((base if base.endswith("/method") else base + "/method") + "/", timeout)
        self.vk = vk_api.VkApi(token=self.credentials.get("token"), api_version=API_VERSION, session=self.session,
                               config=MemoryConfig)
        self.vk.RPS_DELAY = 1 / self.per_bot_rate  # vk_api spaces calls for a user token (3/s); ours may do 20/s
        self._chart_locks = ChartLocks()  # a chart's first upload, waited for by the other threads
        self.vk.error_handlers.pop(TOO_MANY_REQUESTS, None)
        self.api = self.vk.get_api()
        self.upload = VkUpload(self.vk)
        self.upload.http = self.session  # VkUpload makes a session of its own, without a time-out

    @classmethod
    def deep_link(cls, bot: Bot, token: str) -> str | None:
        club = (bot.platform_bot_id or bot.username or "").removeprefix("club").lstrip("-")
        return f"https://vk.me/club{club}?ref={token}"

    @classmethod
    def input_keyboard(cls, buttons: Keyboard) -> bool:
        return render.needs_input_keyboard(buttons)  # request buttons, or too many for under a message

    # --- inbound -------------------------------------------------------------------------------------
    def verify(self, request: WebhookRequest) -> bool:
        given = load_body(request.body).get("secret")
        if not isinstance(given, str) or not given:
            return False
        # The secret typed into VK by an admin, or the one set_webhook registered (stored as its digest).
        typed = self.credentials.get("secret")
        expected = [webhook_secret_digest(typed) if typed else None, self.webhook_secret]
        return any(webhook_secret_matches(given, digest) for digest in expected)

    def parse(self, request: WebhookRequest) -> ParsedRequest:
        return parse_event(load_body(request.body), self.credentials.get("confirmation"))

    def user_profile(self, user_id: str) -> dict[str, Any]:
        """users.get for a lead's author (crm_plugin.channels.base.ProfileLookup): id and "First Last".
        Raises SendError like send(): 5xx, error 6/10, time-outs are transient; an unknown user is permanent."""
        users = self._call("users.get", user_ids=user_id)
        if not users:
            raise SendError(f"VK users.get: no user {user_id}", permanent=True)
        user = users[0]
        name = " ".join(str(part) for part in (user.get("first_name"), user.get("last_name")) if part)
        return {"id": str(user.get("id", user_id)), "name": name or None}

    def acknowledge(self, inbound: Inbound) -> None:
        """Answer a pressed callback button (messages.sendMessageEventAnswer) so its spinner stops."""
        event = inbound.event
        if not isinstance(event, ButtonPress) or not event.callback_id:
            return
        try:
            self._call("messages.sendMessageEventAnswer", event_id=event.callback_id,
                       user_id=inbound.sender.user_id, peer_id=inbound.sender.chat_id)
        except SendError as exc:
            log.warning("VK message event %s not answered: %s", event.callback_id, exc)

    # --- outbound ------------------------------------------------------------------------------------
    def send(self, chat_id: str, reply: Reply, files: FileStore, *, message_key: int | None = None) -> list[str]:
        if isinstance(reply, TextReply):
            keyboard = render.keyboard_json(reply.buttons)
            if keyboard is None and reply.remove_keyboard:
                keyboard = render.empty_keyboard()
            return [self._send_message(chat_id, message_key, 0, message=reply.text, keyboard=keyboard)]
        if isinstance(reply, MediaReply):
            attachments = [files.cached_id(f.crm_file_id) or self._upload(chat_id, f, files) for f in reply.files]
            ids = []
            for part, start in enumerate(range(0, len(attachments), ATTACHMENTS_PER_MESSAGE)):
                chunk = attachments[start:start + ATTACHMENTS_PER_MESSAGE]
                ids.append(self._send_message(chat_id, message_key, part, attachment=",".join(chunk),
                                              message=reply.caption if part == 0 else None))
            return ids
        if isinstance(reply, LocationReply):
            return [self._send_message(chat_id, message_key, 0, lat=reply.latitude, long=reply.longitude,
                                       message=reply.title)]
        if isinstance(reply, StatsReply):
            return self._send_stats(chat_id, reply, files, message_key)
        raise TypeError(f"not a reply: {reply!r}")

    def _send_message(self, chat_id: str, message_key: int | None, part: int, **fields: Any) -> str:
        random_id = (message_key * 16 + part) % 2**31 if message_key is not None else secrets.randbelow(2**31)
        values = {k: v for k, v in fields.items() if v is not None}
        return str(self._call("messages.send", peer_id=chat_id, random_id=random_id, **values))

    def _send_stats(self, chat_id: str, reply: StatsReply, files: FileStore, message_key: int | None) -> list[str]:
        """The chart as a photo attachment (uploaded once per bot: photos.getMessagesUploadServer, the upload,
        photos.saveMessagesPhoto) with the text and keyboard in the same message; a text longer than a
        message goes on in a second one. The text alone without a chart."""
        key = reply.chart_key
        attachment = None
        if key:
            attachment = files.chart_cached_id(key)
            if attachment is None:
                with self._chart_locks(key):
                    attachment = files.chart_cached_id(key) or self._upload_chart(chat_id, key, files)
        text, rest = split_caption(reply.text, MESSAGE_LIMIT)
        keyboard = render.keyboard_json(reply.buttons)
        ids = [self._send_message(chat_id, message_key, 0, message=text or None, attachment=attachment,
                                  keyboard=None if rest else keyboard)]
        if rest:
            ids.append(self._send_message(chat_id, message_key, 1, message=rest, keyboard=keyboard))
        return ids

    def _upload_chart(self, chat_id: str, key: str, files: FileStore) -> str | None:
        data = files.chart_png(key)
        if data is None:
            return None
        stream = io.BytesIO(data)
        stream.name = "chart.png"  # vk_api names the upload after it
        try:
            attachment = _attachment("photo", self.upload.photo_messages(stream, peer_id=chat_id)[0])
        except CALL_ERRORS as exc:
            raise send_error(exc, "upload of a chart") from exc
        files.remember_chart(key, attachment)
        return attachment

    def _upload(self, chat_id: str, file: OutFile, files: FileStore) -> str:
        data = io.BytesIO(files.read(file.crm_file_id))
        data.name = file.name  # vk_api names the upload after it
        try:
            if file.kind is FileKindOut.PHOTO:
                photo = self.upload.photo_messages(data, peer_id=chat_id)[0]
                attachment = _attachment("photo", photo)
            else:
                saved = self.upload.document_message(data, title=file.name, peer_id=chat_id)
                attachment = _attachment("doc", saved.get("doc") or saved)
        except CALL_ERRORS as exc:
            raise send_error(exc, f"upload of {file.name}") from exc
        files.remember(file.crm_file_id, attachment)
        return attachment

    def download(self, file: FileRef) -> bytes:
        return fetch_limited(self.session, file.file_id, timeout=self.timeout)

    # --- bot settings ----------------------------------------------------------------------------------
    def check(self) -> BotIdentity:
        answer = self._admin_call("groups.getById", **self._group())
        group = (answer.get("groups") or [{}])[0] if isinstance(answer, dict) else answer[0]
        return VkIdentity(id=str(group["id"]), name=group.get("name", ""), username=group.get("screen_name"),
                          confirmation=self._fetched_confirmation(str(group["id"])))

    def _fetched_confirmation(self, group_id: str) -> str | None:
        """The Callback API confirmation code, when the token may read it (a community token with the
        «Управление сообществом» right); None otherwise: the admin types it from the community's settings."""
        try:
            return str(self._call("groups.getCallbackConfirmationCode", group_id=group_id)["code"])
        except (SendError, KeyError, TypeError) as exc:
            log.info("VK: the confirmation code was not fetched (%s); the typed one is kept", exc)
            return None

    @classmethod
    def stored_credentials(cls, credentials: Mapping[str, str], identity: BotIdentity | None) -> dict[str, str]:
        """The typed credentials; the confirmation code VK gave on check() replaces a typed one."""
        stored = dict(credentials)
        fetched = identity.confirmation if isinstance(identity, VkIdentity) else None
        if fetched:
            stored["confirmation"] = fetched
        if identity is not None and identity.id and not stored.get("group_id"):
            stored["group_id"] = identity.id
        return stored

    def set_webhook(self, url: str, secret: str) -> None:
        """Add (or update) our callback server and subscribe it to messages and button presses."""
        group_id = self._group_id()
        servers = self._admin_call("groups.getCallbackServers", group_id=group_id).get("items", [])
        ours = next((s for s in servers if s.get("url") == url or s.get("title") == CALLBACK_TITLE), None)
        if ours is None:
            server_id = self._admin_call("groups.addCallbackServer", group_id=group_id, url=url,
                                         title=CALLBACK_TITLE, secret_key=secret)["server_id"]
        else:
            server_id = ours["id"]
            self._admin_call("groups.editCallbackServer", group_id=group_id, server_id=server_id, url=url,
                             title=CALLBACK_TITLE, secret_key=secret)
        # The lead events too (crm_plugin.channels.vk_leads): which of them count is the bot's lead settings.
        self._admin_call("groups.setCallbackSettings", group_id=group_id, server_id=server_id,
                         api_version=API_VERSION, message_new=1, message_event=1, wall_reply_new=1,
                         wall_post_new=1, lead_forms_new=1)

    def confirmation_code(self) -> str:
        """The string VK expects back from the confirmation event, for credentials["confirmation"]."""
        return str(self._admin_call("groups.getCallbackConfirmationCode", group_id=self._group_id())["code"])

    def webhook_info(self) -> WebhookInfo:
        servers = self._admin_call("groups.getCallbackServers", group_id=self._group_id()).get("items", [])
        ours = next((s for s in servers if s.get("title") == CALLBACK_TITLE), servers[0] if servers else None)
        if ours is None:
            return WebhookInfo(url=None)
        status = ours.get("status")
        return WebhookInfo(url=ours.get("url"), last_error=None if status in ("ok", None) else f"status: {status}",
                           extra={"status": status, "server_id": ours.get("id")})

    def prepare_for_polling(self) -> None:
        """Nothing to prepare: Bots Long Poll is switched on in the community's settings."""

    def poll(self, state: dict[str, Any] | None, timeout: int) -> tuple[list[ParsedRequest], dict[str, Any]]:
        """One Bots Long Poll request; pass the returned state to the next call (None: start afresh)."""
        if state is None:
            state = dict(self._call("groups.getLongPollServer", group_id=self._group_id()))
        params = {"act": "a_check", "key": state["key"], "ts": state["ts"], "wait": max(0, int(timeout))}
        try:
            answer = self.session.get(state["server"], params=params, timeout=self.timeout + timeout).json()
        except CALL_ERRORS as exc:
            raise send_error(exc, "long poll") from exc
        failed = answer.get("failed")
        if failed == 1:  # history lost: carry on from the new ts
            return [], {**state, "ts": answer["ts"]}
        if failed in (2, 3):  # the key expired or the data were lost: a new server next time
            return [], self._call("groups.getLongPollServer", group_id=self._group_id())
        parsed = []
        for update in answer.get("updates", []):
            try:
                parsed.append(parse_event(update, None))
            except Exception as exc:  # noqa: BLE001 - one broken update must not stall the others
                log.warning("skipped a malformed VK long poll update: %s", exc)
        return parsed, {**state, "ts": answer["ts"]}

    # --- calls -----------------------------------------------------------------------------------------
    def _group(self) -> dict[str, Any]:
        return {"group_id": self.credentials["group_id"]} if self.credentials.get("group_id") else {}

    def _group_id(self) -> str:
        if not self.credentials.get("group_id"):
            self.credentials["group_id"] = self.check().id
        return self.credentials["group_id"]

    def _call(self, method: str, **values: Any) -> Any:
        if not self.credentials.get("token"):
            raise SendError("VK: the community has no token", permanent=True)
        try:
            return self.vk.method(method, values)
        except CALL_ERRORS as exc:
            raise send_error(exc, method) from exc

    def _admin_call(self, method: str, **values: Any) -> Any:
        if not self.credentials.get("token"):
            raise CredentialsError("Не задан ключ доступа сообщества VK: создайте его в «Управление» → «Работа с API»")
        try:
            return self._call(method, **values)
        except SendError as exc:
            cause = exc.__cause__
            if isinstance(cause, ApiError):
                prefix = "VK отклонил ключ доступа" if cause.code == 5 else "VK ответил ошибкой"
                raise CredentialsError(f"{prefix}: {cause.error.get('error_msg')}") from exc
            if isinstance(cause, ApiHttpError):
                raise CredentialsError(f"VK ответил HTTP {cause.response.status_code}; попробуйте позже") from exc
            log.info("vk settings call failed: %s", exc)  # the library's English words: for the log
            raise CredentialsError(
                "Не удалось связаться с VK: сервер не ответил. Проверьте адрес API и доступ в интернет"
            ) from exc


@dataclass(frozen=True)
class VkIdentity(BotIdentity):
    """The community, and the Callback API confirmation code when the token could read it."""

    confirmation: str | None = None


def _attachment(kind: str, item: Mapping[str, Any]) -> str:
    attachment = f"{kind}{item['owner_id']}_{item['id']}"
    return f"{attachment}_{item['access_key']}" if item.get("access_key") else attachment
