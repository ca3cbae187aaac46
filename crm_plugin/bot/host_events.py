"""Host events (the CRM's signals) that could not become messages at once: stored, and retried by the worker.

The receiver (crm_plugin.events) runs in the CRM's own request. It turns the event into messages right there
when it can (the usual case: a few reads and the outbox rows). When the CRM's job is not visible yet, because
the CRM sent its signal before its transaction committed, waiting would delay the CRM's answer; so the event
is stored as an incoming row of kind ``KIND`` (the message log shows it) and the request goes on. The worker
takes the row up after ``RETRY_DELAYS`` seconds, once for each, about 2 s in all, and then logs that the job
never appeared. Any other failure (the CRM's database away for a moment) is stored too and retried with the
worker's usual back-off; after the last try the row is FAILED in the message log, with «Отправить снова».
"""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..core.chat import preview_text
from ..core.db import mark_new_rows
from ..core.models import Bot, Direction, Message, MessageStatus, utcnow
from ..core.state import PluginState
from ..delivery.sender import RetryLater
from . import notifications
from .lead_offers import LeadNotVisible
from .notifications import JobNotVisible

log = logging.getLogger(__name__)

KIND = "host_event"
RETRY_DELAYS = (0.25, 0.5, 1.0)  # seconds before each further look for a job the CRM does not show yet


def deliver(state: PluginState, name: str, kwargs: dict[str, Any]) -> bool:
    """Messages for the host event now; when that fails, the event is stored for the worker. True when the
    messages are queued now; False when the event waits for the worker (or there is nobody to tell). Raises
    what failed, after storing the event, when it was not the job's absence (the receiver logs it)."""
    try:
        notifications.notify(state, name, **kwargs)
        return True
    except (JobNotVisible, LeadNotVisible) as missing:  # not committed yet: looked at again shortly
        log.info("host event %s %s: %s yet; the worker looks again shortly", name, kwargs, missing)
        store(state, name, kwargs, delay=RETRY_DELAYS[0], reason=str(missing))
        return False
    except Exception as error:
        store(state, name, kwargs, delay=RETRY_DELAYS[0], reason=f"{type(error).__name__}: {error}")
        raise


def store(state: PluginState, name: str, kwargs: dict[str, Any], *, delay: float, reason: str) -> Message | None:
    """The event as an incoming row the worker handles after ``delay`` seconds; None when no bot is active
    (nobody could be told). Rows of one job share a chat id, so the worker keeps their order."""
    arguments = _plain(kwargs)
    with state.db.session() as session:
        bot_id = session.scalar(select(Bot.id).where(Bot.active.is_(True)).order_by(Bot.id).limit(1))
        if bot_id is None:
            log.info("host event %s %s: no active bot, nobody to tell", name, kwargs)
            return None
        message = Message(
            bot_id=bot_id, chat_id=f"crm:job:{arguments.get('job_id', '')}", direction=Direction.IN, kind=KIND,
            preview=preview_text(f"[CRM] {name} {json.dumps(arguments, ensure_ascii=False)}"),
            payload={"event": name, "kwargs": arguments}, status=MessageStatus.RECEIVED,
            next_attempt_at=utcnow() + timedelta(seconds=delay), error=reason[:2000],
        )
        session.add(message)
        mark_new_rows(session)
    state.wake_worker()
    return message


def handle(state: PluginState, session: Session, message: Message) -> None:
    """The worker's turn at a stored event, in its transaction: the messages, or RetryLater while its job
    may still appear; after the last look, a warning and the row is done (its error says why)."""
    name, kwargs = message.payload["event"], dict(message.payload.get("kwargs") or {})
    try:
        notifications.notify(state, name, session, **kwargs)
    except (JobNotVisible, LeadNotVisible) as missing:  # not committed yet: looked at again shortly
        tries = message.attempts + 1  # this look included
        if tries <= len(RETRY_DELAYS) - 1:
            raise RetryLater(f"{missing} yet", RETRY_DELAYS[tries]) from missing
        log.warning("host event %s %s dropped: %s after %d looks over %.1f s; does the CRM send the signal before "
                    "its commit?", name, kwargs, missing, tries + 1, sum(RETRY_DELAYS))
        message.error = f"{missing}: not visible after {tries + 1} looks"
        return
    message.error = None


def _plain(kwargs: dict[str, Any]) -> dict[str, Any]:
    """The signal's keyword arguments as JSON keeps them (ids and names; anything else as its text)."""
    return {str(k): v if isinstance(v, (str, int, float, bool)) or v is None else str(v) for k, v in kwargs.items()}
