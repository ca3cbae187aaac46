"""The morning route: every working morning each measurer and installer with jobs that day gets them in time
order (address, client, phone), one link opening the whole route in Yandex Maps and a list of OpenStreetMap
links. People with no jobs that day get nothing.

The time and the working days are the admin's (crm_plugin.admin.route; one RouteSettings row, defaults 08:00
company time, Monday to Saturday). The worker's clock runs ``send_due_routes`` every minute; a route is
claimed by a unique RouteSent row per person and company day, inserted in the transaction that queues the
messages, so several worker processes send it once. A route due but not sent at its time (the worker was
down) goes out when the worker is back, the same day.

The text is the company's «Утренний маршрут» template (crm_plugin.bot.templates).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from urllib.parse import quote

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..core.chat import Button, TextReply
from ..core.i18n import N_, translator
from ..core.models import RouteSent, RouteSettings, utcnow
from ..core.settings import Settings
from ..core.state import PluginState
from ..delivery.clock import ClockTask
from ..host import CrmGateway, Job, JobQuery, Role, User
from . import templates
from .access import KIND_OF_ROLE
from .cards import compact_address, osm_url, phone_of
from .joblists import OPEN, midnight
from .recipients import bound_links, language_of, send_to_link

log = logging.getLogger(__name__)

INTERVAL = 60.0  # seconds between looks at the clock
ROUTE_IN_YANDEX = N_("Route in Yandex Maps")
DEFAULT_SEND_AT = time(8, 0)
DEFAULT_WEEKDAYS = frozenset(range(6))  # Monday to Saturday


@dataclass(frozen=True)
class Schedule:
    enabled: bool = True
    send_at: time = DEFAULT_SEND_AT
    weekdays: frozenset[int] = DEFAULT_WEEKDAYS

    def due(self, local: datetime) -> bool:
        return self.enabled and local.weekday() in self.weekdays and local.time() >= self.send_at


def load_schedule(session: Session) -> Schedule:
    row = session.get(RouteSettings, 1)
    if row is None:
        return Schedule()
    try:
        hours, minutes = (int(part) for part in row.send_at.split(":"))
        send_at = time(hours, minutes)
    except ValueError:
        send_at = DEFAULT_SEND_AT
    return Schedule(row.enabled, send_at, frozenset(int(c) for c in row.weekdays if c in "0123456"))


def yandex_route_url(jobs: list[Job]) -> str:
    """All the day's stops, in order, as one Yandex Maps route by car; a stop without coordinates by its
    address."""
    points = [f"{job.latitude},{job.longitude}" if job.latitude is not None and job.longitude is not None
              else quote(job.address.replace("~", " "), safe="") for job in jobs]
    return "https://yandex.ru/maps/?rtext=" + "~".join(points) + "&rtt=auto"


def day_jobs(gateway: CrmGateway, user: User, day: date, settings: Settings) -> list[Job]:
    """The person's open jobs of the company day, of the kinds they do, in time order."""
    kinds = {kind for role, kind in KIND_OF_ROLE.items() if role in user.roles}
    found = gateway.list_jobs(JobQuery(assignee_id=user.id, scheduled_from=midnight(day, settings.tz),
                                       scheduled_to=midnight(day + timedelta(days=1), settings.tz), statuses=OPEN))
    return sorted((j for j in found if j.kind in kinds and j.scheduled_at is not None),
                  key=lambda j: (j.scheduled_at, j.id))


def route_text(session: Session, jobs: list[Job], day: date, settings: Settings, language: str) -> str:
    t = translator(language)
    lines = []
    for number, job in enumerate(jobs, 1):
        assert job.scheduled_at is not None
        when = job.scheduled_at.astimezone(settings.tz).strftime("%H:%M")
        phone = phone_of(job)
        lines.append(f"{number}. {when} {compact_address(job.address)} — {job.client.name}"
                     + (f", {phone}" if phone else ""))
    osm = "\n".join(f"{number}. {osm_url(job)}" for number, job in enumerate(jobs, 1))
    links = f"{t('Yandex Maps')}: {yandex_route_url(jobs)}\n{t('OpenStreetMap')}:\n{osm}"
    return templates.render_for(session, "morning_route", language, {
        "date": day.strftime("%d.%m.%Y"), "count": str(len(jobs)), "jobs": "\n".join(lines), "links": links})


def field_workers(gateway: CrmGateway) -> list[User]:
    seen: dict[int, User] = {}
    for role in (Role.MEASURER, Role.INSTALLER):
        for user in gateway.list_users(role=role):
            seen.setdefault(user.id, user)
    return list(seen.values())


def send_due_routes(state: PluginState, now: datetime | None = None) -> int:
    """Send today's routes that are due and not sent yet; returns how many people got one."""
    now = now or utcnow()
    settings = state.settings
    local = now.astimezone(settings.tz)
    with state.db.session() as session:
        schedule = load_schedule(session)
    if not schedule.due(local):
        return 0
    day = local.date()
    sent = 0
    for user in field_workers(state.gateway):
        jobs = day_jobs(state.gateway, user, day, settings)
        if jobs and _send_once(state, user, jobs, day, now):
            sent += 1
    return sent


def _send_once(state: PluginState, user: User, jobs: list[Job], day: date, now: datetime) -> bool:
    try:
        with state.db.session() as session:
            links = bound_links(session, [user.id])
            if not links:
                return False  # not claimed: bound later this morning, they still get it
            session.add(RouteSent(crm_user_id=user.id, day=day.isoformat(), jobs=len(jobs), sent_at=now))
            session.flush()  # the claim: a second worker's insert fails here and it sends nothing
            for link in links:
                language = language_of(link, state.settings)
                t = translator(language)
                text = route_text(session, jobs, day, state.settings, language)
                send_to_link(session, link, TextReply(text, ((Button.link(t(ROUTE_IN_YANDEX),
                                                                          yandex_route_url(jobs)),),)))
    except IntegrityError:
        log.debug("morning route of CRM user %s for %s already sent", user.id, day)
        return False
    log.info("morning route of CRM user %s for %s: %d job(s), %d account(s)", user.id, day, len(jobs), len(links))
    return True


def route_clock_tasks(state: PluginState, now: Callable[[], datetime] = utcnow) -> list[ClockTask]:
    """The worker's morning-route task; it asks the CRM, so it runs in the host's context."""

    def run() -> None:
        with state.host_context():
            send_due_routes(state, now())

    return [ClockTask("morning-route", run, INTERVAL)]
