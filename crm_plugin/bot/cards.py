"""How a job looks: one short line in a list, and the full card with maps and the actions the person may take."""

from __future__ import annotations

from urllib.parse import quote

from ..core.chat import Button, LocationReply
from ..core.i18n import N_
from ..host import Job, JobKind, JobStatus
from ..phones import normalise_phone
from . import labels, offers
from .access import can_take, can_work_on, is_done
from .context import Context
from .payloads import (
    JobList,
    MarkDone,
    MeasurementFiles,
    Menu,
    SendInstallationPhotos,
    SendObjectPhotos,
    SendSheet,
    TakeJob,
    button,
)

LINE_LIMIT = 40  # VK cuts button labels at 40 characters

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


def list_line(ctx: Context, job: Job, with_date: bool) -> str:
    if job.scheduled_at is None:
        when = ctx.t("no time")
    else:
        local = ctx.local(job.scheduled_at)
        when = local.strftime("%d.%m %H:%M" if with_date else "%H:%M")
    head = f"{STATUS_MARKS.get(job.status, '')}{when} · "
    client = short_name(job.client.name)
    room = LINE_LIMIT - len(head) - len(client) - 3
    address = short_address(job.address)
    if len(address) > room:
        address = address[:max(room - 1, 5)].rstrip(" ,") + "…"
    return f"{head}{address} · {client}"[:LINE_LIMIT]


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
    return "\n".join(lines)


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
    nav = [button(t(labels.BACK_TO_LIST), back)] if back else []
    rows.append([*nav, button(t(labels.MENU), Menu())])
    return rows


def show_card(ctx: Context, job: Job, back: JobList | None = None, intro: str | None = None) -> None:
    text = card_text(ctx, job)
    ctx.say(f"{intro}\n\n{text}" if intro else text, card_buttons(ctx, job, back))
    if job.latitude is not None and job.longitude is not None:
        ctx.reply(LocationReply(job.latitude, job.longitude, short_address(job.address)))
