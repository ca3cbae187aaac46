"""How a job looks: a button and an entry in a list, and the full card with maps and the actions the person may
take. Opening a card the person works on makes the chat follow that job: files sent next go to it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from urllib.parse import quote

from ..core.chat import Button, LocationReply
from ..core.i18n import N_
from ..host import FileKind, Job, JobKind, JobStatus
from ..phones import normalise_phone
from . import labels, offers
from .access import can_take, can_work_on, is_done
from .context import Context
from .payloads import (
    JobList,
    MarkDone,
    MeasurementFiles,
    Menu,
    Reassign,
    SendInstallationPhotos,
    SendObjectPhotos,
    SendSheet,
    TakeJob,
    button,
)

LINE_LIMIT = 40  # VK cuts button labels at 40 characters
AWAIT_FILES = "await_files"  # the chat's state while files go to one job (crm_plugin.bot.reports)
RECENT_KEY = "_recent_jobs"  # chat data: the jobs last opened, newest first (kept across states)
_RECENT = 5

STATUS_NAMES = {
    JobStatus.NEW: N_("new"),
    JobStatus.SCHEDULED: N_("scheduled"),
    JobStatus.MEASURED: N_("measured"),
    JobStatus.INSTALLED: N_("installed"),
    JobStatus.CANCELLED: N_("cancelled"),
}
STATUS_MARKS = {JobStatus.MEASURED: "✅ ", JobStatus.INSTALLED: "✅ ", JobStatus.CANCELLED: "✖ "}
_CITY_PREFIXES = ("г.", "г ", "город", "россия", "москва", "санкт-петербург", "казань")


def short_address(address: str) -> str:
    """'г. Москва, ул. Ленина, д. 5, кв. 12' -> 'ул. Ленина, д. 5': the city is the same for every job."""
    parts = [p.strip() for p in address.split(",") if p.strip()]
    while len(parts) > 1 and parts[0].lower().startswith(_CITY_PREFIXES):
        parts = parts[1:]
    return ", ".join(parts[:2])


def short_name(name: str) -> str:
    """'Иванов Иван Петрович' -> 'Иванов И.'"""
    words = name.split()
    if len(words) < 2:
        return name
    return f"{words[0]} {words[1][0]}."


_STREET_WORDS = (("улица ", "ул. "), ("проспект ", "пр-т "), ("переулок ", "пер. "), ("бульвар ", "б-р "),
                 ("шоссе ", "ш. "), ("набережная ", "наб. "), ("площадь ", "пл. "))
_HOUSE_PREFIXES = ("д.", "д ", "дом ")
_BUILDING_PREFIXES = ("корп", "к.", "стр", "лит")


def compact_address(address: str) -> str:
    """'г. Казань, ул. Баумана, д. 19, корп. 2, кв. 7' -> 'ул. Баумана, 19 к2': the street and the whole house
    number in few characters (the city is every job's, the flat is on the card)."""
    parts = [p.strip() for p in address.split(",") if p.strip()]
    while len(parts) > 1 and parts[0].lower().startswith(_CITY_PREFIXES):
        parts = parts[1:]
    if not parts:
        return address.strip()
    street = parts[0]
    for long, short in _STREET_WORDS:
        if street.lower().startswith(long):
            street = short + street[len(long):]
    house = ""
    for part in parts[1:3]:
        low = part.lower()
        if not house and low.startswith(_HOUSE_PREFIXES):
            house = part.split(None, 1)[1] if " " in part else part[2:]
        elif not house and low[:1].isdigit():
            house = part
        elif house and low.startswith(_BUILDING_PREFIXES):
            digits = part.split(None, 1)[1] if " " in part else part.lstrip("корпстлиж.")
            house += f" {low[0]}{digits}"
    return f"{street}, {house.strip()}" if house else street


def _when(ctx: Context, job: Job, with_date: bool, done_date: bool) -> str:
    """The job's mark and time as a list shows it: '✅ 04.03 10:00'."""
    moment = done_at(job) if done_date else job.scheduled_at
    if moment is None:
        when = ctx.t("no time")
    else:
        local = ctx.local(moment)
        when = local.strftime("%d.%m" if done_date else "%d.%m %H:%M" if with_date else "%H:%M")
    return f"{STATUS_MARKS.get(job.status, '')}{when}"


def list_label(ctx: Context, job: Job, with_date: bool, done_date: bool = False) -> str:
    """A list's button: the time and the street with the whole house number (VK's 40 characters)."""
    head = f"{_when(ctx, job, with_date, done_date)} · "
    address = compact_address(job.address)
    room = LINE_LIMIT - len(head)
    if len(address) > room:  # cut the street's name, never the house number
        street, _, house = address.rpartition(", ")
        keep = max(room - len(house) - 3, 4)
        address = f"{street[:keep].rstrip()}…, {house}" if street else address[:room - 1] + "…"
    return f"{head}{address}"[:LINE_LIMIT]


def list_entry(ctx: Context, job: Job, with_date: bool, done_date: bool = False, assignee: str | None = None) -> str:
    """The list message's entry of a job: time and client on a line, the street and house on the next (the
    button may be cut by the platform; the text wraps), the assignee for admins, the day it was done."""
    first = [_when(ctx, job, with_date, done_date), short_name(job.client.name)]
    if assignee is not None:
        first.append(assignee)
    return " · ".join(first) + "\n" + compact_address(job.address)


def done_at(job: Job) -> datetime | None:
    """When the job was done: the host's done time when its contract gives one, else its last change."""
    moment = job.done_at or job.updated_at
    return moment if is_done(job) else None


def phone_of(job: Job) -> str | None:
    for raw in job.client.phones:
        if normalise_phone(raw):
            return normalise_phone(raw)
    return job.client.phones[0] if job.client.phones else None


def yandex_url(job: Job) -> str:
    if job.latitude is not None and job.longitude is not None:
        return f"https://yandex.ru/maps/?pt={job.longitude},{job.latitude}&z=17&l=map"
    return f"https://yandex.ru/maps/?text={quote(job.address)}"


def osm_url(job: Job) -> str:
    if job.latitude is not None and job.longitude is not None:
        return (f"https://www.openstreetmap.org/?mlat={job.latitude}&mlon={job.longitude}"
                f"#map=17/{job.latitude}/{job.longitude}")
    return f"https://www.openstreetmap.org/search?query={quote(job.address)}"


def card_text(ctx: Context, job: Job) -> str:
    t = ctx.t
    title = (t("Measurement No. %(number)s") if job.kind is JobKind.MEASUREMENT
             else t("Installation No. %(number)s")) % {"number": job.order_number}
    lines = [f"{title} · {t(STATUS_NAMES[job.status])}", t("Client: %(name)s", name=job.client.name)]
    phone = phone_of(job)
    if phone:
        # A plain +7… number with no spaces: every messenger makes it tappable (Telegram refuses tel: URL
        # buttons, and spaces break some apps' detection).
        lines.append(t("Phone: %(phone)s", phone=phone))
    lines.append(t("Address: %(address)s", address=job.address))
    when = ctx.local(job.scheduled_at).strftime("%d.%m.%Y %H:%M") if job.scheduled_at else t("not set")
    lines.append(t("Time: %(when)s", when=when))
    if job.manager_comment:
        lines.append(t("Manager's comment: %(comment)s", comment=job.manager_comment))
    if ctx.employee.is_admin:
        lines.append(t("Assignee: %(name)s", name=assignee_name(ctx, job)))
    return "\n".join(lines)


def assignee_name(ctx: Context, job: Job, short: bool = False) -> str:
    user = ctx.turn.crm_user(job.assignee_id) if job.assignee_id is not None else None
    if user is None:
        return ctx.t("nobody")
    return short_name(user.full_name) if short else user.full_name


def card_buttons(ctx: Context, job: Job, back: JobList | None = None) -> list[list[Button]]:
    t, employee = ctx.t, ctx.employee
    rows = [[Button.link(t(labels.YANDEX_MAPS), yandex_url(job)), Button.link(t(labels.OSM), osm_url(job))]]
    if can_take(employee, job) and job.assignee_id is None:
        rows.append([button(t(labels.TAKE), TakeJob(job.id))])
        offers.record(ctx.session, job.id, [employee.id])
    elif can_work_on(employee, job):
        if job.kind is JobKind.MEASUREMENT:
            rows.append([button(t(labels.SEND_OBJECT_PHOTOS), SendObjectPhotos(job.id))])
            rows.append([button(t(labels.SEND_SHEET), SendSheet(job.id))])
            if not is_done(job):
                rows.append([button(t(labels.MEASUREMENT_DONE), MarkDone(job.id))])
        else:
            rows.append([button(t(labels.SHEET_AND_PHOTOS), MeasurementFiles(job.id))])
            rows.append([button(t(labels.INSTALLATION_PHOTOS), SendInstallationPhotos(job.id))])
            if not is_done(job):
                rows.append([button(t(labels.INSTALLATION_DONE), MarkDone(job.id))])
    if employee.is_admin and not is_done(job) and job.status is not JobStatus.CANCELLED:
        rows.append([button(t(labels.REASSIGN), Reassign(job.id))])
    nav = [button(t(labels.BACK_TO_LIST), back)] if back else []
    rows.append([*nav, button(t(labels.MENU), Menu())])
    return rows


def finish_buttons(t: Callable[..., str], job: Job) -> list[Button]:
    """What finishes a job, for a notification: the person sends files straight from it."""
    if job.kind is JobKind.MEASUREMENT:
        return [button(t(labels.SEND_OBJECT_PHOTOS), SendObjectPhotos(job.id)),
                button(t(labels.SEND_SHEET), SendSheet(job.id))]
    return [button(t(labels.INSTALLATION_PHOTOS), SendInstallationPhotos(job.id))]


def follow_job(ctx: Context, job: Job) -> None:
    """Files sent next go to ``job`` (a photo as its photos, a PDF as the sheet) with no further tap."""
    kind = FileKind.OBJECT_PHOTO if job.kind is JobKind.MEASUREMENT else FileKind.INSTALLATION_PHOTO
    ctx.set_state(AWAIT_FILES, job_id=job.id, file_kind=kind.value, count=0, groups=[], auto=True)


def remember_opened(ctx: Context, job: Job) -> None:
    recent = [job.id] + [i for i in ctx.data.get(RECENT_KEY, []) if i != job.id]
    ctx.update_data(**{RECENT_KEY: recent[:_RECENT]})


def show_card(ctx: Context, job: Job, back: JobList | None = None, intro: str | None = None) -> None:
    remember_opened(ctx, job)
    if can_work_on(ctx.employee, job):
        follow_job(ctx, job)
    text = card_text(ctx, job)
    ctx.say(f"{intro}\n\n{text}" if intro else text, card_buttons(ctx, job, back))
    if job.latitude is not None and job.longitude is not None:
        ctx.reply(LocationReply(job.latitude, job.longitude, short_address(job.address)))
