"""The bound employee's menu: job lists of their role(s), attendance, unbinding."""

from __future__ import annotations

import logging
from collections.abc import Callable

from ..core.chat import Button, ButtonPress, Contact
from ..host import JobKind
from . import labels
from .binding import release
from .context import Context
from .joblists import Period
from .payloads import AttendanceMenu, JobList, KindMenu, Menu, OnShift, Unbind, UnbindConfirmed, WorkerFilter, button
from .router import Router

log = logging.getLogger(__name__)

router = Router("menu")

KIND_KEY = "_kind"  # chat data: the kind of jobs whose lists typed labels refer to

# Other features add rows to the main menu here (e.g. statistics for managers): fn(ctx) -> rows.
extra_rows: list[Callable[[Context], list[list[Button]]]] = []


def role_names(ctx: Context) -> str:
    employee = ctx.employee
    names = []
    if employee.is_admin:
        names.append(ctx.t("administrator"))
    names += [ctx.t("measurer") if k is JobKind.MEASUREMENT else ctx.t("installer")
              for k in employee.kinds if not employee.is_admin]
    return ", ".join(names)


def list_rows(ctx: Context, kind: JobKind) -> list[list[Button]]:
    t = ctx.t

    def item(period: Period) -> Button:
        return button(t(labels.PERIOD_LABELS[period]), JobList(kind, period, 0))

    return [[item(Period.NEW), item(Period.TODAY)], [item(Period.TOMORROW), item(Period.UPCOMING)],
            [item(Period.DONE)]]


def show_menu(ctx: Context, intro: str | None = None) -> None:
    t, employee = ctx.t, ctx.employee
    kinds = employee.kinds
    rows: list[list[Button]] = []
    if len(kinds) == 1:
        rows += list_rows(ctx, kinds[0])
        ctx.update_data(**{KIND_KEY: labels.KIND_CODES[kinds[0]]})
    elif kinds:
        rows.append([button(t(labels.MEASUREMENTS), KindMenu(JobKind.MEASUREMENT)),
                     button(t(labels.INSTALLATIONS), KindMenu(JobKind.INSTALLATION))])
    if employee.is_field_worker:
        rows.append([button(t(labels.ATTENDANCE), AttendanceMenu())])
    if employee.is_admin:
        rows.append([button(t(labels.WORKER_FILTER), WorkerFilter()), button(t(labels.ON_SHIFT), OnShift())])
    extras = [row for extra in extra_rows for row in extra(ctx)]
    rows += extras
    rows.append([button(t(labels.UNBIND), Unbind())])
    text = t("Menu (%(roles)s):", roles=role_names(ctx)) if kinds else t("Menu:")
    if not kinds and not extras:  # a feature's hook may have nothing for this person
        text = t("Your CRM role has no jobs in this bot. Ask the administrator if that is a mistake.")
    ctx.say(f"{intro}\n\n{text}" if intro else text, rows)


def show_kind_menu(ctx: Context, kind: JobKind) -> None:
    ctx.update_data(**{KIND_KEY: labels.KIND_CODES[kind]})
    title = ctx.t("Measurements:") if kind is JobKind.MEASUREMENT else ctx.t("Installations:")
    ctx.say(title, [*list_rows(ctx, kind), [button(ctx.t(labels.MENU), Menu())]])


def current_kind(ctx: Context) -> JobKind | None:
    """The kind typed labels refer to: the one last opened, else the person's first."""
    kinds = ctx.employee.kinds
    chosen = labels.KINDS_BY_CODE.get(ctx.data.get(KIND_KEY, ""))
    if chosen in kinds:
        return chosen
    return kinds[0] if kinds else None


@router.start()
@router.button(Menu)
@router.text(labels.MENU)
@router.command("start", "menu", "help")
def on_menu(ctx: Context) -> None:
    ctx.clear_state()
    show_menu(ctx)


@router.button(KindMenu)
def on_kind_menu(ctx: Context) -> None:
    kind = ctx.payload(KindMenu).kind
    if kind not in ctx.employee.kinds:
        stale_button(ctx)
        return
    show_kind_menu(ctx, kind)


@router.text(labels.MEASUREMENTS)
def on_measurements_typed(ctx: Context) -> None:
    _typed_kind(ctx, JobKind.MEASUREMENT)


@router.text(labels.INSTALLATIONS)
def on_installations_typed(ctx: Context) -> None:
    _typed_kind(ctx, JobKind.INSTALLATION)


def _typed_kind(ctx: Context, kind: JobKind) -> None:
    if kind in ctx.employee.kinds:
        show_kind_menu(ctx, kind)
    else:
        show_menu(ctx)


@router.button(Unbind)
@router.text(labels.UNBIND)
def on_unbind(ctx: Context) -> None:
    t = ctx.t
    ctx.say(t("Unbind this messenger account from %(name)s? You will stop getting jobs here.",
              name=ctx.employee.user.full_name),
            [[button(t(labels.UNBIND_YES), UnbindConfirmed()), button(t(labels.CANCEL), Menu())]])


@router.button(UnbindConfirmed)
def on_unbind_confirmed(ctx: Context) -> None:
    assert ctx.link is not None
    release(ctx.link)
    ctx.clear_state()
    t = ctx.t
    ctx.say(t("Done: this account is unbound. To bind it again, tap “%(button)s”.", button=t(labels.SHARE_PHONE)),
            [[Button.share_contact(t(labels.SHARE_PHONE))]])


@router.event(Contact)
def on_contact_when_bound(ctx: Context) -> None:
    show_menu(ctx, ctx.t("You are already signed in as %(name)s.", name=ctx.employee.user.full_name))


@router.fallback(ButtonPress)
def on_unknown_button(ctx: Context) -> None:
    """A payload no route takes: forged, malformed, or from a version of the bot long gone."""
    assert isinstance(ctx.event, ButtonPress)
    log.info("bot %s: CRM user %s pressed an unknown button %r", ctx.turn.bot.id, ctx.employee.id,
             ctx.event.payload[:80])
    stale_button(ctx)


@router.fallback()
def on_not_understood(ctx: Context) -> None:
    show_menu(ctx, ctx.t("I did not understand that. Choose an item of the menu."))


def stale_button(ctx: Context) -> None:
    """A payload that is malformed, outdated or forged: a plain answer and the menu."""
    show_menu(ctx, ctx.t("This button is no longer valid."))
