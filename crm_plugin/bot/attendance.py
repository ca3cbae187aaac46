"""Clocking in and out ("Пришёл" / "Ушёл"), with the place when the person shares their location."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..core.chat import Button, Location
from ..core.models import Attendance
from . import labels
from .context import Context
from .menu import show_menu
from .payloads import AttendanceMenu, ClockIn, ClockOut, Menu, SkipLocation, button
from .router import Router

router = Router("attendance")

AWAIT_LOCATION = "await_location"


def open_shift(session: Session, crm_user_id: int) -> Attendance | None:
    """The shift clocked in and not yet out (locked: two taps at once cannot both open one)."""
    stmt = (select(Attendance).where(Attendance.crm_user_id == crm_user_id, Attendance.ended_at.is_(None))
            .order_by(Attendance.started_at.desc()).with_for_update())
    return session.scalars(stmt).first()


def _when(ctx: Context, moment: datetime) -> str:
    local = ctx.local(moment)
    return local.strftime("%H:%M") if local.date() == ctx.today else local.strftime("%d.%m %H:%M")


def _location_buttons(ctx: Context) -> list[list[Button]]:
    return [[Button.share_location(ctx.t(labels.SHARE_LOCATION))], [button(ctx.t(labels.SKIP), SkipLocation())]]


@router.button(AttendanceMenu)
@router.text(labels.ATTENDANCE)
def on_attendance(ctx: Context) -> None:
    t = ctx.t
    shift = open_shift(ctx.session, ctx.employee.id)
    status = (t("You clocked in at %(time)s.", time=_when(ctx, shift.started_at)) if shift
              else t("You are not clocked in."))
    ctx.say(status, [[button(t(labels.ARRIVED), ClockIn()), button(t(labels.LEFT), ClockOut())],
                     [button(t(labels.MENU), Menu())]])


@router.button(ClockIn)
@router.text(labels.ARRIVED)
def on_clock_in(ctx: Context) -> None:
    t = ctx.t
    shift = open_shift(ctx.session, ctx.employee.id)
    if shift is not None:
        ctx.say(t("You already clocked in at %(time)s and have not clocked out. Tap “%(left)s” first.",
                  time=_when(ctx, shift.started_at), left=t(labels.LEFT)),
                [[button(t(labels.LEFT), ClockOut())]])
        return
    shift = Attendance(crm_user_id=ctx.employee.id, bot_id=ctx.turn.bot.id, started_at=ctx.now)
    ctx.session.add(shift)
    ctx.session.flush()
    ctx.set_state(AWAIT_LOCATION, attendance_id=shift.id, end=False)
    ctx.say(t("Clocked in at %(time)s. Send your location to record the place (optional).",
              time=_when(ctx, ctx.now)), _location_buttons(ctx))


@router.button(ClockOut)
@router.text(labels.LEFT)
def on_clock_out(ctx: Context) -> None:
    t = ctx.t
    shift = open_shift(ctx.session, ctx.employee.id)
    if shift is None:
        ctx.say(t("You have not clocked in, so there is nothing to clock out of. Tap “%(arrived)s” when you "
                  "start work.", arrived=t(labels.ARRIVED)), [[button(t(labels.ARRIVED), ClockIn())]])
        return
    shift.ended_at = ctx.now
    minutes = int((ctx.now - shift.started_at).total_seconds() // 60)
    ctx.set_state(AWAIT_LOCATION, attendance_id=shift.id, end=True)
    ctx.say(t("Clocked out at %(time)s. Worked %(hours)d h %(minutes)02d min. Send your location to record the "
              "place (optional).", time=_when(ctx, ctx.now), hours=minutes // 60, minutes=minutes % 60),
            _location_buttons(ctx))


@router.state(AWAIT_LOCATION, Location)
def on_location(ctx: Context) -> None:
    assert isinstance(ctx.event, Location)
    data = ctx.data
    shift = ctx.session.get(Attendance, data.get("attendance_id"))
    ctx.clear_state()
    if shift is None or shift.crm_user_id != ctx.employee.id:
        show_menu(ctx)
        return
    if data.get("end"):
        shift.end_latitude, shift.end_longitude = ctx.event.latitude, ctx.event.longitude
    else:
        shift.start_latitude, shift.start_longitude = ctx.event.latitude, ctx.event.longitude
    show_menu(ctx, ctx.t("Location recorded."))


@router.button(SkipLocation)
@router.text(labels.SKIP)
def on_skip(ctx: Context) -> None:
    ctx.clear_state()
    show_menu(ctx, ctx.t("Done, without the place."))  # a paragraph of its own: it takes the location keyboard away


@router.event(Location)
def on_location_unexpected(ctx: Context) -> None:
    show_menu(ctx, ctx.t("A location is recorded only when you clock in or out."))
