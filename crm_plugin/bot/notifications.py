"""Host events become messages to field staff: a new measurement request, an installation scheduled, a job
changed or cancelled. Every bound account of the recipient on every active bot gets it.

A measurement request nobody is assigned to goes to all bound measurers with a "Take" button (each offer is
recorded: crm_plugin.bot.offers); the first who taps it gets the job (crm_plugin.bot.jobs handles the tap), the
others offered it are told who took it.

A job the CRM does not show raises JobNotVisible: a signal sent before the CRM's commit is retried shortly by
crm_plugin.bot.host_events, off the CRM's request.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session

from .. import host
from ..core.chat import Button, TextReply
from ..core.i18n import translator
from ..core.models import EmployeeLink
from ..core.settings import Settings
from ..core.state import PluginState
from ..host import Job, Role
from . import labels, lead_offers, offers, templates
from .cards import finish_buttons
from .payloads import OpenJob, TakeJob, button
from .recipients import bound_links, language_of, send_to_link

log = logging.getLogger(__name__)

Translate = Callable[..., str]


def _text(session: Session, event: str, job: Job, settings: Settings, t: Translate) -> str:
    """The notification's text: the company's template (crm_plugin.bot.templates) in the recipient's language."""
    language = getattr(t, "language", settings.language)
    return templates.render_for(session, event, language, templates.job_values(job, settings.tz, language))


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


class JobNotVisible(LookupError):
    """The CRM announced a job it does not show: its signal came before its transaction committed (it is
    retried shortly, see crm_plugin.bot.host_events), or the job is gone."""


def _job(state: PluginState, job_id: int) -> Job:
    job = state.gateway.get_job(job_id)
    if job is None:
        raise JobNotVisible(f"the CRM has no job {job_id}")
    return job


def measurement_requested(state: PluginState, session: Session, job_id: int, **_: Any) -> None:
    job = _job(state, job_id)
    settings = state.settings
    if job.assignee_id is not None:
        if not _active_user(state, job.assignee_id):
            return
        sent = _send(session, bound_links(session, [job.assignee_id]), settings, lambda t: TextReply(
            _text(session, "measurement_assigned", job, settings, t),
            ((_open_button(t, job),), tuple(finish_buttons(t, job)))))
    else:
        links = bound_links(session, [u.id for u in state.gateway.list_users(role=Role.MEASURER)])
        offers.record(session, job.id, [link.crm_user_id for link in links])
        sent = _send(session, links, settings, lambda t: TextReply(
            _text(session, "measurement_offered", job, settings, t),
            ((button(t(labels.TAKE), TakeJob(job.id)), _open_button(t, job)),)))
    log.info("measurement request %s sent to %d account(s)", job_id, sent)


def _to_assignee(state: PluginState, session: Session, job_id: int, event: str, with_open: bool = True) -> None:
    job = _job(state, job_id)
    if job.assignee_id is None or not _active_user(state, job.assignee_id):
        return
    settings = state.settings
    sent = _send(session, bound_links(session, [job.assignee_id]), settings, lambda t: TextReply(
        _text(session, event, job, settings, t),
        ((_open_button(t, job),), tuple(finish_buttons(t, job))) if with_open else ()))
    log.info("job %s: %d account(s) told", job_id, sent)


def installation_scheduled(state: PluginState, session: Session, job_id: int, **_: Any) -> None:
    _to_assignee(state, session, job_id, "installation_assigned")


_CHANGES = ("rescheduled", "reassigned")  # the others are "updated"


def job_changed(state: PluginState, session: Session, job_id: int, change: str = "updated", **_: Any) -> None:
    _to_assignee(state, session, job_id, change if change in _CHANGES else "updated")


def job_cancelled(state: PluginState, session: Session, job_id: int, **_: Any) -> None:
    _to_assignee(state, session, job_id, "cancelled", with_open=False)


Notifier = Callable[..., None]  # (state, session, **the signal's keyword arguments)
# The host signals the bot answers, by signal name (the name is what a queued event stores).
NOTIFIERS: dict[str, Notifier] = {
    host.measurement_requested.name: measurement_requested,
    host.installation_scheduled.name: installation_scheduled,
    host.job_changed.name: job_changed,
    host.job_cancelled.name: job_cancelled,
    host.lead_created.name: lead_offers.lead_created,  # issue 10: managers get the lead with «Взять»
}


def notify(state: PluginState, name: str, session: Session | None = None, **kwargs: Any) -> None:
    """Turn the host event ``name`` into messages, in ``session`` or a transaction of its own. Raises
    JobNotVisible when the CRM does not show its job (the caller decides whether to try again)."""
    notifier = NOTIFIERS[name]
    if session is not None:
        notifier(state, session, **kwargs)
        return
    with state.db.session() as own:
        notifier(state, own, **kwargs)


def on_measurement_requested(state: PluginState, job_id: int, **kwargs: Any) -> None:
    notify(state, host.measurement_requested.name, job_id=job_id, **kwargs)


def on_installation_scheduled(state: PluginState, job_id: int, **kwargs: Any) -> None:
    notify(state, host.installation_scheduled.name, job_id=job_id, **kwargs)


def on_job_changed(state: PluginState, job_id: int, **kwargs: Any) -> None:
    notify(state, host.job_changed.name, job_id=job_id, **kwargs)


def on_job_cancelled(state: PluginState, job_id: int, **kwargs: Any) -> None:
    notify(state, host.job_cancelled.name, job_id=job_id, **kwargs)
