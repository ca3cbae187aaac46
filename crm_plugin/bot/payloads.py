"""Button payloads: one small typed kind per action, packed into the short string a messenger carries back.

    OpenJob(12).pack() == "job:12"               unpack("job:12") == OpenJob(12)
    JobList(JobKind.MEASUREMENT, Period.TODAY, 0).pack() == "list:me:today:0"

A kind is a frozen dataclass with a ``tag``; on the wire it is the tag and its fields in order, joined by ':'.
These are the strings the bot has always sent: old buttons stay in people's chats and are still pressed.
``unpack`` accepts exactly what ``pack`` produces and returns None for anything else, so a forged, truncated or
outdated payload gets the bot's "stale button" answer instead of an exception.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, fields
from typing import Any, ClassVar, get_type_hints

from ..core.chat import REQUEST_CONTACT_FALLBACK, Button, ButtonPress, Event
from ..host import Breakdown, FileKind, JobKind
from ..stats.periods import Preset
from .joblists import Period
from .labels import KIND_CODES, KINDS_BY_CODE

TELEGRAM_LIMIT = 64  # bytes of callback_data: the smallest payload limit of the platforms we render for
MAX_INT = 2**63 - 1  # a BIGINT; a larger number cannot be a row id
_INT = re.compile(r"0|[1-9][0-9]{0,18}")  # ASCII only: str.isdigit() accepts '²', which int() then rejects
_TOKEN = re.compile(r"[A-Za-z0-9_.-]+")  # a string field: nothing that could hold the ':' separator

_KINDS: dict[str, list[type[Payload]]] = {}  # tag -> the kinds with that tag (they differ in field count)
_FIELD_TYPES: dict[type[Payload], tuple[type, ...]] = {}


@dataclass(frozen=True)
class Payload:
    """A base for payload kinds; subclasses name their tag: ``class OpenJob(JobAction, tag="job")``."""

    tag: ClassVar[str] = ""

    def __init_subclass__(cls, *, tag: str | None = None, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if tag is not None:  # a base without a tag (JobAction) is never on the wire itself
            cls.tag = tag
            _KINDS.setdefault(tag, []).append(cls)

    def pack(self) -> str:
        """The wire string; ValueError when a field cannot be packed or the whole is over Telegram's limit."""
        if not self.tag:
            raise ValueError(f"{type(self).__name__} has no tag: only its subclasses are payloads")
        text = ":".join([self.tag, *(_encode(self, getattr(self, f.name)) for f in fields(self))])
        size = len(text.encode())
        if size > TELEGRAM_LIMIT:
            raise ValueError(f"button payload {type(self).__name__} {text!r} is {size} bytes, over Telegram's "
                             f"{TELEGRAM_LIMIT}-byte callback_data limit")
        return text


def unpack(text: object) -> Payload | None:
    """The payload ``text`` packs, or None when it is not exactly one ``pack`` could have produced."""
    if not isinstance(text, str) or not text.isascii() or len(text) > TELEGRAM_LIMIT:
        return None
    parts = text.split(":")
    for tag_parts in (2, 1):  # "att:in" before "att": a tag may hold one ':'
        candidates = _KINDS.get(":".join(parts[:tag_parts]), [])
        values = parts[tag_parts:]
        for kind in candidates:
            specs = _fields_of(kind)
            if len(specs) == len(values):
                decoded = [_decode(spec, value) for spec, value in zip(specs, values)]
                if any(v is None for v in decoded):
                    return None
                return kind(*decoded)
    return None


def payload_of(event: Event) -> Payload | None:
    """The payload of a pressed button; None for other events and for payloads ``unpack`` refuses."""
    return unpack(event.payload) if isinstance(event, ButtonPress) else None


def button(label: str, payload: Payload) -> Button:
    """A button that sends ``payload`` back when pressed (its size is checked here, not at send time)."""
    return Button.action(label, payload.pack())


def _fields_of(kind: type[Payload]) -> tuple[type, ...]:
    if kind not in _FIELD_TYPES:  # resolved on first use: the dataclass decorator runs after registration
        hints = get_type_hints(kind)
        _FIELD_TYPES[kind] = tuple(hints[f.name] for f in fields(kind))
    return _FIELD_TYPES[kind]


def _encode(payload: Payload, value: object) -> str:
    if isinstance(value, JobKind):
        return KIND_CODES[value]
    if isinstance(value, enum.Enum):
        return str(value.value)
    if isinstance(value, int) and not isinstance(value, bool):
        if not 0 <= value <= MAX_INT:
            raise ValueError(f"{payload!r}: {value} is not a number from 0 to 2**63-1")
        return str(value)
    if isinstance(value, str):
        if not _TOKEN.fullmatch(value):
            raise ValueError(f"{payload!r}: {value!r} holds characters a payload field cannot carry")
        return value
    raise TypeError(f"{payload!r}: a field of type {type(value).__name__} cannot be packed")


def _decode(kind: type, text: str) -> object | None:
    if kind is int:
        return int(text) if _INT.fullmatch(text) and int(text) <= MAX_INT else None
    if kind is JobKind:
        return KINDS_BY_CODE.get(text)
    if isinstance(kind, type) and issubclass(kind, enum.Enum):
        try:
            return kind(text)
        except ValueError:
            return None
    if kind is str:
        return text if _TOKEN.fullmatch(text) else None
    raise TypeError(f"payload fields of type {kind!r} are not supported")


# --- the kinds --------------------------------------------------------------------------------------------

class Menu(Payload, tag="menu"):
    """The main menu."""


@dataclass(frozen=True)
class KindMenu(Payload, tag="menu"):
    """The lists of one kind of job (people with both kinds, and admins)."""

    kind: JobKind


@dataclass(frozen=True)
class JobList(Payload, tag="list"):
    """One page of one list, e.g. today's measurements."""

    kind: JobKind
    period: Period
    page: int


@dataclass(frozen=True)
class JobAction(Payload):
    """Anything done to one job; the id is checked against the person's rights before use (see access.py)."""

    job_id: int


class OpenJob(JobAction, tag="job"):
    """The job's card."""


class TakeJob(JobAction, tag="take"):
    """A measurer takes a free measurement request."""


class FinishUpload(JobAction, tag="finish"):
    """Stop sending files for the job."""


class MarkDone(JobAction, tag="done"):
    """Mark the job measured or installed."""


class MeasurementFiles(JobAction, tag="files"):
    """The installer asks for the measurement sheet and photos of the order."""


class StartUpload(JobAction):
    """Start sending files of one kind for the job; each kind of file has its own tag."""

    file_kind: ClassVar[FileKind]

    @staticmethod
    def of(file_kind: FileKind, job_id: int) -> StartUpload:
        kinds: list[type[StartUpload]] = [SendObjectPhotos, SendSheet, SendInstallationPhotos]
        return {k.file_kind: k for k in kinds}[file_kind](job_id)


class SendObjectPhotos(StartUpload, tag="photos"):
    file_kind = FileKind.OBJECT_PHOTO


class SendSheet(StartUpload, tag="sheet"):
    file_kind = FileKind.MEASUREMENT_SHEET


class SendInstallationPhotos(StartUpload, tag="iphotos"):
    file_kind = FileKind.INSTALLATION_PHOTO


class AttendanceMenu(Payload, tag="att"):
    """The clock-in/clock-out menu."""


class ClockIn(Payload, tag="att:in"):
    pass


class ClockOut(Payload, tag="att:out"):
    pass


class SkipLocation(Payload, tag="att:skip"):
    """Clocked in or out without sharing the place."""


class WorkerFilter(Payload, tag="who"):
    """An admin's list of workers to filter the job lists by."""


@dataclass(frozen=True)
class WorkerPage(Payload, tag="who:p"):
    page: int


@dataclass(frozen=True)
class PickWorker(Payload, tag="who"):
    """Filter the lists by this CRM user; 0 shows every worker's jobs again."""

    user_id: int


ALL_WORKERS = 0


class Unbind(Payload, tag="unbind"):
    """Asks before unbinding."""


class UnbindConfirmed(Payload, tag="unbind:yes"):
    pass


class ShareContactFallback(Payload, tag=REQUEST_CONTACT_FALLBACK):
    """What VK sends for a "share my phone" button: it has none, the channel renders a payload button."""


__all__ = [
    "ALL_WORKERS", "AttendanceMenu", "ClockIn", "ClockOut", "FinishUpload", "JobAction", "JobList", "KindMenu",
    "MarkDone", "MeasurementFiles", "Menu", "OpenJob", "Payload", "PickWorker", "SendInstallationPhotos",
    "SendObjectPhotos", "SendSheet", "ShareContactFallback", "SkipLocation", "StartUpload", "TakeJob", "Unbind",
    "UnbindConfirmed", "WorkerFilter", "WorkerPage", "button", "payload_of", "unpack",
]


# --- statistics (crm_plugin.bot.stats) ---------------------------------------------------------------------

class StatsMenu(Payload, tag="st"):
    """The statistics menu: the metrics this person may see, «Сводка», «Подписка»."""


@dataclass(frozen=True)
class StatsMetric(Payload, tag="st:m"):
    """The period picker of one metric (``key``: the CRM's MetricSpec.key; stats.SUMMARY for «Сводка»)."""

    key: str


@dataclass(frozen=True)
class StatsPeriod(Payload, tag="st:p"):
    """A metric (or «Сводка») over a named period, counted at the moment of the tap."""

    key: str
    preset: Preset


@dataclass(frozen=True)
class StatsDetail(Payload, tag="st:d"):
    """A metric's breakdown over exact dates (``period``: stats.Period.token())."""

    key: str
    period: str
    breakdown: Breakdown


class StatsSubscription(Payload, tag="st:sub"):
    """Switch the person's statistics subscription (EmployeeLink.subscribed_stats) on or off."""


__all__ += ["StatsDetail", "StatsMenu", "StatsMetric", "StatsPeriod", "StatsSubscription"]


# --- field staff, second pass (issue 12): files sent anywhere, confirmation, reassignment, who is on shift ------

class ConfirmDone(JobAction, tag="done:yes"):
    """«Замер выполнен» / «Монтаж выполнен» confirmed after the bot showed what goes to the CRM."""


class FilesTo(JobAction, tag="lf"):
    """Files sent outside an upload step (kept in chat state) belong to this job."""


@dataclass(frozen=True)
class FilesAs(JobAction, tag="lf"):
    """...and they are of this kind."""

    file_kind: FileKind


class DropFiles(Payload, tag="lf:drop"):
    """Forget the files sent outside an upload step."""


class Reassign(JobAction, tag="re"):
    """An admin picks another worker for the job."""


@dataclass(frozen=True)
class ReassignTo(JobAction, tag="re"):
    user_id: int


class OnShift(Payload, tag="shift"):
    """An admin's list of who is clocked in now."""


__all__ += ["ConfirmDone", "DropFiles", "FilesAs", "FilesTo", "OnShift", "Reassign", "ReassignTo"]
