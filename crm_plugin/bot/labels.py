"""Button labels, shared by the keyboards that show them and the routes that accept them typed, and the
short codes of job kinds used in button payloads (see payloads.py) and in chat data."""

from __future__ import annotations

from ..core.i18n import N_
from ..host import JobKind
from .joblists import Period

SHARE_PHONE = N_("Share phone number")
MENU = N_("Menu")
MEASUREMENTS = N_("Measurements")
INSTALLATIONS = N_("Installations")
NEW = N_("New requests")
TODAY = N_("Today")
TOMORROW = N_("Tomorrow")
UPCOMING = N_("Upcoming")
DONE_40 = N_("Done in 40 days")
ATTENDANCE = N_("Check in")
ARRIVED = N_("Arrived")
LEFT = N_("Left")
SHARE_LOCATION = N_("Send my location")
SKIP = N_("Skip")
UNBIND = N_("Unbind")
UNBIND_YES = N_("Yes, unbind")
CANCEL = N_("Cancel")
WORKER_FILTER = N_("Filter by worker")
ALL_WORKERS = N_("All workers")
TAKE = N_("Take")
OPEN = N_("Open")
BACK_TO_LIST = N_("Back to the list")
YANDEX_MAPS = N_("Yandex Maps")
OSM = N_("OpenStreetMap")
SEND_OBJECT_PHOTOS = N_("Send object photos")
SEND_SHEET = N_("Send measurement sheet")
MEASUREMENT_DONE = N_("Measurement done")
SHEET_AND_PHOTOS = N_("Measurement sheet and photos")
INSTALLATION_PHOTOS = N_("Installation photos")
INSTALLATION_DONE = N_("Installation done")
FINISH_UPLOAD = N_("Finish")
CONFIRM_MEASUREMENT_DONE = N_("Yes, measurement done")
CONFIRM_INSTALLATION_DONE = N_("Yes, installation done")
OBJECT_PHOTOS = N_("Object photos")
SHEET = N_("Measurement sheet")
DROP_FILES = N_("Do not save")
REASSIGN = N_("Reassign")
ON_SHIFT = N_("On shift now")

KIND_CODES = {JobKind.MEASUREMENT: "me", JobKind.INSTALLATION: "in"}
KINDS_BY_CODE = {code: kind for kind, code in KIND_CODES.items()}
PERIOD_LABELS = {Period.NEW: NEW, Period.TODAY: TODAY, Period.TOMORROW: TOMORROW, Period.UPCOMING: UPCOMING,
                 Period.DONE: DONE_40}
