"""CRM admins see every worker's jobs; this narrows their lists to one worker."""

from __future__ import annotations

from ..host import Role, User
from . import labels
from .context import Context
from .jobs import PAGE_SIZE, WORKER_KEY, WORKER_NAME_KEY
from .menu import show_menu, stale_button
from .payloads import ALL_WORKERS, Menu, PickWorker, WorkerFilter, WorkerPage, button
from .router import Router

router = Router("admin_filter")


def field_workers(ctx: Context) -> list[User]:
    seen: dict[int, User] = {}
    for role in (Role.MEASURER, Role.INSTALLER):
        for user in ctx.gateway.list_users(role=role):
            seen.setdefault(user.id, user)
    return sorted(seen.values(), key=lambda u: u.full_name)


def show_workers(ctx: Context, page: int) -> None:
    t = ctx.t
    workers = field_workers(ctx)
    pages = max(1, -(-len(workers) // PAGE_SIZE))
    page = min(max(page, 0), pages - 1)
    rows = [[button(u.full_name[:40], PickWorker(u.id))] for u in workers[page * PAGE_SIZE:(page + 1) * PAGE_SIZE]]
    if pages > 1:
        nav = [button("◀", WorkerPage(page - 1))] if page > 0 else []
        nav.append(button(f"{page + 1}/{pages}", WorkerPage(page)))
        nav += [button("▶", WorkerPage(page + 1))] if page < pages - 1 else []
        rows.append(nav)
    rows.append([button(t(labels.ALL_WORKERS), PickWorker(ALL_WORKERS)), button(t(labels.MENU), Menu())])
    current = ctx.data.get(WORKER_NAME_KEY) or t(labels.ALL_WORKERS)
    ctx.say(t("Whose jobs to show? Now: %(current)s.", current=current), rows)


def _admin_only(ctx: Context) -> bool:
    if ctx.employee.is_admin:
        return True
    show_menu(ctx, ctx.t("This is only for administrators."))
    return False


@router.button(WorkerFilter)
@router.text(labels.WORKER_FILTER)
def on_filter(ctx: Context) -> None:
    if _admin_only(ctx):
        show_workers(ctx, 0)


@router.button(WorkerPage)
def on_filter_page(ctx: Context) -> None:
    if _admin_only(ctx):
        show_workers(ctx, ctx.payload(WorkerPage).page)


@router.button(PickWorker)
def on_filter_choice(ctx: Context) -> None:
    if not _admin_only(ctx):
        return
    worker_id = ctx.payload(PickWorker).user_id
    if worker_id == ALL_WORKERS:
        ctx.update_data(**{WORKER_KEY: None, WORKER_NAME_KEY: None})
        show_menu(ctx, ctx.t("Showing the jobs of all workers."))
        return
    worker = next((u for u in field_workers(ctx) if u.id == worker_id), None)
    if worker is None:
        stale_button(ctx)
        return
    ctx.update_data(**{WORKER_KEY: worker.id, WORKER_NAME_KEY: worker.full_name})
    show_menu(ctx, ctx.t("Showing the jobs of %(name)s.", name=worker.full_name))
