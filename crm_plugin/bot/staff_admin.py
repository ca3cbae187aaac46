"""An admin's tools in the bot: giving a job to another worker, and who is on shift now.

Reassignment goes through the CRM (``CrmGateway.assign_job(..., replacing=...)``, one atomic change): the new
assignee gets the company's «Заявка передана вам» notification with the buttons that finish the job, the
previous one is told it is no longer theirs.
"""

from __future__ import annotations

import logging

from sqlalchemy import select

from ..core.chat import TextReply
from ..core.i18n import translator
from ..core.models import Attendance
from ..host import Job, JobKind, JobStatus, Role, User
from . import labels, templates
from .access import is_done
from .cards import finish_buttons, short_name, show_card
from .context import Context
from .jobs import back_to_list, job_from_payload
from .menu import show_menu
from .payloads import Menu, OnShift, OpenJob, Reassign, ReassignTo, button
from .recipients import bound_links, language_of, send_to_link
from .router import Router

log = logging.getLogger(__name__)

router = Router("staff_admin")

ROLE_OF_KIND = {JobKind.MEASUREMENT: Role.MEASURER, JobKind.INSTALLATION: Role.INSTALLER}
MAX_WORKERS = 30


def _admin_only(ctx: Context) -> bool:
    if ctx.employee.is_admin:
        return True
    show_menu(ctx, ctx.t("This is only for administrators."))
    return False


def workers_for(ctx: Context, job: Job) -> list[User]:
    return [u for u in ctx.gateway.list_users(role=ROLE_OF_KIND[job.kind]) if u.id != job.assignee_id]


@router.button(Reassign)
def on_reassign(ctx: Context) -> None:
    if not _admin_only(ctx):
        return
    job = job_from_payload(ctx)
    if job is None:
        return
    t = ctx.t
    if is_done(job) or job.status is JobStatus.CANCELLED:
        show_card(ctx, job, back_to_list(ctx), intro=t("A done or cancelled job cannot be given to someone else."))
        return
    workers = workers_for(ctx, job)[:MAX_WORKERS]
    rows = [[button(u.full_name[:40], ReassignTo(job.id, u.id))] for u in workers]
    rows.append([button(t(labels.CANCEL), OpenJob(job.id))])
    ctx.say(t("Order No. %(number)s: who should do it?", number=job.order_number) if workers
            else t("There is nobody else with this role."), rows)


@router.button(ReassignTo)
def on_reassign_to(ctx: Context) -> None:
    if not _admin_only(ctx):
        return
    job = job_from_payload(ctx)
    if job is None:
        return
    t = ctx.t
    new = next((u for u in workers_for(ctx, job) if u.id == ctx.payload(ReassignTo).user_id), None)
    if new is None:
        show_card(ctx, job, back_to_list(ctx), intro=t("This button is no longer valid."))
        return
    previous = job.assignee_id
    if not ctx.gateway.assign_job(job.id, new.id, replacing=previous):
        fresh = ctx.gateway.get_job(job.id) or job
        show_card(ctx, fresh, back_to_list(ctx), intro=t("The job changed meanwhile and was not reassigned."))
        return
    moved = ctx.gateway.get_job(job.id) or job
    log.info("job %s reassigned from %s to %s by CRM user %s", job.id, previous, new.id, ctx.employee.id)
    told = _tell_new(ctx, moved, new)
    if previous is not None:
        _tell_previous(ctx, moved, previous, new)
    intro = t("Order No. %(number)s is now %(name)s's.", number=job.order_number, name=new.full_name)
    if not told:
        intro += "\n" + t("%(name)s has no bot bound: tell them yourself.", name=new.full_name)
    show_card(ctx, moved, back_to_list(ctx), intro=intro)


def _tell_new(ctx: Context, job: Job, user: User) -> int:
    links = bound_links(ctx.session, [user.id])
    for link in links:
        language = language_of(link, ctx.turn.settings)
        t = translator(language)
        text = templates.render_for(ctx.session, "reassigned", language,
                                    templates.job_values(job, ctx.tz, language))
        send_to_link(ctx.session, link, TextReply(text, ((button(t(labels.OPEN), OpenJob(job.id)),),
                                                         tuple(finish_buttons(t, job)))))
    return len(links)


def _tell_previous(ctx: Context, job: Job, user_id: int, new: User) -> None:
    for link in bound_links(ctx.session, [user_id]):
        t = translator(language_of(link, ctx.turn.settings))
        send_to_link(ctx.session, link, TextReply(
            t("Order No. %(number)s (%(address)s) has been given to %(name)s. You no longer need to go there.",
              number=job.order_number, address=job.address, name=short_name(new.full_name))))


@router.button(OnShift)
@router.text(labels.ON_SHIFT)
def on_shift(ctx: Context) -> None:
    """Who is clocked in now, since when; the place when they shared it."""
    if not _admin_only(ctx):
        return
    t = ctx.t
    shifts = list(ctx.session.scalars(select(Attendance).where(Attendance.ended_at.is_(None))
                                      .order_by(Attendance.started_at)))
    lines = []
    for shift in shifts:
        user = ctx.turn.crm_user(shift.crm_user_id)
        local = ctx.local(shift.started_at)
        since = local.strftime("%H:%M") if local.date() == ctx.today else local.strftime("%d.%m %H:%M")
        line = t("%(name)s, since %(time)s", name=user.full_name if user else f"#{shift.crm_user_id}", time=since)
        if shift.start_latitude is not None and shift.start_longitude is not None:
            line += f" · https://yandex.ru/maps/?pt={shift.start_longitude},{shift.start_latitude}&z=17"
        lines.append(line)
    text = (t("On shift now: %(count)d", count=len(lines)) + "\n" + "\n".join(lines) if lines
            else t("Nobody is clocked in now."))
    ctx.say(text, [[button(t(labels.MENU), Menu())]])
