"""CRM admins see every worker's jobs; this narrows their lists to one worker."""

from __future__ import annotations

from ..chat import Button
from ..host import Role, User
from . import labels
from .context import Context
from .jobs import PAGE_SIZE, WORKER_KEY, WORKER_NAME_KEY
from .menu import show_menu, stale_button
from .router import Router, payload_int, payload_parts

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
    rows = [[Button.action(u.full_name[:40], f"who:{u.id}")] for u in workers[page * PAGE_SIZE:(page + 1) * PAGE_SIZE]]
    if pages > 1:
        nav = [Button.action("◀", f"who:p:{page - 1}")] if page > 0 else []
        nav.append(Button.action(f"{page + 1}/{pages}", f"who:p:{page}"))
        nav += [Button.action("▶", f"who:p:{page + 1}")] if page < pages - 1 else []
        rows.append(nav)
    rows.append([Button.action(t(labels.ALL_WORKERS), "who:0"), Button.action(t(labels.MENU), "menu")])
    current = ctx.data.get(WORKER_NAME_KEY) or t(labels.ALL_WORKERS)
    ctx.say(t("Whose jobs to show? Now: %(current)s.", current=current), rows)


def _admin_only(ctx: Context) -> bool:
    if ctx.employee.is_admin:
        return True
    show_menu(ctx, ctx.t("This is only for administrators."))
    return False


@router.button("who")
@router.text(labels.WORKER_FILTER)
def on_filter(ctx: Context) -> None:
    if _admin_only(ctx):
        show_workers(ctx, 0)


@router.button("who:")
def on_filter_choice(ctx: Context) -> None:
    if not _admin_only(ctx):
        return
    paged = payload_parts(ctx.event, 2)
    if paged is not None and paged[0] == "p" and payload_int(paged[1]) is not None:
        show_workers(ctx, int(paged[1]))
        return
    parts = payload_parts(ctx.event, 1)
    worker_id = payload_int(parts[0]) if parts else None
    if worker_id is None:
        stale_button(ctx)
        return
    if worker_id == 0:
        ctx.update_data(**{WORKER_KEY: None, WORKER_NAME_KEY: None})
        show_menu(ctx, ctx.t("Showing the jobs of all workers."))
        return
    worker = next((u for u in field_workers(ctx) if u.id == worker_id), None)
    if worker is None:
        stale_button(ctx)
        return
    ctx.update_data(**{WORKER_KEY: worker.id, WORKER_NAME_KEY: worker.full_name})
    show_menu(ctx, ctx.t("Showing the jobs of %(name)s.", name=worker.full_name))
