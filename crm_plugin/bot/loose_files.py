"""Files sent outside an upload step are kept, not thrown away: the bot asks which job they belong to (the
jobs last opened first, then today's and the open ones) and, when it is not clear, what they are.

Only the platform's references to the files (FileRef) are kept, in the chat's state (``LOOSE_KEY``), until the
person picks; the files are downloaded when they do. An album is answered once, when its last file is in
(crm_plugin.bot.albums). A PDF is a measurement sheet and an installation has only its photos, so in those
cases the bot does not ask what the files are. The button that saves (FilesAs) has the worker download the
kept files before the turn (``kept_files``, crm_plugin.inbound.prefetch).
"""

from __future__ import annotations

import logging
import mimetypes
from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session

from ..core.chat import Document, FileRef, Inbound, Photo
from ..core.models import ChatState
from ..host import FileKind, Job, JobKind, JobQuery, NewFile
from . import albums, labels
from .access import can_work_on
from .cards import RECENT_KEY, follow_job, list_label
from .context import Context
from .joblists import NOT_CANCELLED, OPEN, midnight
from .jobs import job_from_payload
from .menu import show_menu
from .payloads import DropFiles, FilesAs, FilesTo, JobAction, MarkDone, Menu, OpenJob, SendSheet, button, payload_of
from .reports import MAX_FILE_BYTES, _content_type, _refusal, file_kind_name, kind_of_file
from .router import Router

log = logging.getLogger(__name__)

router = Router("loose_files")

LOOSE_KEY = "_loose_files"  # chat data, kept across states: [{id, name, type, size, photo, group}]
ANSWERED_KEY = "_loose_albums"  # albums already answered
MAX_KEPT = 30
MAX_CHOICES = 8


@router.event(Photo, Document)
def on_loose_file(ctx: Context) -> None:
    event = ctx.event
    assert isinstance(event, (Photo, Document))
    if event.file.size is not None and event.file.size > MAX_FILE_BYTES:
        ctx.say(ctx.t("This file is larger than 20 MB. Send a smaller photo or compress the PDF."))
        return
    kept = [*ctx.data.get(LOOSE_KEY, []), {
        "id": event.file.file_id, "name": event.file.name, "type": _content_type(event), "size": event.file.size,
        "photo": isinstance(event, Photo), "group": event.media_group_id}][-MAX_KEPT:]
    ctx.update_data(**{LOOSE_KEY: kept})
    group = event.media_group_id
    if group is not None:
        answered = list(ctx.data.get(ANSWERED_KEY, []))
        if group in answered or albums.more_queued(ctx.session, ctx.turn.bot.id, ctx.sender.chat_id, group):
            return  # the rest of an album: answered once, when its last file is in
        ctx.update_data(**{ANSWERED_KEY: (answered + [group])[-20:]})
    ask_job(ctx, kept)


def ask_job(ctx: Context, kept: list[dict[str, Any]]) -> None:
    t = ctx.t
    received = _received(ctx, kept)
    jobs = candidate_jobs(ctx)
    if not jobs:
        ctx.update_data(**{LOOSE_KEY: []})
        show_menu(ctx, received + "\n" + t("You have no open jobs to attach them to, so they were not saved."))
        return
    rows = [[button(list_label(ctx, job, with_date=True), _pick(job, kept))] for job in jobs]
    rows.append([button(t(labels.DROP_FILES), DropFiles())])
    ctx.say(received + "\n" + t("Which order are they for?"), rows)


def _pick(job: Job, kept: list[dict[str, Any]]) -> JobAction:
    """A job's button: straight to saving (FilesAs, whose files the worker downloads before the turn) when
    there is nothing to ask, else to the question what the photos are."""
    if job.kind is JobKind.INSTALLATION:
        return FilesAs(job.id, FileKind.INSTALLATION_PHOTO)
    if not any(_is_image(item) for item in kept):
        return FilesAs(job.id, FileKind.MEASUREMENT_SHEET)
    return FilesTo(job.id)


def _is_image(item: dict[str, Any]) -> bool:
    return str(item.get("type", "")).startswith("image/")


def kept_files(session: Session, bot_id: int, inbound: Inbound) -> list[FileRef]:
    """The kept files a pressed FilesAs button saves: inbound.prefetch downloads them before the turn's
    transaction opens, as it does for a file sent in an upload step."""
    if inbound.sender.is_group or not isinstance(payload_of(inbound.event), FilesAs):
        return []
    chat = session.get(ChatState, (bot_id, inbound.sender.chat_id))
    kept = (chat.data or {}).get(LOOSE_KEY, []) if chat is not None else []
    return [_ref(item) for item in kept if not (item.get("size") or 0) > MAX_FILE_BYTES]


def _ref(item: dict[str, Any]) -> FileRef:
    return FileRef(str(item["id"]), item.get("name"), item.get("type"), item.get("size"))


def _received(ctx: Context, kept: list[dict[str, Any]]) -> str:
    if all(item.get("photo") for item in kept):
        return ctx.t("Received %(count)d photo(s).", count=len(kept))
    return ctx.t("Received files: %(count)d.", count=len(kept))


def candidate_jobs(ctx: Context) -> list[Job]:
    """The jobs last opened first, then the person's jobs of today and their open jobs, by time."""
    employee = ctx.employee
    found: dict[int, Job] = {}
    for job_id in ctx.data.get(RECENT_KEY, []):
        job = ctx.gateway.get_job(int(job_id))
        if job is not None and can_work_on(employee, job):
            found.setdefault(job.id, job)
    start = midnight(ctx.today, ctx.tz)
    end = midnight(ctx.today + timedelta(days=1), ctx.tz)
    own: dict[int, Job] = {}
    for kind in employee.kinds:
        for query in (JobQuery(kind=kind, assignee_id=employee.id, scheduled_from=start, scheduled_to=end,
                               statuses=NOT_CANCELLED),
                      JobQuery(kind=kind, assignee_id=employee.id, statuses=OPEN)):
            for job in ctx.gateway.list_jobs(query):
                own.setdefault(job.id, job)
    far = ctx.now + timedelta(days=3650)
    for job in sorted(own.values(), key=lambda j: (j.scheduled_at or far, j.id)):
        if can_work_on(employee, job):
            found.setdefault(job.id, job)
    return list(found.values())[:MAX_CHOICES]


def waiting_files(ctx: Context) -> list[Any]:
    """The files kept for a job still to be picked; when there are none, the person is told so."""
    kept = list(ctx.data.get(LOOSE_KEY, []))
    if not kept:
        ctx.say(ctx.t("There are no files waiting to be saved."), [[button(ctx.t(labels.MENU), Menu())]])
    return kept


@router.button(FilesTo)
def on_files_to(ctx: Context) -> None:
    job = job_from_payload(ctx, work=True)
    if job is None:
        return
    kept = waiting_files(ctx)
    if not kept:
        return
    if job.kind is JobKind.MEASUREMENT and any(_is_image(item) for item in kept):
        t = ctx.t
        ctx.say(t("Order No. %(number)s. What is in the photos?", number=job.order_number),
                [[button(t(labels.OBJECT_PHOTOS), FilesAs(job.id, FileKind.OBJECT_PHOTO))],
                 [button(t(labels.SHEET), FilesAs(job.id, FileKind.MEASUREMENT_SHEET))],
                 [button(t(labels.DROP_FILES), DropFiles())]])
        return
    save(ctx, job, FileKind.OBJECT_PHOTO, kept)  # a PDF is a sheet, an installation's files are its photos


@router.button(FilesAs)
def on_files_as(ctx: Context) -> None:
    job = job_from_payload(ctx, work=True)
    if job is None:
        return
    kept = waiting_files(ctx)
    if not kept:
        return
    save(ctx, job, ctx.payload(FilesAs).file_kind, kept)


@router.button(DropFiles)
def on_drop(ctx: Context) -> None:
    ctx.update_data(**{LOOSE_KEY: []})
    show_menu(ctx, ctx.t("The files were not saved."))


def save(ctx: Context, job: Job, asked: FileKind, kept: list[dict[str, Any]]) -> None:
    """Download the kept files and attach them to the job; a file the job cannot take is named, not lost
    silently. Files sent next follow the job."""
    t = ctx.t
    counts: dict[FileKind, int] = {}
    problems: list[str] = []
    for index, item in enumerate(kept, 1):
        ref = _ref(item)
        content_type = str(item.get("type") or "application/octet-stream")
        kind = kind_of_file(job, asked, content_type, follow=False)
        problem = _refusal(ctx, kind, content_type, ref.size)
        if problem is None:
            data = ctx.turn.download(ref)
            problem = _refusal(ctx, kind, content_type, len(data))
        if problem is not None:
            problems.append(problem)
            continue
        name = ref.name or f"{kind.value}-{job.order_number}-{index}{mimetypes.guess_extension(content_type) or ''}"
        file_id = ctx.gateway.attach_file(job.id, NewFile(kind, name, content_type, data), ctx.employee.id)
        log.info("job %s: %s %s sent outside an upload step stored as CRM file %s", job.id, kind.value, name,
                 file_id)
        counts[kind] = counts.get(kind, 0) + 1
    ctx.update_data(**{LOOSE_KEY: []})
    follow_job(ctx, job)
    saved = ", ".join(f"{file_kind_name(ctx, kind)}: {n}" for kind, n in counts.items()) or "—"
    lines = [t("Saved to order No. %(number)s: %(files)s.", number=job.order_number, files=saved), *problems]
    rows = []
    if job.kind is JobKind.MEASUREMENT and FileKind.MEASUREMENT_SHEET not in counts:
        rows.append([button(t(labels.SEND_SHEET), SendSheet(job.id))])
    done = labels.MEASUREMENT_DONE if job.kind is JobKind.MEASUREMENT else labels.INSTALLATION_DONE
    rows += [[button(t(done), MarkDone(job.id))], [button(t(labels.OPEN), OpenJob(job.id)), button(t(labels.MENU),
                                                                                                    Menu())]]
    ctx.say("\n".join(lines), rows)
