"""Host events become messages to field staff: a new measurement request, an installation scheduled, a job
changed or cancelled. Every bound account of the recipient on every active bot gets it.

A measurement request nobody is assigned to goes to all bound measurers with a "Take" button; the first who
taps it gets the job (crm_plugin.bot.jobs handles the tap), the others are told who took it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session

from ..core.chat import Button, TextReply
from ..core.i18n import translator
from ..core.models import EmployeeLink
from ..core.settings import Settings
from ..core.state import PluginState
from ..host import Job, JobKind, Role
from . import labels
from .cards import short_address
from .payloads import OpenJob, TakeJob, button
from .recipients import bound_links, language_of, send_to_link

log = logging.getLogger(__name__)

Translate = Callable[..., str]


def _when(job: Job, settings: Settings, t: Translate) -> str:
    if job.scheduled_at is None:
        return t("time not set")
    return job.scheduled_at.astimezone(settings.tz).strftime("%d.%m.%Y %H:%M")


def _summary(job: Job, settings: Settings, t: Translate) -> str:
    return "\n".join([
        t("Order No. %(number)s", number=job.order_number),
        t("Address: %(address)s", address=short_address(job.address)),
        t("Time: %(when)s", when=_when(job, settings, t)),
        t("Client: %(name)s", name=job.client.name),
    ])


def _send(session: Session, links: list[EmployeeLink], settings: Settings,
          build: Callable[[Translate], TextReply]) -> int:
    for link in links:
        send_to_link(session, link, build(translator(language_of(link, settings))))
    return len(links)


def _open_button(t: Translate, job: Job) -> Button:
    return button(t(labels.OPEN), OpenJob(job.id))


def _active_user(state: PluginState, user_id: int | None) -> bool:
    user = state.gateway.get_user(user_id) if user_id is not None else None
    return user is not None and user.active


def on_measurement_requested(state: PluginState, job_id: int, **_: Any) -> None:
    job = state.gateway.get_job(job_id)
    if job is None:
        return
    settings = state.settings
    with state.db.session() as session:
        if job.assignee_id is not None:
            if not _active_user(state, job.assignee_id):
                return
            sent = _send(session, bound_links(session, [job.assignee_id]), settings, lambda t: TextReply(
                t("New measurement for you:") + "\n" + _summary(job, settings, t), ((_open_button(t, job),),)))
        else:
            measurers = [u.id for u in state.gateway.list_users(role=Role.MEASURER)]
            sent = _send(session, bound_links(session, measurers), settings, lambda t: TextReply(
                t("New measurement request, nobody has taken it yet:") + "\n" + _summary(job, settings, t),
                ((button(t(labels.TAKE), TakeJob(job.id)), _open_button(t, job)),)))
    log.info("measurement request %s sent to %d account(s)", job_id, sent)


def _to_assignee(state: PluginState, job_id: int, intro: Callable[[Translate, Job], str], with_open: bool = True) -> None:
    job = state.gateway.get_job(job_id)
    if job is None or job.assignee_id is None or not _active_user(state, job.assignee_id):
        return
    settings = state.settings
    with state.db.session() as session:
        sent = _send(session, bound_links(session, [job.assignee_id]), settings, lambda t: TextReply(
            intro(t, job) + "\n" + _summary(job, settings, t), ((_open_button(t, job),),) if with_open else ()))
    log.info("job %s: %d account(s) told", job_id, sent)


def on_installation_scheduled(state: PluginState, job_id: int, **_: Any) -> None:
    _to_assignee(state, job_id, lambda t, job: t("New installation for you:"))


_CHANGES = {
    "rescheduled": lambda t: t("The time of your job has changed:"),
    "reassigned": lambda t: t("A job has been assigned to you:"),
}


def on_job_changed(state: PluginState, job_id: int, change: str = "updated", **_: Any) -> None:
    _to_assignee(state, job_id, lambda t, job: _CHANGES.get(change, lambda t: t("Your job has been updated:"))(t))


def on_job_cancelled(state: PluginState, job_id: int, **_: Any) -> None:
    _to_assignee(state, job_id, lambda t, job: (t("Measurement cancelled:") if job.kind is JobKind.MEASUREMENT
                                                else t("Installation cancelled:")), with_open=False)
