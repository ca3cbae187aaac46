"""The one interface every messenger adapter implements. Platform SDKs are imported only in channels/."""

from __future__ import annotations

import abc
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

from ..chat import FileRef, Inbound, Reply
from ..models import Platform


class MalformedRequest(Exception):
    """The body is not what the platform sends: answered 400."""


class SendError(Exception):
    """A send that did not go through.

    ``retry_after``: the platform asked to wait that many seconds (429). ``permanent``: retrying cannot
    help (bad chat, bad token). ``unreachable``: the person blocked the bot or left; stop writing to them.
    Anything else (5xx, time-out, dropped connection) is transient and retried with back-off.
    """

    def __init__(self, message: str, *, retry_after: float | None = None, permanent: bool = False,
                 unreachable: bool = False) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.permanent = permanent or unreachable
        self.unreachable = unreachable


class CredentialsError(Exception):
    """The platform refused the credentials, or could not be reached; the message is for an admin."""


@dataclass(frozen=True)
class WebhookRequest:
    headers: Mapping[str, str]  # case-insensitive mapping (werkzeug Headers)
    body: bytes


@dataclass
class ParsedRequest:
    """What one webhook request holds and how to answer it."""

    inbound: list[Inbound] = field(default_factory=list)
    dedupe_key: str | None = None  # update_id / event_id / message_token
    response: str | dict[str, Any] | None = None  # VK "ok" or confirmation code; Slack challenge; None: 200 ""
    leads: list[dict[str, Any]] = field(default_factory=list)  # channel messages that become leads
    # Platform user ids that unsubscribed from or blocked the bot (Viber "unsubscribed"): the webhook layer
    # marks their links UNREACHABLE so delivery stops writing to them.
    unreachable: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class BotIdentity:
    id: str
    name: str
    username: str | None = None


@dataclass(frozen=True)
class WebhookInfo:
    url: str | None
    pending_updates: int | None = None
    last_error: str | None = None
    last_error_at: str | None = None  # ISO time
    extra: Mapping[str, Any] = field(default_factory=dict)


class FileStore(Protocol):
    """Where a channel gets the bytes of a CRM file to upload, and remembers its platform file id."""

    def cached_id(self, crm_file_id: int) -> str | None: ...
    def read(self, crm_file_id: int) -> bytes: ...
    def remember(self, crm_file_id: int, platform_file_id: str) -> None: ...


class Channel(abc.ABC):
    platform: ClassVar[Platform]
    # The platform's per-chat and per-bot send limits, read by the delivery rate limiter.
    per_chat_rate: ClassVar[float] = 1.0  # messages a second to one chat
    per_bot_rate: ClassVar[float] = 30.0  # messages a second for the whole bot

    def __init__(self, credentials: Mapping[str, str], *, api_url: str, webhook_secret: str | None = None,
                 timeout: float = 10.0) -> None:
        self.credentials = dict(credentials)
        self.api_url = api_url
        self.webhook_secret = webhook_secret
        self.timeout = timeout

    @abc.abstractmethod
    def verify(self, request: WebhookRequest) -> bool:
        """True when the request really comes from the platform; constant-time comparisons only.
        Raises MalformedRequest when the body cannot even be read for verification."""

    @abc.abstractmethod
    def parse(self, request: WebhookRequest) -> ParsedRequest:
        """Neutral events from a verified request; MalformedRequest for a body the platform never sends."""

    @abc.abstractmethod
    def send(self, chat_id: str, reply: Reply, files: FileStore) -> list[str]:
        """Deliver one reply; returns the platform's message ids; raises SendError."""

    @abc.abstractmethod
    def download(self, file: FileRef) -> bytes:
        """The bytes of a file a person sent."""

    @abc.abstractmethod
    def check(self) -> BotIdentity:
        """Call the platform with the credentials; CredentialsError with the platform's words if refused."""

    @abc.abstractmethod
    def set_webhook(self, url: str, secret: str) -> None: ...

    @abc.abstractmethod
    def webhook_info(self) -> WebhookInfo: ...

    def acknowledge(self, inbound: Inbound) -> None:
        """Tell the platform an interactive event was received (Telegram answerCallbackQuery, VK
        sendMessageEventAnswer) so the pressed button stops spinning; best effort, never raises.
        Default: nothing to answer."""

    def group_rate(self, chat_id: str) -> float | None:
        """Messages a second allowed to this chat when it is a group (Telegram: 20 a minute), else None."""
        return None
