"""Reports: photos and the measurement sheet into the CRM, jobs marked done, the installer's files."""

from __future__ import annotations

from datetime import timedelta

from crm_plugin.core.chat import Document, FileKindOut, FileRef, Photo, TextReply
from crm_plugin.host import FileKind, JobKind, JobStatus, Role
from tests.bot_helpers import NOW, World, last_text, media, payload_of, payloads, person, texts

JPEG = b"\xff\xd8\xff\xe0" + b"x" * 100


def photo(world: World, file_id: str, group: str | None = None, size: int | None = None) -> Photo:
    world.files[file_id] = JPEG + file_id.encode()
    return Photo(FileRef(file_id, None, None, size or len(world.files[file_id])), media_group_id=group)


def test_album_and_sheet_land_in_the_crm_and_the_measurement_is_done(world: World) -> None:
    me = world.user("me", Role.MEASURER)
    job = world.job(at=NOW + timedelta(hours=9), assignee=me)
    sender = person()
    world.bind(sender, "me")
    card = world.press(sender, f"job:{job}")
    turn = world.press(sender, payload_of(card, "Отправить фото объекта"))
    assert "Отправьте фото" in last_text(turn)
    album = [world.send(sender, photo(world, f"p{i}", group="album-1")) for i in range(3)]
    # one acknowledgement for the album, not one per photo
    assert [len(t.sent) for t in album] == [1, 0, 0]
    assert last_text(album[0]).startswith("Получено 1 фото: фото объекта.")  # no queue here: see test_bot_photos
    # "Замер выполнен" is refused while no sheet is attached, and says why
    refused = world.press(sender, f"done:{job}")
    assert "без замерного листа" in last_text(refused)
    assert world.crm_job(job).status is JobStatus.SCHEDULED
    world.press(sender, payload_of(album[0], "Отправить замерный лист"))
    world.files["sheet"] = b"%PDF-1.4 sheet"
    sheet = world.send(sender, Document(FileRef("sheet", "лист.pdf", "application/pdf", 14)))
    assert "Получено файлов: 1 (замерный лист)" in last_text(sheet)
    confirm = world.press(sender, payload_of(sheet, "Замер выполнен"))
    assert "фото объекта: 3, замерный лист: 1" in last_text(confirm)  # what the CRM gets, before it is done
    assert world.crm_job(job).status is JobStatus.SCHEDULED
    done = world.press(sender, payload_of(confirm, "Да, замер выполнен"))
    assert "выполнен" in texts(done)[0] and "фото объекта: 3, замерный лист: 1" in texts(done)[0]
    assert world.crm_job(job).status is JobStatus.MEASURED
    files = world.crm_files(job)
    assert sorted((f.kind, f.content_type) for f in files) == sorted(
        [(FileKind.OBJECT_PHOTO, "image/jpeg")] * 3 + [(FileKind.MEASUREMENT_SHEET, "application/pdf")])
    with world.app.app_context():
        stored = {world.state.gateway.read_file(f.id) for f in files if f.kind is FileKind.OBJECT_PHOTO}
    assert stored == {JPEG + b"p0", JPEG + b"p1", JPEG + b"p2"}


def test_two_albums_are_acknowledged_once_each_and_single_photos_each(world: World) -> None:
    me = world.user("me", Role.MEASURER)
    job = world.job(assignee=me)
    sender = person()
    world.bind(sender, "me")
    world.press(sender, f"photos:{job}")
    replies = [len(world.send(sender, photo(world, f"a{i}", group=g)).sent)
               for i, g in enumerate(["g1", "g1", "g2", "g2", None, None])]
    assert replies == [1, 0, 1, 0, 1, 1]
    finish = world.press(sender, f"finish:{job}")
    assert "файлов: 6" in last_text(finish)
    assert len(world.crm_files(job)) == 6


def test_too_big_and_wrong_type_files_are_refused(world: World) -> None:
    me = world.user("me", Role.MEASURER)
    job = world.job(assignee=me)
    sender = person()
    world.bind(sender, "me")
    world.press(sender, f"sheet:{job}")
    big = world.send(sender, photo(world, "big", size=21 * 1024 * 1024))
    assert "больше 20 МБ" in last_text(big)
    world.files["doc"] = b"PK\x03\x04"
    docx = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    word = world.send(sender, Document(FileRef("doc", "лист.docx", docx, 4)))
    assert "только фото или PDF" in last_text(word)
    world.press(sender, f"photos:{job}")
    # a PDF sent while sending object photos is the measurement sheet
    world.files["pdf"] = b"%PDF"
    pdf = world.send(sender, Document(FileRef("pdf", "a.pdf", "application/pdf", 4)))
    assert "Получено файлов: 1 (замерный лист)" in last_text(pdf)
    # a photo sent as a file (no content type from the platform) is recognised by its name
    world.files["raw"] = JPEG
    assert "Получено" in last_text(world.send(sender, Document(FileRef("raw", "IMG_0001.JPG", None, len(JPEG)))))
    assert [(f.name, f.kind) for f in world.crm_files(job)] == [("a.pdf", FileKind.MEASUREMENT_SHEET),
                                                                ("IMG_0001.JPG", FileKind.OBJECT_PHOTO)]
    # an installation takes photos only
    installer = world.user("inst", Role.INSTALLER)
    installation = world.job(JobKind.INSTALLATION, assignee=installer)
    i_sender = person()
    world.bind(i_sender, "inst")
    world.press(i_sender, f"iphotos:{installation}")
    assert "только фото" in last_text(world.send(i_sender, Document(FileRef("pdf", "a.pdf", "application/pdf", 4))))


def test_a_file_without_an_upload_started_is_kept_until_the_person_picks_the_job(world: World) -> None:
    me = world.user("me", Role.MEASURER)
    job = world.job(assignee=me)
    sender = person()
    world.bind(sender, "me")
    turn = world.send(sender, photo(world, "stray"))
    assert last_text(turn) == "Получено 1 фото.\nК какому заказу они относятся?"
    assert world.crm_files(job) == []  # kept as the platform's reference only, until the person picks
    kind = world.press(sender, f"lf:{job}")
    assert "Что на фото?" in last_text(kind)
    saved = world.press(sender, payload_of(kind, "Фото объекта"))
    assert last_text(saved).startswith(f"Сохранено в заказ № {world.crm_job(job).order_number}: фото объекта: 1.")
    assert [f.kind for f in world.crm_files(job)] == [FileKind.OBJECT_PHOTO]


def test_installer_receives_the_sheet_and_photos_and_closes_with_photos(world: World) -> None:
    measurer = world.user("meas", Role.MEASURER)
    installer = world.user("inst", Role.INSTALLER)
    measurement = world.job(assignee=measurer, status=JobStatus.SCHEDULED)
    order_id = world.crm_job(measurement).order_id
    installation = world.job(JobKind.INSTALLATION, NOW + timedelta(days=3), installer, order_id=order_id)
    m_sender, i_sender = person(), person()
    world.bind(m_sender, "meas")
    world.bind(i_sender, "inst")
    # nothing uploaded yet
    card = world.press(i_sender, f"job:{installation}")
    assert "Монтаж №" in card.sent[0].text  # type: ignore[union-attr]
    assert "пока нет" in last_text(world.press(i_sender, payload_of(card, "Замерный лист и фото")))
    world.press(m_sender, f"photos:{measurement}")
    for i in range(12):
        world.send(m_sender, photo(world, f"o{i}", group="big-album" if i < 10 else "second"))
    world.press(m_sender, f"sheet:{measurement}")
    world.files["s"] = b"%PDF-1.4"
    world.send(m_sender, Document(FileRef("s", "sheet.pdf", "application/pdf", 8)))
    turn = world.press(i_sender, f"files:{installation}")
    albums = media(turn)
    assert [len(a.files) for a in albums] == [10, 2, 1]  # albums of at most 10 photos, then the sheet
    assert {f.kind for a in albums[:2] for f in a.files} == {FileKindOut.PHOTO}
    assert albums[2].files[0].kind is FileKindOut.DOCUMENT and albums[2].files[0].name == "sheet.pdf"
    crm_ids = {f.id for f in world.crm_files(measurement)}
    assert {f.crm_file_id for a in albums for f in a.files} == crm_ids
    # the outbox holds them for the worker
    assert [r.kind for r in world.outbox(i_sender.chat_id)[-3:]] == ["media", "media", "media"]
    # installation done needs a photo of the finished work
    refused = world.press(i_sender, f"done:{installation}")
    assert "без фото выполненной работы" in last_text(refused)
    assert world.crm_job(installation).status is JobStatus.SCHEDULED
    world.press(i_sender, payload_of(refused, "Фото монтажа"))
    ack = world.send(i_sender, photo(world, "finished"))
    confirm = world.press(i_sender, payload_of(ack, "Монтаж выполнен"))
    assert "фото монтажа: 1" in last_text(confirm)
    world.press(i_sender, payload_of(confirm, "Да, монтаж выполнен"))
    assert world.crm_job(installation).status is JobStatus.INSTALLED
    assert [f.kind for f in world.crm_files(installation)] == [FileKind.INSTALLATION_PHOTO]


def test_a_measurer_cannot_upload_to_a_job_reassigned_meanwhile(world: World) -> None:
    me = world.user("me", Role.MEASURER)
    other = world.user("other", Role.MEASURER)
    job = world.job(assignee=me)
    sender = person()
    world.bind(sender, "me")
    world.press(sender, f"photos:{job}")
    with world.app.app_context():
        from crm_plugin.demo.models import Job, db

        db.session.get(Job, job).assignee_id = other
        db.session.commit()
    turn = world.send(sender, photo(world, "late"))
    assert "недоступна" in last_text(turn)
    assert world.crm_files(job) == []


def test_marking_done_twice_is_harmless(world: World) -> None:
    me = world.user("me", Role.MEASURER)
    job = world.job(assignee=me, status=JobStatus.MEASURED)
    sender = person()
    world.bind(sender, "me")
    turn = world.press(sender, f"done:{job}")
    assert "уже отмечен" in texts(turn)[0]
    assert isinstance(turn.sent[0], TextReply)
    assert f"done:{job}" not in payloads(world.press(sender, f"job:{job}"))


def test_taps_from_notification_to_measurement_done(world: World) -> None:
    """Counts the taps a measurer needs from a new-request notification to "Замер выполнен" (confirmed)."""
    from crm_plugin import host

    world.user("me", Role.MEASURER)
    job = world.job(at=NOW + timedelta(hours=9), assignee=None)
    sender = person()
    world.bind(sender, "me")
    host.measurement_requested.send(world.app, job_id=job)
    notice = world.outbox(sender.chat_id)[-1].payload
    take = notice["buttons"][0][0]
    assert take["label"] == "Взять"
    taps = 0
    card = world.press(sender, take["payload"])
    taps += 1
    for i in range(3):  # the card is open: files go to its job with no further tap
        world.send(sender, photo(world, f"t{i}", group="alb"))
    world.files["s"] = b"%PDF"
    sheet_ack = world.send(sender, Document(FileRef("s", "s.pdf", "application/pdf", 4)))
    assert card.sent and "замерный лист" in last_text(sheet_ack)
    confirm = world.press(sender, payload_of(sheet_ack, "Замер выполнен"))
    taps += 1
    world.press(sender, payload_of(confirm, "Да, замер выполнен"))
    taps += 1
    assert world.crm_job(job).status is JobStatus.MEASURED
    assert taps == 3  # take, done, confirm (it was 4: take, photos, sheet, done)
