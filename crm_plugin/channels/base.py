"""The one interface every messenger adapter implements, and the facts each one declares about its platform
(label, credential fields, API URL setting, deep links, polling). Platform SDKs are imported only in channels/."""

from __future__ import annotations

import abc
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol, runtime_checkable

from ..core.chat import FileRef, Inbound, Keyboard, Reply
from ..core.models import Bot, Platform


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
    # Statistics charts (StatsReply.chart_key). None: no image can be had (the reason is noted for the log),
    # and the channel sends the text alone: a chart is never the reason a message is lost.
    def chart_png(self, chart_key: str) -> bytes | None: ...
    def chart_url(self, chart_key: str) -> str | None: ...  # a public, signed link ending in .png (Viber)
    def chart_cached_id(self, chart_key: str) -> str | None: ...  # this bot's platform id of the chart
    def remember_chart(self, chart_key: str, platform_file_id: str) -> None: ...


@dataclass(frozen=True)
class CredentialField:
    """One secret an admin types for a platform (the bot form shows one input per field)."""

    key: str  # the key in the sealed credentials dict, as the channel reads it
    label: str  # Russian, marked with N_: the admin translates it when shown
    hint: str = ""
    secret: bool = True  # shown masked, never echoed back into a page
    required: bool = True  # an optional field left empty is not stored


class Channel(abc.ABC):
    """A messenger adapter. Its class attributes are the platform's facts, read without an instance by the
    registry, the admin and the poller, so a new platform is described in its own module only."""

    platform: ClassVar[Platform]
    label: ClassVar[str]  # the platform's name for the admin: Russian, marked with N_ where it is translated
    credential_fields: ClassVar[tuple[CredentialField, ...]] = ()  # empty: nothing to type (the web chat)
    api_url_setting: ClassVar[str | None] = None  # the Settings field holding the platform's API base URL
    # Media go out as public links the platform fetches (Viber), not as uploads: channel_for passes media_url.
    media_by_url: ClassVar[bool] = False
    # Files people send are kept by the plugin (the web chat): channel_for passes upload_dir.
    keeps_uploads: ClassVar[bool] = False
    # The platform's per-chat and per-bot send limits, read by the delivery rate limiter.
    per_chat_rate: ClassVar[float] = 1.0  # messages a second to one chat
    per_bot_rate: ClassVar[float] = 30.0  # messages a second for the whole bot
    # Top-level fields of a webhook body that carry a secret (VK Callback API: "secret"): left out of the raw
    # update the message log keeps.
    secret_body_fields: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def deep_link(cls, bot: Bot, token: str) -> str | None:
        """The link that opens ``bot`` with ``token`` as its start payload (an invite); None on platforms
        without deep links."""
        return None

    @classmethod
    def input_keyboard(cls, buttons: Keyboard) -> bool:
        """True when the platform shows this keyboard under the input field (Telegram's reply keyboard, VK's
        one-time keyboard), where it stays until a later reply with ``remove_keyboard`` takes it away. The bot
        remembers that per chat in the database, not the channel object: several workers send for one chat,
        and a restart forgets nothing. Default: keyboards go under their message and leave with it."""
        return False

    @classmethod
    def can_poll(cls, credentials: Mapping[str, str]) -> bool:
        """Whether a bot with these credentials can receive by polling (``flask crm-plugin poll``) instead of a
        webhook. Default: every Pollable channel can; a channel that needs an extra key for it says so."""
        return issubclass(cls, Pollable)

    @classmethod
    def stored_credentials(cls, credentials: Mapping[str, str], identity: BotIdentity | None) -> dict[str, str]:
        """What is sealed for a bot: the typed credentials, plus what the platform's answer to check()
        adds (Viber: the sender name)."""
        return dict(credentials)

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
    def send(self, chat_id: str, reply: Reply, files: FileStore, *, message_key: int | None = None) -> list[str]:
        """Deliver one reply; returns the platform's message ids; raises SendError.

        ``message_key`` is the outbox row's id: the same on every retry of one message and never reused for
        another (None: a one-off send, nothing to protect). A platform that takes an idempotency key derives
        it from this one (VK: ``random_id``), so a retry after a lost answer is not shown twice; the others
        have no such key and cannot tell a retry from a new message."""

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


@runtime_checkable
class Pollable(Protocol):
    """A channel that can receive without a public URL: Telegram getUpdates, VK Bots Long Poll, Slack Socket
    Mode. The Poller keeps the cursor (offset, long-poll state, envelopes to acknowledge) between calls."""

    def prepare_for_polling(self) -> None:
        """Called once before the first poll (Telegram deletes its webhook: getUpdates refuses to run beside one)."""

    def poll(self, cursor: Any, timeout: int, /) -> tuple[list[ParsedRequest], Any]:
        """One long poll of at most ``timeout`` seconds: the requests received and the cursor for the next call."""
        ...


@runtime_checkable
class ProfileLookup(Protocol):
    """A channel that can name a platform user (Slack users.info), for leads whose payload carries only an id."""

    def user_profile(self, user_id: str, /) -> dict[str, Any]:
        """id, name, real_name, email, phone as far as the platform tells; SendError when it cannot."""
        ...
