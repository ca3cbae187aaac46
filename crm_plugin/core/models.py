"""The plugin's own tables. They are created only by the Alembic scripts in migrations/.

Every table is prefixed ``crm_plugin_`` so it never collides with the host's. CRM users are referred to by
their id in the CRM (``crm_user_id``): the host's tables are not ours to join.
"""

from __future__ import annotations

import enum
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import (
    BigInteger,
    DateTime,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship, validates
from sqlalchemy.types import TypeDecorator

from .columns import CleanJSON, CleanString, CleanText, PlatformId
from .crypto import is_webhook_secret_digest, webhook_secret_digest


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite drops the zone; this puts it back)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(timezone.utc) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UtcDateTime(), dict[str, Any]: CleanJSON()}


class Platform(str, enum.Enum):
    TELEGRAM = "telegram"
    VK = "vk"
    VIBER = "viber"
    SLACK = "slack"
    WEB = "web"


class LinkStatus(str, enum.Enum):
    BOUND = "bound"
    PENDING = "pending"  # waiting for a code or an admin's approval
    BLOCKED = "blocked"  # blocked inside the plugin by an admin
    UNREACHABLE = "unreachable"  # the person blocked the bot; sends stopped


class Direction(str, enum.Enum):
    IN = "in"
    OUT = "out"


class MessageStatus(str, enum.Enum):
    RECEIVED = "received"  # incoming, waiting for the bot
    HANDLED = "handled"  # incoming, the bot has answered
    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"


def _enum(kind: type[enum.Enum], length: int = 16) -> Any:
    # Stored as plain strings: no native ENUM types to migrate on PostgreSQL.
    return Enum(kind, native_enum=False, length=length, values_callable=lambda e: [m.value for m in e],
                validate_strings=True)


class Bot(Base):
    __tablename__ = "crm_plugin_bots"

    id: Mapped[int] = mapped_column(primary_key=True)
    platform: Mapped[Platform] = mapped_column(_enum(Platform))
    name: Mapped[str | None] = mapped_column(CleanString(200))
    platform_bot_id: Mapped[str | None] = mapped_column(PlatformId(64))  # filled by "Проверить"
    username: Mapped[str | None] = mapped_column(CleanString(200))
    credentials_encrypted: Mapped[str] = mapped_column(Text)  # Fernet token of a JSON object
    # Only the digest of the secret the platform sends back ("sha256:<hex>", crypto.webhook_secret_digest).
    webhook_secret: Mapped[str | None] = mapped_column(String(128))
    webhook_url: Mapped[str | None] = mapped_column(String(500))
    active: Mapped[bool] = mapped_column(default=True)
    leads_enabled: Mapped[bool] = mapped_column(default=False)  # messages in its channels become leads
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    links: Mapped[list[EmployeeLink]] = relationship(back_populates="bot", cascade="all, delete-orphan")

    @validates("webhook_secret")
    def _digest_of_webhook_secret(self, key: str, value: str | None) -> str | None:
        """A secret assigned in clear is stored as its digest: the column never holds the secret itself."""
        return webhook_secret_digest(value) if value and not is_webhook_secret_digest(value) else value

    def __str__(self) -> str:
        return f"{self.platform.value}: {self.name or self.platform_bot_id or self.id}"


class EmployeeLink(Base):
    """A CRM employee's account on one bot. ``platform_user_id`` is empty until they first connect."""

    __tablename__ = "crm_plugin_employee_links"
    __table_args__ = (
        UniqueConstraint("bot_id", "platform_user_id"),
        UniqueConstraint("bot_id", "crm_user_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    bot_id: Mapped[int] = mapped_column(ForeignKey("crm_plugin_bots.id", ondelete="CASCADE"))
    crm_user_id: Mapped[int] = mapped_column(index=True)
    platform_user_id: Mapped[str | None] = mapped_column(PlatformId(64))
    chat_id: Mapped[str | None] = mapped_column(PlatformId(64))
    status: Mapped[LinkStatus] = mapped_column(_enum(LinkStatus), default=LinkStatus.PENDING)
    role_override: Mapped[str | None] = mapped_column(String(16))
    language: Mapped[str | None] = mapped_column(CleanString(8))
    display_name: Mapped[str | None] = mapped_column(CleanString(200))  # the messenger's name for the person
    subscribed_stats: Mapped[bool] = mapped_column(default=False)
    # «Заявки из каналов» to a manager with «Взять» (issue 10, 0010); managers only, on unless they switch it off
    subscribed_leads: Mapped[bool] = mapped_column(default=True, server_default=text("true"))
    bound_at: Mapped[datetime | None]
    last_message_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # A try-out (web chat): gets no company notifications and does not count as bound (issue 12, 0012).
    trial: Mapped[bool] = mapped_column(default=False, server_default=text("false"))

    bot: Mapped[Bot] = relationship(back_populates="links")


class Invite(Base):
    """A one-time deep-link token that binds whoever opens it to one CRM employee."""

    __tablename__ = "crm_plugin_invites"

    id: Mapped[int] = mapped_column(primary_key=True)
    bot_id: Mapped[int] = mapped_column(ForeignKey("crm_plugin_bots.id", ondelete="CASCADE"))
    crm_user_id: Mapped[int]
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class BindingRequest(Base):
    """A typed login, email or phone waiting for its one-time code or an admin's approval."""

    __tablename__ = "crm_plugin_binding_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    bot_id: Mapped[int] = mapped_column(ForeignKey("crm_plugin_bots.id", ondelete="CASCADE"))
    crm_user_id: Mapped[int] = mapped_column(index=True)
    platform_user_id: Mapped[str] = mapped_column(PlatformId(64))
    chat_id: Mapped[str] = mapped_column(PlatformId(64))
    code_hash: Mapped[str] = mapped_column(String(64))
    attempts: Mapped[int] = mapped_column(default=0)
    expires_at: Mapped[datetime]
    approved_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ChatState(Base):
    """Where a conversation stands (e.g. waiting for photos of job 42): kept in the DB to survive restarts."""

    __tablename__ = "crm_plugin_chat_states"

    bot_id: Mapped[int] = mapped_column(ForeignKey("crm_plugin_bots.id", ondelete="CASCADE"), primary_key=True)
    chat_id: Mapped[str] = mapped_column(PlatformId(64), primary_key=True)
    state: Mapped[str] = mapped_column(String(64), default="")
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class InboundKey(Base):
    """The platform's own id of an inbound update: a retried update hits the unique constraint."""

    __tablename__ = "crm_plugin_inbound_keys"
    __table_args__ = (UniqueConstraint("bot_id", "dedupe_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    bot_id: Mapped[int] = mapped_column(ForeignKey("crm_plugin_bots.id", ondelete="CASCADE"))
    dedupe_key: Mapped[str] = mapped_column(PlatformId(128))  # e.g. "tg:<update_id>", "slack:<event_id>"
    received_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


# Rows the worker still has to process; the partial index below and the claim queries share this text.
PENDING_STATUSES_SQL = "status IN ('received', 'queued', 'sending')"


class Message(Base):
    """The outbox and the message log in one: every incoming and outgoing message is a row."""

    __tablename__ = "crm_plugin_messages"
    __table_args__ = (
        Index("ix_crm_plugin_messages_due", "status", "next_attempt_at"),
        Index("ix_crm_plugin_messages_chat", "bot_id", "chat_id", "id"),
        Index("ix_crm_plugin_messages_created", "created_at"),
        # Only the rows still to deliver or handle: the worker's per-chat order check reads just these.
        Index("ix_crm_plugin_messages_pending", "bot_id", "chat_id", "id",
              sqlite_where=text(PENDING_STATUSES_SQL), postgresql_where=text(PENDING_STATUSES_SQL)),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    bot_id: Mapped[int] = mapped_column(ForeignKey("crm_plugin_bots.id", ondelete="CASCADE"))
    chat_id: Mapped[str] = mapped_column(PlatformId(64))
    link_id: Mapped[int | None] = mapped_column(ForeignKey("crm_plugin_employee_links.id", ondelete="SET NULL"),
                                                index=True)
    direction: Mapped[Direction] = mapped_column(_enum(Direction, 8))
    kind: Mapped[str] = mapped_column(String(32))  # text, buttons, photo, album, document, location, ...
    # A summary for the log's list and search; the whole text (up to 4096) and caption (1024) are in payload.
    preview: Mapped[str] = mapped_column(CleanString(500), default="")
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)  # the neutral reply or event
    status: Mapped[MessageStatus] = mapped_column(_enum(MessageStatus))
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime | None]
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    claimed_until: Mapped[datetime | None]  # a crashed worker's claim expires and the row is retried
    platform_message_id: Mapped[str | None] = mapped_column(PlatformId(128))
    error: Mapped[str | None] = mapped_column(CleanText())
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]


class Attendance(Base):
    __tablename__ = "crm_plugin_attendance"

    id: Mapped[int] = mapped_column(primary_key=True)
    crm_user_id: Mapped[int] = mapped_column(index=True)
    bot_id: Mapped[int | None] = mapped_column(ForeignKey("crm_plugin_bots.id", ondelete="SET NULL"))
    started_at: Mapped[datetime] = mapped_column(index=True)
    start_latitude: Mapped[float | None] = mapped_column(Float)
    start_longitude: Mapped[float | None] = mapped_column(Float)
    ended_at: Mapped[datetime | None]
    end_latitude: Mapped[float | None] = mapped_column(Float)
    end_longitude: Mapped[float | None] = mapped_column(Float)


class AccessGrant(Base):
    """Admins allowed to manage the plugin. No rows: every CRM admin may."""

    __tablename__ = "crm_plugin_access_grants"

    id: Mapped[int] = mapped_column(primary_key=True)
    crm_user_id: Mapped[int] = mapped_column(unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class FileCache(Base):
    """A CRM file already uploaded to a platform: its platform file id, so it is not uploaded again."""

    __tablename__ = "crm_plugin_file_cache"
    __table_args__ = (UniqueConstraint("bot_id", "crm_file_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    bot_id: Mapped[int] = mapped_column(ForeignKey("crm_plugin_bots.id", ondelete="CASCADE"))
    crm_file_id: Mapped[int]
    platform_file_id: Mapped[str] = mapped_column(Text)  # opaque, no documented limit (Telegram file_id)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class PluginSetting(Base):
    """Settings an admin changes at run time (config keys stay in app.config)."""

    __tablename__ = "crm_plugin_settings"

    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[dict[str, Any]] = mapped_column(default=dict)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class JobOffer(Base):
    """A free measurement request shown to a CRM user with a «Взять» button (a notification or the job's card).
    Only they may learn, on a late tap, who took it; they are the ones told it is gone."""

    __tablename__ = "crm_plugin_job_offers"
    __table_args__ = (UniqueConstraint("job_id", "crm_user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[int] = mapped_column(BigInteger)  # the CRM's job id
    crm_user_id: Mapped[int] = mapped_column(BigInteger)
    offered_at: Mapped[datetime] = mapped_column(default=utcnow)


# statistics charts (issue 9): each distinct chart once by its key, its PNG once rendered, its upload per bot


class StatsChart(Base):
    """A statistics chart named by ``crm_plugin.stats.charts.chart_key``: its plotly figure, stored when the
    first reply naming it is enqueued, and its PNG once the worker has drawn it (or why it could not)."""

    __tablename__ = "crm_plugin_charts"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(16), default="")
    figure: Mapped[dict[str, Any]] = mapped_column(default=dict)
    width: Mapped[int]
    height: Mapped[int]
    png: Mapped[bytes | None] = mapped_column(LargeBinary)
    error: Mapped[str | None] = mapped_column(CleanText())  # why the last render gave no image
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    rendered_at: Mapped[datetime | None]


class StatsChartUpload(Base):
    """A chart already on a platform for one bot (Telegram file_id, VK ``photo<owner>_<id>``): sent again by
    that id instead of its bytes."""

    __tablename__ = "crm_plugin_chart_uploads"
    __table_args__ = (UniqueConstraint("bot_id", "chart_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    bot_id: Mapped[int] = mapped_column(ForeignKey("crm_plugin_bots.id", ondelete="CASCADE"))
    chart_key: Mapped[str] = mapped_column(String(200))
    platform_file_id: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


# --- statistics sends and schedules (issue 9: instant send, schedules) --------------------------------------

class StatsSchedule(Base):
    """A statistics send that repeats: daily, on chosen weekdays, or on a day of the month, at ``time``
    (``HH:MM``) in the company's zone, over a relative period, to all subscribers, chosen roles or people."""

    __tablename__ = "crm_plugin_stats_schedules"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(CleanString(200), default="")
    enabled: Mapped[bool] = mapped_column(default=True)
    frequency: Mapped[str] = mapped_column(String(16), default="daily")  # daily, weekly, monthly
    weekdays: Mapped[str] = mapped_column(String(32), default="")  # weekly: "0,2,4" (Monday is 0)
    month_day: Mapped[int | None]  # monthly: 1..28, or 0 for the last day of the month
    time: Mapped[str] = mapped_column(String(5), default="09:00")  # HH:MM, company time
    period: Mapped[str] = mapped_column(String(16), default="yesterday")  # a crm_plugin.stats Preset value
    metrics: Mapped[str] = mapped_column(CleanText(), default="")  # metric keys, comma-separated
    audience: Mapped[str] = mapped_column(String(16), default="subscribers")  # subscribers, roles, people
    roles: Mapped[str] = mapped_column(String(100), default="")  # comma-separated Role values
    people: Mapped[str] = mapped_column(CleanText(), default="")  # comma-separated CRM user ids
    skip_empty: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class StatsRun(Base):
    """One statistics send: an admin's «Отправить сейчас» (``schedule_id`` None, waiting as ``pending`` until
    a worker fans it out) or a schedule's due time. The unique (schedule_id, due_at) makes a due time fire
    once however many workers look: whoever inserts the row sends. A skipped due time (empty figures, too
    late after downtime) is a row too, with ``note`` saying why."""

    __tablename__ = "crm_plugin_stats_runs"
    __table_args__ = (UniqueConstraint("schedule_id", "due_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    schedule_id: Mapped[int | None] = mapped_column(
        ForeignKey("crm_plugin_stats_schedules.id", ondelete="CASCADE"))
    due_at: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)  # pending, sent, skipped, failed
    spec: Mapped[dict[str, Any]] = mapped_column(default=dict)  # metrics, period token, audience, roles, people
    requested_by: Mapped[int | None] = mapped_column(BigInteger)  # the admin's CRM user id
    recipients: Mapped[int] = mapped_column(default=0)
    renders: Mapped[int] = mapped_column(default=0)  # distinct charts of the send
    note: Mapped[str | None] = mapped_column(CleanText())
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]


class StatsRunMessage(Base):
    """An outbox row a statistics send enqueued: the run's progress is its rows' statuses."""

    __tablename__ = "crm_plugin_stats_run_messages"

    run_id: Mapped[int] = mapped_column(ForeignKey("crm_plugin_stats_runs.id", ondelete="CASCADE"),
                                        primary_key=True)
    message_id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), ForeignKey("crm_plugin_messages.id", ondelete="CASCADE"),
        primary_key=True, index=True)


# --- statistics access (issue 9: who sees what) ----------------------------------------------------------

class StatsAccess(Base):
    """A metric the admin has taken away from a role (crm_plugin.stats.access): no row, the role sees the
    metric as far as the rule lets it. ``metric_key`` is the CRM's MetricSpec.key."""

    __tablename__ = "crm_plugin_stats_access"
    __table_args__ = (UniqueConstraint("role", "metric_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    role: Mapped[str] = mapped_column(String(16))  # crm_plugin.host.Role value: admin, manager, measurer, installer
    metric_key: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


# notification templates (issue 12): the texts of the notifications the company edits in the admin


class NotificationTemplate(Base):
    """The company's own text of one notification (``event``, see crm_plugin.bot.templates) in one language;
    no row: the default text."""

    __tablename__ = "crm_plugin_notification_templates"
    __table_args__ = (UniqueConstraint("event", "language"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    event: Mapped[str] = mapped_column(String(32))
    language: Mapped[str] = mapped_column(String(8))
    text: Mapped[str] = mapped_column(CleanText())
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


# --- channel leads (issue 10): what each bot takes as a lead, and who was offered which lead ----------------

VK_LEAD_EVENTS = ("message_new", "wall_reply_new", "wall_post_new", "lead_forms_new")


class LeadSettings(Base):
    """A bot's lead sources (crm_plugin.inbound.leads); no row: every VK event type counts, every Slack channel
    the bot is in, no auto-reply. Only bots with ``Bot.leads_enabled`` take leads at all."""

    __tablename__ = "crm_plugin_lead_settings"

    bot_id: Mapped[int] = mapped_column(ForeignKey("crm_plugin_bots.id", ondelete="CASCADE"), primary_key=True)
    vk_events: Mapped[str] = mapped_column(String(200), default=",".join(VK_LEAD_EVENTS))  # comma-separated
    slack_channels: Mapped[dict[str, Any]] = mapped_column(default=dict)  # channel id -> name; empty: all
    auto_reply: Mapped[bool] = mapped_column(default=False)
    auto_reply_text: Mapped[str | None] = mapped_column(CleanText())
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    def vk_event_set(self) -> frozenset[str]:
        return frozenset(e.strip() for e in (self.vk_events or "").split(",") if e.strip())


class LeadOffer(Base):
    """A lead shown to a manager with «Взять» (crm_plugin.bot.lead_offers): they are the ones told who took it."""

    __tablename__ = "crm_plugin_lead_offers"
    __table_args__ = (UniqueConstraint("lead_id", "crm_user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    lead_id: Mapped[int] = mapped_column(BigInteger)  # the CRM's lead id
    crm_user_id: Mapped[int] = mapped_column(BigInteger)
    offered_at: Mapped[datetime] = mapped_column(default=utcnow)


# --- field staff route (issue 12): the morning route's time and the mark of each route sent ------------------

class RouteSettings(Base):
    """When the morning route goes out (crm_plugin.bot.route): one row, id 1; no row: 08:00 company time,
    Monday to Saturday."""

    __tablename__ = "crm_plugin_route_settings"

    id: Mapped[int] = mapped_column(primary_key=True)
    enabled: Mapped[bool] = mapped_column(default=True)
    send_at: Mapped[str] = mapped_column(String(5), default="08:00")  # HH:MM, the company's time zone
    weekdays: Mapped[str] = mapped_column(String(7), default="012345")  # Monday is 0
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class RouteSent(Base):
    """A morning route claimed for one person and company day: the unique row makes several workers send it
    once."""

    __tablename__ = "crm_plugin_route_sent"
    __table_args__ = (UniqueConstraint("crm_user_id", "day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    crm_user_id: Mapped[int] = mapped_column(BigInteger)
    day: Mapped[str] = mapped_column(String(10))  # ISO date of the company's day
    jobs: Mapped[int] = mapped_column(default=0)
    sent_at: Mapped[datetime] = mapped_column(default=utcnow)
