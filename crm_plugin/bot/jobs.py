"""Job lists (paginated buttons), the job card, and taking a free measurement request."""

from __future__ import annotations

import logging
from collections.abc import Callable

from ..core.chat import TextReply
from ..core.i18n import translator
from ..host import Job, JobKind, Role, User
from . import labels, offers
from .access import can_take, can_view, can_work_on
from .cards import AWAIT_FILES, assignee_name, list_entry, list_label, show_card
from .context import Context
from .joblists import Period, fetch
from .menu import KIND_KEY, current_kind, show_menu, stale_button
from .payloads import JobAction, JobList, Menu, OpenJob, TakeJob, button, unpack
from .recipients import bound_links, language_of, send_to_link
from .router import Router

log = logging.getLogger(__name__)
Translate = Callable[..., str]

router = Router("jobs")

PAGE_SIZE = 8
BACK_KEY = "_back"  # chat data: the packed JobList a card's "back" button returns to
WORKER_KEY = "_worker"  # chat data: an admin's filter by worker (kept across states)
WORKER_NAME_KEY = "_worker_name"


def job_from_payload(ctx: Context, *, work: bool = False) -> Job | None:
    """The job of the pressed JobAction button if this employee may see it (``work``: change it); otherwise a
    plain refusal. Unknown ids and other people's jobs get the same answer."""
    job_id = ctx.payload(JobAction).job_id
    job = ctx.gateway.get_job(job_id)
    allowed = job is not None and (can_work_on(ctx.employee, job) if work else can_view(ctx.employee, job))
    if not allowed:
        log.warning("bot %s: CRM user %s refused job %s", ctx.turn.bot.id, ctx.employee.id, job_id)
        show_menu(ctx, ctx.t("This job is not available to you."))
        return None
    return job


def back_to_list(ctx: Context) -> JobList | None:
    """The list page the person last looked at, for a card's "back" button."""
    back = unpack(ctx.data.get(BACK_KEY))
    return back if isinstance(back, JobList) else None


def show_list(ctx: Context, kind: JobKind, period: Period, page: int) -> None:
    t = ctx.t
    worker_id = ctx.data.get(WORKER_KEY) if ctx.employee.is_admin else None
    # Only the page shown is read; a page past the end (the list shrank) shows the last one.
    page = max(page, 0)
    found = fetch(ctx.gateway, ctx.employee, kind, period, ctx.today, ctx.tz, worker_id,
                  offset=page * PAGE_SIZE, limit=PAGE_SIZE)
    pages = max(1, -(-found.total // PAGE_SIZE))
    if page > pages - 1:
        page = pages - 1
        found = fetch(ctx.gateway, ctx.employee, kind, period, ctx.today, ctx.tz, worker_id,
                      offset=page * PAGE_SIZE, limit=PAGE_SIZE)
    shown = list(found.jobs)
    here = JobList(kind, period, page)
    ctx.update_data(**{BACK_KEY: here.pack(), KIND_KEY: labels.KIND_CODES[kind]})
    kind_name = t("measurements") if kind is JobKind.MEASUREMENT else t("installations")
    title = f"{t(labels.PERIOD_LABELS[period])} · {kind_name}"
    if worker_id:
        title += " · " + (ctx.data.get(WORKER_NAME_KEY) or str(worker_id))
    if not shown:
        ctx.say(t("%(title)s: nothing here.", title=title), [[button(t(labels.MENU), Menu())]])
        return
    if ctx.state_name == AWAIT_FILES and ctx.data.get("auto"):
        ctx.clear_state()  # back in a list: files no longer follow the card last opened
    with_date = period not in (Period.TODAY, Period.TOMORROW)
    done_date = period is Period.DONE
    entries = [list_entry(ctx, job, with_date, done_date,
                          assignee_name(ctx, job, short=True) if worker_id is None and ctx.employee.is_admin
                          else None) for job in shown]
    rows = [[button(list_label(ctx, job, with_date, done_date), OpenJob(job.id))] for job in shown]
    if pages > 1:
        nav = []
        if page > 0:
            nav.append(button("◀", JobList(kind, period, page - 1)))
        nav.append(button(f"{page + 1}/{pages}", here))
        if page < pages - 1:
            nav.append(button("▶", JobList(kind, period, page + 1)))
        rows.append(nav)
    rows.append([button(t(labels.MENU), Menu())])
    head = t("%(title)s: %(count)d", title=title, count=found.total)
    if pages > 1:
        head += " · " + t("page %(page)d/%(pages)d", page=page + 1, pages=pages)
    ctx.say(head + "\n\n" + "\n\n".join(entries), rows)


@router.button(JobList)
def on_list(ctx: Context) -> None:
    wanted = ctx.payload(JobList)
    if wanted.kind not in ctx.employee.kinds:
        stale_button(ctx)
        return
    show_list(ctx, wanted.kind, wanted.period, wanted.page)


def _typed_list(period: Period) -> Callable[[Context], None]:
    def handler(ctx: Context) -> None:
        kind = current_kind(ctx)
        if kind is None:
            show_menu(ctx)
            return
        show_list(ctx, kind, period, 0)

    handler.__qualname__ = f"typed_list_{period}"
    return handler


for _period, _label in labels.PERIOD_LABELS.items():
    router.text(_label)(_typed_list(_period))


@router.button(OpenJob)
def on_job(ctx: Context) -> None:
    job = job_from_payload(ctx)
    if job is not None:
        ctx.clear_state()  # a pending upload belongs to the job it was started for, not this one
        show_card(ctx, job, back_to_list(ctx))


@router.button(TakeJob)
def on_take(ctx: Context) -> None:
    job = ctx.gateway.get_job(ctx.payload(TakeJob).job_id)
    employee = ctx.employee
    if job is None or job.kind is not JobKind.MEASUREMENT or not (Role.MEASURER in employee.roles
                                                                    or employee.is_admin):
        show_menu(ctx, ctx.t("This job is not available to you."))
        return
    if job.assignee_id == employee.id:
        show_card(ctx, job, back_to_list(ctx))
        return
    # assign_job is one conditional update in the CRM: of two measurers tapping at once, one wins.
    if not can_take(employee, job) or not ctx.gateway.assign_job(job.id, employee.id):
        if not (employee.is_admin or offers.was_offered(ctx.session, job.id, employee.id)):
            # Who has someone else's job is said only to those offered it: a forged take:<id> learns nothing.
            log.warning("bot %s: CRM user %s refused job %s (never offered)", ctx.turn.bot.id, employee.id, job.id)
            show_menu(ctx, ctx.t("This job is not available to you."))
            return
        fresh = ctx.gateway.get_job(job.id) or job
        ctx.say(taken_text(ctx.t, ctx.turn.crm_user, fresh), [[button(ctx.t(labels.MENU), Menu())]])
        return
    taken = ctx.gateway.get_job(job.id) or job
    show_card(ctx, taken, back_to_list(ctx), intro=ctx.t("The request is yours."))
    tell_others_taken(ctx, taken)


def taken_text(t: Translate, user_of: Callable[[int], User | None], job: Job) -> str:
    """``user_of``: the turn's ``crm_user`` (the taker is read once however many people are told)."""
    if job.assignee_id is None:
        return t("Request No. %(number)s can no longer be taken.", number=job.order_number)
    taker = user_of(job.assignee_id)
    return t("Request No. %(number)s has already been taken by %(name)s.", number=job.order_number,
             name=taker.full_name if taker else "—")


def tell_others_taken(ctx: Context, job: Job) -> None:
    """Everyone else offered the same request is told it is gone, so nobody drives there."""
    others = [user_id for user_id in offers.offered_to(ctx.session, job.id) if user_id != ctx.employee.id]
    for link in bound_links(ctx.session, others):
        t = translator(language_of(link, ctx.turn.settings))
        send_to_link(ctx.session, link, TextReply(taken_text(t, ctx.turn.crm_user, job)))
