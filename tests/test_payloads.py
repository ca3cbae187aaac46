"""Button payloads: every kind packs to the wire string the bot has always sent and unpacks back; anything
else unpacks to None, never to an exception."""

from __future__ import annotations

from dataclasses import dataclass, fields

import pytest

from crm_plugin.bot import payloads
from crm_plugin.bot.joblists import Period
from crm_plugin.bot.payloads import (
    ALL_WORKERS,
    AttendanceMenu,
    ClockIn,
    ClockOut,
    ConfirmDone,
    DropFiles,
    FilesAs,
    FilesTo,
    FinishUpload,
    JobList,
    KindMenu,
    MarkDone,
    MeasurementFiles,
    Menu,
    OnShift,
    OpenJob,
    Payload,
    PickWorker,
    Reassign,
    ReassignTo,
    SendInstallationPhotos,
    SendObjectPhotos,
    SendSheet,
    ShareContactFallback,
    SkipLocation,
    StartUpload,
    StatsDetail,
    StatsMenu,
    StatsMetric,
    StatsPeriod,
    StatsSubscription,
    TakeJob,
    Unbind,
    UnbindConfirmed,
    WorkerFilter,
    WorkerPage,
    button,
    payload_of,
    unpack,
)
from crm_plugin.core.chat import REQUEST_CONTACT_FALLBACK, ButtonKind, ButtonPress, Text
from crm_plugin.host import Breakdown, FileKind, JobKind
from crm_plugin.stats.periods import Preset

BIG = 2**63 - 1

# Every kind with the exact string it travels as (buttons already in people's chats carry these).
WIRE: list[tuple[Payload, str]] = [
    (Menu(), "menu"),
    (KindMenu(JobKind.MEASUREMENT), "menu:me"),
    (KindMenu(JobKind.INSTALLATION), "menu:in"),
    (JobList(JobKind.MEASUREMENT, Period.TODAY, 0), "list:me:today:0"),
    (JobList(JobKind.INSTALLATION, Period.UPCOMING, 12), "list:in:upcoming:12"),
    (JobList(JobKind.MEASUREMENT, Period.DONE, BIG), f"list:me:done:{BIG}"),
    (OpenJob(12), "job:12"),
    (OpenJob(0), "job:0"),
    (OpenJob(BIG), f"job:{BIG}"),
    (TakeJob(5), "take:5"),
    (SendObjectPhotos(7), "photos:7"),
    (SendSheet(7), "sheet:7"),
    (SendInstallationPhotos(7), "iphotos:7"),
    (FinishUpload(7), "finish:7"),
    (MarkDone(7), "done:7"),
    (MeasurementFiles(7), "files:7"),
    (AttendanceMenu(), "att"),
    (ClockIn(), "att:in"),
    (ClockOut(), "att:out"),
    (SkipLocation(), "att:skip"),
    (WorkerFilter(), "who"),
    (WorkerPage(3), "who:p:3"),
    (PickWorker(42), "who:42"),
    (PickWorker(ALL_WORKERS), "who:0"),
    (Unbind(), "unbind"),
    (UnbindConfirmed(), "unbind:yes"),
    (ShareContactFallback(), REQUEST_CONTACT_FALLBACK),
    (StatsMenu(), "st"),
    (StatsMetric("revenue"), "st:m:revenue"),
    (StatsPeriod("installations_done", Preset.LAST_MONTH), "st:p:installations_done:last_month"),
    (StatsDetail("installations_done", "20261101-20261130-last_month", Breakdown.LEAD_SOURCE),
     "st:d:installations_done:20261101-20261130-last_month:lead_source"),  # the longest shape: 64 bytes
    (StatsSubscription(), "st:sub"),
    (ConfirmDone(7), "done:yes:7"),
    (FilesTo(7), "lf:7"),
    (FilesAs(7, FileKind.MEASUREMENT_SHEET), "lf:7:measurement_sheet"),
    (DropFiles(), "lf:drop"),
    (Reassign(7), "re:7"),
    (ReassignTo(7, BIG), f"re:7:{BIG}"),
    (OnShift(), "shift"),
]


@pytest.mark.parametrize("payload, wire", WIRE, ids=[w for _, w in WIRE])
def test_round_trip(payload: Payload, wire: str) -> None:
    assert payload.pack() == wire
    assert unpack(wire) == payload and type(unpack(wire)) is type(payload)
    assert payload_of(ButtonPress(wire)) == payload


def test_every_kind_is_covered_and_shapes_do_not_collide() -> None:
    registered = {kind for kinds in payloads._KINDS.values() for kind in kinds if kind.__module__ == payloads.__name__}
    assert registered == {type(p) for p, _ in WIRE}
    shapes = [(kind.tag, len(fields(kind))) for kind in registered]
    assert len(shapes) == len(set(shapes))


def test_kinds_with_the_same_fields_are_different_payloads() -> None:
    assert OpenJob(5) != TakeJob(5) and unpack("job:5") != unpack("take:5")
    assert StartUpload.of(FileKind.MEASUREMENT_SHEET, 3) == SendSheet(3)
    assert StartUpload.of(FileKind.INSTALLATION_PHOTO, 3).pack() == "iphotos:3"


@pytest.mark.parametrize("text", [
    "job:²",  # str.isdigit() says yes, int() says no
    "job:٣", "job:３",  # Arabic-Indic and full-width digits
    "job:-1", "job:+1", "job: 1", "job:1 ", "job:1.0", "job:1e3", "job:0x1f", "job:01", "job:1_000",
    "job:99999999999999999999", f"job:{BIG + 1}",
    "job:1:2", "job:", "job", ":1", "job::1", "take", "list:me:today", "list:me:today:0:0",
    "list:xx:today:0", "list:me:someday:0", "list:me:TODAY:0", "list:measurement:today:0",
    "menu:", "menu:xx", "menu:me:1", "att:", "att:in:1", "att:nope", "who:p", "who:p:x", "who:x", "who:1:2",
    "unbind:no", "request_contact:1", "MENU", "Job:1", " job:1",
    "", ":", "x" * 100, "job:" + "1" * 100, "\ud800", "job:\ud800", "\x00", "job:\x00", "job:1\x00",
    "меню", "job:١",
])
def test_malformed_payloads_unpack_to_none(text: str) -> None:
    assert unpack(text) is None
    assert payload_of(ButtonPress(text)) is None


def test_only_pressed_buttons_have_a_payload() -> None:
    assert payload_of(Text("job:5")) is None
    assert unpack(None) is None and unpack(b"job:5") is None and unpack(5) is None


def test_pack_refuses_what_unpack_would_refuse() -> None:
    for bad in (OpenJob(-1), OpenJob(BIG + 1)):
        with pytest.raises(ValueError):
            bad.pack()
    with pytest.raises(TypeError):
        WorkerPage(True).pack()  # a bool is an int to Python, not a page number
    with pytest.raises(ValueError, match="no tag"):
        payloads.JobAction(1).pack()


@dataclass(frozen=True)
class _Note(Payload, tag="test-note"):
    """A kind with a free string field, defined here only to reach Telegram's limit."""

    text: str


def test_the_telegram_limit_is_checked_when_the_button_is_built() -> None:
    fits = _Note("a" * (64 - len("test-note:")))
    assert len(fits.pack().encode()) == 64 and unpack(fits.pack()) == fits
    too_long = _Note("a" * (65 - len("test-note:")))
    with pytest.raises(ValueError, match=r"_Note.*65 bytes.*64-byte"):
        button("Note", too_long)
    with pytest.raises(ValueError):
        _Note("a:b").pack()  # the separator cannot hide in a field
    made = button("Open", OpenJob(12))
    assert (made.kind, made.payload, made.label) == (ButtonKind.PAYLOAD, "job:12", "Open")
