"""The field staff bot's conversation logic, platform-neutral: no Flask request and no platform SDK here.

The worker calls ``handle(turn)`` once per incoming event; the admin uses the binding and timesheet
functions re-exported here.
"""

from __future__ import annotations

from .binding import approve_binding, make_invite
from .pipeline import dispatcher, handle
from .timesheet import TimesheetRow, timesheet

__all__ = ["TimesheetRow", "approve_binding", "dispatcher", "handle", "make_invite", "timesheet"]
