"""Job lists (paginated buttons), the job card, and taking a free measurement request."""

from __future__ import annotations

import logging

from collections.abc import Callable

from ..chat import Button, TextReply
from ..host import CrmGateway, Job, JobKind, Role
from ..i18n import translator
from . import labels
from .access import can_take, can_view, can_work_on
from .cards import list_line, show_card
from .context import Context
from .joblists import fetch
from .menu import KIND_KEY, current_kind, show_menu, stale_button
from .notify import bound_links, language_of, send_to_link
from .router import Router, payload_int, payload_parts

log = logging.getLogger(__name__)
Translate = Callable[..., str]

router = Router("jobs")

PAGE_SIZE = 8
BACK_KEY = "_back"  # chat data: the list page a card's "back" button returns to
WORKER_KEY = "_worker"  # chat data: an admin's filter by worker (kept across states)
WORKER_NAME_KEY = "_worker_name"


def load_job(ctx: Context, raw_id: str | None, *, work: bool = False) -> Job | None:
    """The job of a payload if this employee may see it (``work``: change it); otherwise a plain refusal.

    Unknown ids and other people's jobs get the same answer.
    """
    job_id = payload_int(raw_id or "")
    job = ctx.gateway.get_job(job_id) if job_id is not None else None
    allowed = job is not None and (can_work_on(ctx.employee, job) if work else can_view(ctx.employee, job))
    if not allowed:
        log.warning("bot %s: CRM user %s refused job payload %r", ctx.turn.bot.id, ctx.employee.id, raw_id)
        show_menu(ctx, ctx.t("This job is not available to you."))
        return None
    return job


def job_from_payload(ctx: Context, *, work: bool = False) -> Job | None:
    """The job named by a one-field button payload (``job:42``), checked as load_job checks it."""
    parts = payload_parts(ctx.event, 1)
    return load_job(ctx, parts[0] if parts else None, work=work)


def show_list(ctx: Context, kind: JobKind, period: str, page: int) -> None:
    t = ctx.t
    worker_id = ctx.data.get(WORKER_KEY) if ctx.employee.is_admin else None
    jobs = fetch(ctx.gateway, ctx.employee, kind, period, ctx.today, ctx.tz, worker_id)
    code = labels.KIND_CODES[kind]
    pages = max(1, -(-len(jobs) // PAGE_SIZE))
    page = min(max(page, 0), pages - 1)
    shown = jobs[page * PAGE_SIZE:(page + 1) * PAGE_SIZE]
    here = f"list:{code}:{period}:{page}"
    ctx.update_data(**{BACK_KEY: here, KIND_KEY: code})
    kind_name = t("measurements") if kind is JobKind.MEASUREMENT else t("installations")
    title = f"{t(labels.PERIOD_LABELS[period])} · {kind_name}"
    if worker_id:
        title += " · " + (ctx.data.get(WORKER_NAME_KEY) or str(worker_id))
    if not jobs:
        ctx.say(t("%(title)s: nothing here.", title=title), [[Button.action(t(labels.MENU), "menu")]])
        return
    with_date = period not in ("today", "tomorrow")
    rows = [[Button.action(list_line(ctx, job, with_date), f"job:{job.id}")] for job in shown]
    if pages > 1:
        nav = []
        if page > 0:
            nav.append(Button.action("◀", f"list:{code}:{period}:{page - 1}"))
        nav.append(Button.action(f"{page + 1}/{pages}", here))
        if page < pages - 1:
            nav.append(Button.action("▶", f"list:{code}:{period}:{page + 1}"))
        rows.append(nav)
    rows.append([Button.action(t(labels.MENU), "menu")])
    ctx.say(t("%(title)s: %(count)d", title=title, count=len(jobs)), rows)


@router.button("list:")
def on_list(ctx: Context) -> None:
    parts = payload_parts(ctx.event, 3)
    kind = labels.KINDS_BY_CODE.get(parts[0]) if parts else None
    page = payload_int(parts[2]) if parts else None
    if parts is None or kind is None or kind not in ctx.employee.kinds or parts[1] not in labels.PERIODS \
            or page is None:
        stale_button(ctx)
        return
    show_list(ctx, kind, parts[1], page)


def _typed_list(period: str) -> Callable[[Context], None]:
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


@router.button("job:")
def on_job(ctx: Context) -> None:
    job = job_from_payload(ctx)
    if job is not None:
        ctx.clear_state()  # a pending upload belongs to the job it was started for, not this one
        show_card(ctx, job, ctx.data.get(BACK_KEY))


@router.button("take:")
def on_take(ctx: Context) -> None:
    parts = payload_parts(ctx.event, 1)
    job_id = payload_int(parts[0]) if parts else None
    job = ctx.gateway.get_job(job_id) if job_id is not None else None
    employee = ctx.employee
    if job is None or job.kind is not JobKind.MEASUREMENT or not (Role.MEASURER in employee.roles
                                                                    or employee.is_admin):
        show_menu(ctx, ctx.t("This job is not available to you."))
        return
    if job.assignee_id == employee.id:
        show_card(ctx, job, ctx.data.get(BACK_KEY))
        return
    # assign_job is one conditional update in the CRM: of two measurers tapping at once, one wins.
    if not can_take(employee, job) or not ctx.gateway.assign_job(job.id, employee.id):
        fresh = ctx.gateway.get_job(job.id) or job
        ctx.say(taken_text(ctx.t, ctx.gateway, fresh), [[Button.action(ctx.t(labels.MENU), "menu")]])
        return
    taken = ctx.gateway.get_job(job.id) or job
    show_card(ctx, taken, ctx.data.get(BACK_KEY), intro=ctx.t("The request is yours."))
    tell_others_taken(ctx, taken)


def taken_text(t: Translate, gateway: CrmGateway, job: Job) -> str:
    if job.assignee_id is None:
        return t("Request No. %(number)s can no longer be taken.", number=job.order_number)
    taker = gateway.get_user(job.assignee_id)
    return t("Request No. %(number)s has already been taken by %(name)s.", number=job.order_number,
             name=taker.full_name if taker else "—")


def tell_others_taken(ctx: Context, job: Job) -> None:
    """The other measurers were offered the same request: tell them it is gone so nobody drives there."""
    others = [u.id for u in ctx.gateway.list_users(role=Role.MEASURER) if u.id != ctx.employee.id]
    for link in bound_links(ctx.session, others):
        t = translator(language_of(link, ctx.turn.settings))
        send_to_link(ctx.session, link, TextReply(taken_text(t, ctx.gateway, job)))
