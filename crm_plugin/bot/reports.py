"""Reports from the field: photos and the measurement sheet go into the CRM, a job is marked done.

"Send object photos" (etc.) puts the chat in AWAIT_FILES for that job and kind of file; so does opening a job
card the person works on ("follow" mode: files sent next go to that job, a photo as the job's photos, a PDF as
the measurement sheet). Every photo or document then lands in the CRM through the gateway. An album arrives as
several events sharing a media_group_id: it is acknowledged once, with the whole album's count, when its last
file is handled (crm_plugin.bot.albums). Files sent outside these states: crm_plugin.bot.loose_files.

«Замер выполнен» / «Монтаж выполнен» show what is in the CRM for the job and ask for one confirming tap.
"""

from __future__ import annotations

import logging
import mimetypes

from sqlalchemy.orm import Session

from ..core.chat import Button, Document, FileKindOut, Inbound, MediaReply, OutFile, Photo
from ..core.models import ChatState
from ..host import FileKind, Job, JobFile, JobKind, JobStatus, NewFile
from . import albums, labels
from .access import can_work_on, is_done
from .cards import AWAIT_FILES, card_buttons, follow_job
from .context import Context
from .jobs import back_to_list, job_from_payload
from .menu import show_menu
from .payloads import (
    ConfirmDone,
    FinishUpload,
    MarkDone,
    MeasurementFiles,
    Menu,
    OpenJob,
    SendSheet,
    StartUpload,
    button,
)
from .router import Router

log = logging.getLogger(__name__)

router = Router("reports")

MAX_FILE_BYTES = 20 * 1024 * 1024  # what bots may download from Telegram
ALBUM_SIZE = 10  # photos per album on Telegram and VK
_REMEMBERED_GROUPS = 20

KIND_OF_FILE = {FileKind.OBJECT_PHOTO: JobKind.MEASUREMENT, FileKind.MEASUREMENT_SHEET: JobKind.MEASUREMENT,
                FileKind.INSTALLATION_PHOTO: JobKind.INSTALLATION}
DONE_STATUS = {JobKind.MEASUREMENT: JobStatus.MEASURED, JobKind.INSTALLATION: JobStatus.INSTALLED}


def expects_file(session: Session, bot_id: int, inbound: Inbound) -> bool:
    """Whether the bot will want this photo or document's bytes: the chat waits for files and the file is not
    refused by its size alone. The worker downloads such a file before the turn's transaction opens."""
    event = inbound.event
    if not isinstance(event, (Photo, Document)) or inbound.sender.is_group:
        return False
    if event.file.size is not None and event.file.size > MAX_FILE_BYTES:
        return False
    chat = session.get(ChatState, (bot_id, inbound.sender.chat_id))
    return chat is not None and chat.state == AWAIT_FILES


def file_kind_name(ctx: Context, kind: FileKind) -> str:
    return {FileKind.OBJECT_PHOTO: ctx.t("object photos"), FileKind.MEASUREMENT_SHEET: ctx.t("measurement sheet"),
            FileKind.INSTALLATION_PHOTO: ctx.t("installation photos")}[kind]


@router.button(StartUpload)
def on_start_upload(ctx: Context) -> None:
    kind = ctx.payload(StartUpload).file_kind
    job = job_from_payload(ctx, work=True)
    if job is None:
        return
    if job.kind is not KIND_OF_FILE[kind]:
        show_menu(ctx, ctx.t("This job is not available to you."))
        return
    ctx.set_state(AWAIT_FILES, job_id=job.id, file_kind=kind.value, count=0, groups=[])
    hint = (ctx.t("Send the measurement sheet: a photo, a scan or a PDF (up to 20 MB).")
            if kind is FileKind.MEASUREMENT_SHEET
            else ctx.t("Send the photos (several at once is fine, up to 20 MB each)."))
    ctx.say(ctx.t("Order No. %(number)s, %(what)s.", number=job.order_number, what=file_kind_name(ctx, kind))
            + "\n" + hint, [[button(ctx.t(labels.FINISH_UPLOAD), FinishUpload(job.id))]])


@router.state(AWAIT_FILES, Photo, Document)
def on_file(ctx: Context) -> None:
    assert isinstance(ctx.event, (Photo, Document))
    data = ctx.data
    job = ctx.gateway.get_job(int(data["job_id"]))
    if job is None or not can_work_on(ctx.employee, job):
        ctx.clear_state()
        show_menu(ctx, ctx.t("This job is not available to you."))
        return
    ref = ctx.event.file
    content_type = _content_type(ctx.event)
    kind = kind_of_file(job, FileKind(data["file_kind"]), content_type, follow=bool(data.get("auto")))
    problem = _refusal(ctx, kind, content_type, ref.size)
    if problem is None:
        payload = ctx.turn.download(ref)  # downloaded before this turn's transaction (inbound.prefetch)
        problem = _refusal(ctx, kind, content_type, len(payload))
    if problem is not None:
        ctx.say(problem)  # a refused file is always answered, album or not
        return
    count = int(data.get("count", 0)) + 1
    name = ref.name or f"{kind.value}-{job.order_number}-{count}{mimetypes.guess_extension(content_type) or ''}"
    file_id = ctx.gateway.attach_file(job.id, NewFile(kind, name, content_type, payload), ctx.employee.id)
    log.info("job %s: %s %s (%d bytes) stored as CRM file %s", job.id, kind.value, name, len(payload), file_id)
    groups = list(data.get("groups", []))
    group = ctx.event.media_group_id
    # files of the album being received, by kind ("<group>|<kind>": count): its answer counts them all
    album = {k: int(v) for k, v in (data.get("album") or {}).items() if group and k.startswith(f"{group}|")}
    album[f"{group}|{kind.value}"] = album.get(f"{group}|{kind.value}", 0) + 1
    ctx.update_data(count=count, album=album if group else {})
    if group is not None:
        if group in groups or albums.more_queued(ctx.session, ctx.turn.bot.id, ctx.sender.chat_id, group):
            return  # the rest of an album: answered once, when its last file is in
        ctx.update_data(groups=(groups + [group])[-_REMEMBERED_GROUPS:])
    received = {FileKind(k.split("|", 1)[1]): n for k, n in album.items()} if group else {kind: 1}
    ctx.say(received_text(ctx, received, ctx.event) + "\n"
            + ctx.t("Send more or tap “%(finish)s”.", finish=ctx.t(labels.FINISH_UPLOAD)),
            next_steps(ctx, job, kind))


def kind_of_file(job: Job, asked: FileKind, content_type: str, *, follow: bool) -> FileKind:
    """What a file sent for ``job`` is: what the person asked for, except that a PDF of a measurement is its
    sheet, and in follow mode (a card open) a photo of a measurement is an object photo."""
    if job.kind is JobKind.INSTALLATION:
        return FileKind.INSTALLATION_PHOTO
    if not content_type.startswith("image/"):
        return FileKind.MEASUREMENT_SHEET
    return FileKind.OBJECT_PHOTO if follow else asked


def received_text(ctx: Context, counts: dict[FileKind, int], event: Photo | Document) -> str:
    """«Получено 3 фото: фото объекта.» for photos; «Получено файлов: 1 (замерный лист).» for documents."""
    total = sum(counts.values())
    what = ", ".join(file_kind_name(ctx, kind) for kind in counts)
    if isinstance(event, Photo):
        return ctx.t("Received %(count)d photo(s): %(what)s.", count=total, what=what)
    return ctx.t("Received files: %(count)d (%(what)s).", count=total, what=what)


def next_steps(ctx: Context, job: Job, kind: FileKind) -> list[list[Button]]:
    """After a file: the next thing people do, so a whole report takes few taps."""
    t = ctx.t
    finish = [button(t(labels.FINISH_UPLOAD), FinishUpload(job.id))]
    if kind is FileKind.OBJECT_PHOTO:
        return [[button(t(labels.SEND_SHEET), SendSheet(job.id))], finish]
    done = labels.MEASUREMENT_DONE if kind is FileKind.MEASUREMENT_SHEET else labels.INSTALLATION_DONE
    return [[button(t(done), MarkDone(job.id))], finish]


@router.button(FinishUpload)
def on_finish(ctx: Context) -> None:
    job = job_from_payload(ctx)
    if job is None:
        return
    data = ctx.data
    uploading = ctx.state_name == AWAIT_FILES and data.get("job_id") == job.id
    count = int(data.get("count", 0)) if uploading else 0
    ctx.clear_state()
    if uploading and count and data.get("auto"):
        text = ctx.t("Done: %(count)d file(s) received, in the CRM.", count=count)
    elif uploading and count:
        what = file_kind_name(ctx, FileKind(data["file_kind"]))
        text = ctx.t("Done: %(what)s received, %(count)d file(s), in the CRM.", what=what, count=count)
    else:
        text = ctx.t("No files were received.")
    if can_work_on(ctx.employee, job):
        follow_job(ctx, job)  # the card is shown again: files sent next still go to this job
    ctx.say(f"{text}\n\n{ctx.t('Order No. %(number)s', number=job.order_number)}",
            card_buttons(ctx, job, back_to_list(ctx)))


@router.button(MarkDone)
def on_done(ctx: Context) -> None:
    """Checks the files the CRM needs, then shows what is there and asks for one confirming tap."""
    job = job_from_payload(ctx, work=True)
    if job is None:
        return
    ctx.clear_state()
    t = ctx.t
    if _refused_done(ctx, job):
        return
    question = (t("Mark measurement No. %(number)s done? The CRM gets:", number=job.order_number)
                if job.kind is JobKind.MEASUREMENT
                else t("Mark installation No. %(number)s done? The CRM gets:", number=job.order_number))
    confirm = labels.CONFIRM_MEASUREMENT_DONE if job.kind is JobKind.MEASUREMENT else labels.CONFIRM_INSTALLATION_DONE
    ctx.say(f"{question}\n{files_summary(ctx, job)}",
            [[button(t(confirm), ConfirmDone(job.id))], [button(t(labels.CANCEL), OpenJob(job.id))]])


@router.button(ConfirmDone)
def on_done_confirmed(ctx: Context) -> None:
    job = job_from_payload(ctx, work=True)
    if job is None:
        return
    ctx.clear_state()
    t = ctx.t
    if _refused_done(ctx, job):
        return
    ctx.gateway.set_job_status(job.id, DONE_STATUS[job.kind], ctx.employee.id)
    done = (t("Measurement No. %(number)s is done. Thank you!", number=job.order_number)
            if job.kind is JobKind.MEASUREMENT
            else t("Installation No. %(number)s is done. Thank you!", number=job.order_number))
    show_menu(ctx, f"{done}\n{files_summary(ctx, job)}")


def _refused_done(ctx: Context, job: Job) -> bool:
    """Answers and returns True when the job is done already or lacks the file closing it needs."""
    t = ctx.t
    if is_done(job):
        show_menu(ctx, t("Order No. %(number)s is already marked done.", number=job.order_number))
        return True
    if job.kind is JobKind.MEASUREMENT:
        required, label = FileKind.MEASUREMENT_SHEET, labels.SEND_SHEET
        reason = t("The measurement cannot be closed without the measurement sheet. Send it first.")
    else:
        required, label = FileKind.INSTALLATION_PHOTO, labels.INSTALLATION_PHOTOS
        reason = t("The installation cannot be closed without at least one photo of the finished work. "
                   "Send photos first.")
    if _files_of(ctx, job, required):
        return False
    ctx.say(reason, [[button(t(label), StartUpload.of(required, job.id))], [button(t(labels.MENU), Menu())]])
    return True


def files_summary(ctx: Context, job: Job) -> str:
    """'Files in the CRM: object photos: 3, measurement sheet: 1': the album count, confirmed once."""
    counts: dict[FileKind, int] = {}
    for file in ctx.gateway.list_files(job.order_id):
        if file.job_id == job.id:
            counts[file.kind] = counts.get(file.kind, 0) + 1
    parts = [f"{file_kind_name(ctx, kind)}: {n}" for kind, n in counts.items()]
    return ctx.t("Files in the CRM: %(files)s.", files=", ".join(parts) or "—")


@router.button(MeasurementFiles)
def on_measurement_files(ctx: Context) -> None:
    """The installer gets what the measurer left for the order: photos as an album, the sheet as a document."""
    job = job_from_payload(ctx)
    if job is None:
        return
    files = ctx.gateway.list_files(job.order_id, frozenset({FileKind.OBJECT_PHOTO, FileKind.MEASUREMENT_SHEET}))
    photos = [f for f in files if f.kind is FileKind.OBJECT_PHOTO and f.content_type.startswith("image/")]
    sheets = [f for f in files if f.kind is FileKind.MEASUREMENT_SHEET]
    t = ctx.t
    if not photos and not sheets:
        ctx.say(t("There is no measurement sheet or photo for order No. %(number)s yet.", number=job.order_number))
        return
    for start in range(0, len(photos), ALBUM_SIZE):
        ctx.reply(MediaReply(tuple(_out(f, FileKindOut.PHOTO) for f in photos[start:start + ALBUM_SIZE]),
                             t("Object photos, order No. %(number)s", number=job.order_number)))
    for start in range(0, len(sheets), ALBUM_SIZE):
        ctx.reply(MediaReply(tuple(_out(f, FileKindOut.DOCUMENT) for f in sheets[start:start + ALBUM_SIZE]),
                             t("Measurement sheet, order No. %(number)s", number=job.order_number)))
    if not sheets:
        ctx.say(t("The measurement sheet for order No. %(number)s has not been uploaded yet.",
                  number=job.order_number))


def _files_of(ctx: Context, job: Job, kind: FileKind) -> list[JobFile]:
    return [f for f in ctx.gateway.list_files(job.order_id, frozenset({kind})) if f.job_id == job.id]


def _out(file: JobFile, kind: FileKindOut) -> OutFile:
    return OutFile(kind, file.id, file.name, file.content_type)


def _content_type(event: Photo | Document) -> str:
    if event.file.content_type:
        return event.file.content_type.lower()
    guessed = mimetypes.guess_type(event.file.name or "")[0]
    if guessed:
        return guessed
    return "image/jpeg" if isinstance(event, Photo) else "application/octet-stream"


def _refusal(ctx: Context, kind: FileKind, content_type: str, size: int | None) -> str | None:
    if size is not None and size > MAX_FILE_BYTES:
        return ctx.t("This file is larger than 20 MB. Send a smaller photo or compress the PDF.")
    is_image = content_type.startswith("image/")
    if kind is FileKind.MEASUREMENT_SHEET and not (is_image or content_type == "application/pdf"):
        return ctx.t("Only photos and PDF files are accepted for the measurement sheet.")
    if kind is not FileKind.MEASUREMENT_SHEET and not is_image:
        return ctx.t("Only photos are accepted here.")
    return None
