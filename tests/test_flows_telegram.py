"""Field staff on Telegram, end to end: updates POSTed to the webhook route, the worker running the bot, telebot
delivering to the fake Bot API, and the demo CRM's data checked afterwards."""

from __future__ import annotations

from sqlalchemy import select

from crm_plugin import get_state
from crm_plugin.core.models import Attendance, LinkStatus
from crm_plugin.host import FileKind, JobKind, JobStatus, Role

from .fakes.telegram import FakeTelegram
from .flows.telegram import (
    TelegramUser,
    telegram_bot,
    telegram_fixture,  # noqa: F401  (fixture)
)
from .flows.world import (
    PDF,
    PHOTOS,
    Flow,
    attach_measurement_files,
    block_in_admin,
    boundary_jobs,
    flow_fixture,  # noqa: F401  (fixture)
    lists_seen,
    local_moment,
    manager_client,
    measurement_form,
)

# --- binding ---------------------------------------------------------------------------------------------

def test_own_contact_binds_and_a_foreign_one_is_refused(flow: Flow, telegram: FakeTelegram) -> None:
    bot_id = telegram_bot(flow, telegram)
    volkov = flow.user("volkov", Role.MEASURER, phone="+7 927 401-22-12", name="Волков Сергей Андреевич")
    person = TelegramUser(flow, bot_id, telegram, 111_001)

    person.start()
    [welcome] = person.last_replies()
    assert "Поделиться номером" in welcome.text
    [[share]] = welcome.buttons  # a reply keyboard: Telegram asks for a contact only from one
    assert share.kind == "contact" and welcome.raw.reply_markup["one_time_keyboard"] is True

    person.share_contact("+79274012212", own=False)  # someone else's card with the employee's number
    assert "Это чужой контакт" in person.last_text()
    assert flow.link(bot_id, volkov) is None

    person.share_contact("79274012212", own=True)
    greeting, menu = person.last_replies()  # the greeting alone takes the share-contact keyboard away
    assert greeting.text == "Готово! Вы вошли как Волков Сергей Андреевич."
    assert greeting.raw.reply_markup == {"remove_keyboard": True}
    assert menu.text == "Меню (замерщик):" and "Сегодня" in menu.labels()
    link = flow.link(bot_id, volkov)
    assert link is not None and (link.status, link.platform_user_id, link.chat_id) == (
        LinkStatus.BOUND, "111001", "111001")


def test_invite_link_binds_once(flow: Flow, telegram: FakeTelegram) -> None:
    bot_id = telegram_bot(flow, telegram)
    nikitin = flow.user("nikitin", Role.INSTALLER, name="Никитин Алексей Петрович")
    token = flow.invite(bot_id, nikitin)

    person = TelegramUser(flow, bot_id, telegram, 111_002)
    person.start(token)
    assert person.last_text().startswith("Готово! Вы вошли как Никитин Алексей Петрович.")
    assert flow.link(bot_id, nikitin).platform_user_id == "111002"  # type: ignore[union-attr]

    stranger = TelegramUser(flow, bot_id, telegram, 111_003)
    stranger.start(token)  # a forwarded link is used up
    assert "уже использована" in stranger.last_text()
    stranger.start("not-a-real-token")
    assert "недействительна" in stranger.last_text()
    assert flow.link(bot_id, nikitin).platform_user_id == "111002"  # type: ignore[union-attr]


def test_typed_login_binds_with_the_code_the_crm_delivered(flow: Flow, telegram: FakeTelegram) -> None:
    bot_id = telegram_bot(flow, telegram)
    orlov = flow.user("orlov", Role.MEASURER, Role.INSTALLER, name="Орлов Павел Игоревич")
    person = TelegramUser(flow, bot_id, telegram, 111_004)

    person.text("Orlov")
    assert "6-значный код" in person.last_text()
    [code] = flow.login_codes(orlov)  # the CRM's inbox of the employee: LoginCode
    person.text("000000" if code != "000000" else "111111")
    assert person.last_text() == "Неверный код. Осталось попыток: 4."
    assert flow.link(bot_id, orlov) is None

    person.text(code)
    assert person.last_text().startswith("Готово! Вы вошли как Орлов Павел Игоревич.")
    assert {"Замеры", "Монтажи"} <= set(person.last_replies()[-1].labels())  # two roles: a choice first
    assert flow.link(bot_id, orlov).status is LinkStatus.BOUND  # type: ignore[union-attr]


# --- job lists -------------------------------------------------------------------------------------------

def test_each_list_of_each_role_keeps_to_the_company_days(flow: Flow, telegram: FakeTelegram) -> None:
    bot_id = telegram_bot(flow, telegram)
    measurer, installer = flow.user("khairullin", Role.MEASURER), flow.user("galiev", Role.INSTALLER)
    colleague = flow.user("sabirova", Role.MEASURER, Role.INSTALLER)
    expected = {"measurer": boundary_jobs(flow, JobKind.MEASUREMENT, measurer, colleague),
                "installer": boundary_jobs(flow, JobKind.INSTALLATION, installer, colleague)}
    people = {"measurer": TelegramUser(flow, bot_id, telegram, 111_010).bind_by_invite(measurer),
              "installer": TelegramUser(flow, bot_id, telegram, 111_011).bind_by_invite(installer)}
    for role, person in people.items():
        assert lists_seen(person) == expected[role], role


# --- a measurement report --------------------------------------------------------------------------------

def test_measurement_report_lands_in_the_crm(flow: Flow, telegram: FakeTelegram) -> None:
    bot_id = telegram_bot(flow, telegram)
    measurer = flow.user("volkov", Role.MEASURER)
    job_id = flow.job(JobKind.MEASUREMENT, local_moment(flow, 0, 15, 30), measurer, lat=55.7887, lon=49.1186,
                      client="Сафина Лилия Ринатовна", address="г. Казань, ул. Баумана, д. 19, кв. 7")
    number = flow.crm_job(job_id).order_number
    person = TelegramUser(flow, bot_id, telegram, 111_020).bind_by_invite(measurer)

    person.tap("Сегодня")
    assert "15:30 · Сафина Л.\nул. Баумана, 19" in person.last_text()  # the client on a line of its own
    person.tap("15:30 · ул. Баумана, 19")
    card, pin = person.last_replies()
    day = local_moment(flow, 0, 15, 30).astimezone(get_state(flow.app).settings.tz).strftime("%d.%m.%Y")
    assert card.text.splitlines() == [
        f"Замер № {number} · назначен", "Клиент: Сафина Лилия Ринатовна", "Телефон: +79170001122",
        "Адрес: г. Казань, ул. Баумана, д. 19, кв. 7", f"Время: {day} 15:30", "Комментарий менеджера: Домофон 15"]
    maps = {b.label: b.url for b in card.buttons[0]}
    assert maps["Яндекс Карты"] == "https://yandex.ru/maps/?pt=49.1186,55.7887&z=17&l=map"
    assert maps["OpenStreetMap"].startswith("https://www.openstreetmap.org/?mlat=55.7887&mlon=49.1186")
    assert pin.raw.method == "sendLocation" and pin.location == (55.7887, 49.1186)

    person.tap("Отправить фото объекта")
    assert person.last_text().startswith(f"Заказ № {number}, фото объекта.")
    person.send_photos(PHOTOS, album=True, caption="Кухня и зал")
    [ack] = person.last_replies()  # one answer to an album of three, not one per photo, with its count
    assert ack.text.startswith("Получено 3 фото: фото объекта.")
    assert ack.labels() == ["Отправить замерный лист", "Готово"]
    person.tap("Готово")
    assert person.last_text().startswith("Готово: фото объекта получены, файлов: 3, они в CRM.")

    person.tap("Замер выполнен")  # no sheet yet
    assert person.last_text() == "Замер нельзя закрыть без замерного листа. Сначала отправьте замерный лист."
    assert flow.crm_job(job_id).status is JobStatus.SCHEDULED

    person.tap("Отправить замерный лист")
    person.send_document("лист_замера.pdf", PDF, "application/pdf")
    assert person.last_replies()[-1].labels() == ["Замер выполнен", "Готово"]
    person.tap("Замер выполнен")
    assert person.last_text() == (f"Отметить замер № {number} выполненным? В CRM будет:\n"
                                  "Файлы в CRM: фото объекта: 3, замерный лист: 1.")
    assert flow.crm_job(job_id).status is JobStatus.SCHEDULED
    person.tap("Да, замер выполнен")
    assert person.last_text().startswith(f"Замер № {number} выполнен. Спасибо!\n"
                                         "Файлы в CRM: фото объекта: 3, замерный лист: 1.")

    files = flow.crm_files(job_id)
    assert [(f.kind, f.content_type) for f in files] == [(FileKind.OBJECT_PHOTO, "image/jpeg")] * 3 + [
        (FileKind.MEASUREMENT_SHEET, "application/pdf")]
    with flow.app.app_context():
        assert [flow.state.gateway.read_file(f.id) for f in files] == [*PHOTOS, PDF]
    assert files[-1].name == "лист_замера.pdf"
    assert flow.crm_job(job_id).status is JobStatus.MEASURED


def test_from_the_notification_to_measurement_done_in_three_taps(flow: Flow, telegram: FakeTelegram) -> None:
    bot_id = telegram_bot(flow, telegram)
    measurer = flow.user("volkov", Role.MEASURER, name="Волков Сергей Андреевич")
    person = TelegramUser(flow, bot_id, telegram, 111_030).bind_by_invite(measurer)
    manager = manager_client(flow)

    person.mark()
    assert manager.post("/measurements/new", data=measurement_form(assignee_id=measurer)).status_code == 302
    flow.run()  # the worker's next run delivers what the host event queued
    [notice] = person.last_replies()
    assert notice.text.startswith("Новый замер для вас:\nЗаказ № З-")
    assert notice.labels() == ["Открыть", "Отправить фото объекта", "Отправить замерный лист"]
    assert "Адрес: ул. Баумана, д. 19" in notice.text and "Время: 10.03.2030 10:00" in notice.text

    person.taps = 0
    person.tap("Отправить фото объекта")  # straight from the notification
    person.send_photos(PHOTOS)
    person.send_document("лист.pdf", PDF, "application/pdf")  # a PDF is the sheet: no tap to switch
    person.tap("Замер выполнен")
    assert "фото объекта: 3, замерный лист: 1" in person.last_text()  # what the CRM gets, to confirm
    person.tap("Да, замер выполнен")
    assert "выполнен. Спасибо!" in person.last_text()
    assert person.taps == 3  # photos, done, confirm (it was 4: open, photos, sheet, done)
    [job] = flow.jobs_of(measurer)
    assert job.status is JobStatus.MEASURED and len(flow.crm_files(job.id)) == 4


def measured_order(flow: Flow, measurer: int) -> int:
    """A measured order with three object photos and a sheet in the CRM; returns the order id."""
    job_id = flow.job(JobKind.MEASUREMENT, local_moment(flow, -1, 10, 0), measurer)
    attach_measurement_files(flow, job_id, measurer, PHOTOS)
    with flow.app.app_context():
        flow.state.gateway.set_job_status(job_id, JobStatus.MEASURED, measurer)
    return flow.crm_job(job_id).order_id


def test_installer_gets_the_album_and_sheet_once_uploaded_then_reports(flow: Flow, telegram: FakeTelegram) -> None:
    bot_id = telegram_bot(flow, telegram)
    measurer, installer = flow.user("volkov", Role.MEASURER), flow.user("nikitin", Role.INSTALLER)
    order_id = measured_order(flow, measurer)
    person = TelegramUser(flow, bot_id, telegram, 111_040).bind_by_invite(installer)
    manager = manager_client(flow)

    person.mark()
    assert manager.post(f"/orders/{order_id}/installation", data={
        "address": "Казань, ул. Баумана, д. 19, кв. 7", "scheduled_at": "2030-03-20T09:00",
        "assignee_id": installer, "manager_comment": "Изделия на складе"}).status_code == 302
    flow.run()
    assert person.last_text().startswith("Новый монтаж для вас:")
    person.tap("Открыть")
    assert person.last_replies()[0].text.startswith("Монтаж № ")
    [job] = [j for j in flow.jobs_of(installer) if j.kind is JobKind.INSTALLATION]

    person.tap("Замерный лист и фото")
    *album, sheet = person.last_replies()  # the fake records an album as one message per item
    assert [m.raw.method for m in album] == ["sendMediaGroup"] * 3 and len({m.raw.media_group_id for m in album}) == 1
    assert len(telegram.calls("sendMediaGroup")) == 1  # one call: one album
    assert album[0].text == f"Фото объекта, заказ № {job.order_number}"
    uploaded_photos = [f for m in album for f in m.raw.files]
    assert [(f.kind, f.uploaded, f.content) for f in uploaded_photos] == [("photo", True, p) for p in PHOTOS]
    assert sheet.raw.method == "sendDocument" and sheet.files == [("document", True)]
    assert sheet.raw.files[0].content == PDF and sheet.raw.files[0].filename == "лист.pdf"

    person.press(f"files:{job.id}")  # the card's button once more, from further up the chat
    again = telegram.sent_messages(person.chat_id)[-4:]
    assert [m.method for m in again] == ["sendMediaGroup"] * 3 + ["sendDocument"]
    assert all(not f.uploaded for m in again for f in m.files)  # Telegram's file ids, no bytes again
    assert [f.file_id for m in again[:3] for f in m.files] == [f.file_id for f in uploaded_photos]

    person.press(f"done:{job.id}")
    assert person.last_text().startswith("Монтаж нельзя закрыть без фото выполненной работы.")
    person.tap("Фото монтажа")
    person.send_photos(PHOTOS[:2])
    person.tap("Монтаж выполнен")
    person.tap("Да, монтаж выполнен")
    assert person.last_text().startswith(f"Монтаж № {job.order_number} выполнен. Спасибо!")
    assert flow.crm_job(job.id).status is JobStatus.INSTALLED
    assert [f.kind for f in flow.crm_files(job.id)] == [FileKind.INSTALLATION_PHOTO] * 2


# --- attendance ------------------------------------------------------------------------------------------

def test_clock_in_and_out_with_the_place_and_no_double_clock_in(flow: Flow, telegram: FakeTelegram) -> None:
    bot_id = telegram_bot(flow, telegram)
    installer = flow.user("morozov", Role.INSTALLER)
    person = TelegramUser(flow, bot_id, telegram, 111_050).bind_by_invite(installer)

    person.tap("Отметиться")
    assert person.last_text() == "Приход не отмечен."
    person.tap("Пришёл")
    assert person.last_text().startswith("Отмечено: пришёл в ")
    [asked] = person.last_replies()
    assert [[b.kind for b in row] for row in asked.buttons] == [["location"], ["text"]]  # under the input field
    person.send_location(55.7887, 49.1186)
    recorded, menu = person.last_replies()  # the place alone takes the location keyboard away, then the menu
    assert recorded.text == "Место записано." and recorded.raw.reply_markup == {"remove_keyboard": True}
    assert menu.text.startswith("Меню (монтажник):")

    person.tap("Отметиться")
    assert person.last_text().startswith("Приход отмечен в ")
    person.tap("Пришёл")
    assert person.last_text().startswith("Вы уже отметили приход в ")
    person.tap("Ушёл")
    assert person.last_text().startswith("Отмечено: ушёл в ") and "Отработано 0 ч" in person.last_text()
    person.send_location(55.7500, 49.2100)
    assert person.texts()[0] == "Место записано."

    with flow.state.db.session() as session:
        [shift] = session.scalars(select(Attendance).where(Attendance.crm_user_id == installer)).all()
    assert shift.ended_at is not None and shift.ended_at >= shift.started_at and shift.bot_id == bot_id
    assert (shift.start_latitude, shift.start_longitude) == (55.7887, 49.1186)
    assert (shift.end_latitude, shift.end_longitude) == (55.75, 49.21)


# --- a new request ------------------------------------------------------------------------------------------

def test_unassigned_request_goes_to_every_measurer_and_the_first_taker_wins(flow: Flow,
                                                                            telegram: FakeTelegram) -> None:
    bot_id = telegram_bot(flow, telegram)
    volkov = flow.user("volkov", Role.MEASURER, name="Волков Сергей")
    first = TelegramUser(flow, bot_id, telegram, 111_060).bind_by_invite(volkov)
    sabirova = flow.user("sabirova", Role.MEASURER, name="Сабирова Гульнара")
    second = TelegramUser(flow, bot_id, telegram, 111_061).bind_by_invite(sabirova)
    installer = TelegramUser(flow, bot_id, telegram, 111_062).bind_by_invite(flow.user("nikitin", Role.INSTALLER))
    manager = manager_client(flow)

    for person in (first, second, installer):
        person.mark()
    manager.post("/measurements/new", data=measurement_form())
    flow.run()
    for person in (first, second):
        [notice] = person.last_replies()
        assert notice.text.startswith("Новая заявка на замер, её ещё никто не взял:")
        assert notice.labels() == ["Взять", "Открыть"]
    assert installer.last_replies() == []
    number = first.last_text().split("Заказ № ", 1)[1].split("\n", 1)[0]

    second.mark()
    first.tap("Взять")
    assert first.last_text().startswith(f"Заявка ваша.\n\nЗамер № {number} · назначен")
    assert second.texts() == [f"Заявку № {number} уже взял(а) Волков Сергей."]  # nobody else drives there
    second.tap("Взять", earlier=True)  # too late, from the notification
    assert second.texts() == [f"Заявку № {number} уже взял(а) Волков Сергей."]
    [job] = flow.jobs_of(volkov)
    assert job.order_number == number and job.status is JobStatus.SCHEDULED


# --- refusals ------------------------------------------------------------------------------------------------

def test_forged_job_ids_in_button_payloads_are_refused(flow: Flow, telegram: FakeTelegram) -> None:
    bot_id = telegram_bot(flow, telegram)
    measurer, colleague = flow.user("volkov", Role.MEASURER), flow.user("sabirova", Role.MEASURER)
    others = flow.job(JobKind.MEASUREMENT, local_moment(flow, 0, 12, 0), colleague)
    installation = flow.job(JobKind.INSTALLATION, local_moment(flow, 0, 13, 0), None, JobStatus.NEW)
    person = TelegramUser(flow, bot_id, telegram, 111_070).bind_by_invite(measurer)

    for payload in (f"job:{others}", f"done:{others}", f"photos:{others}", f"take:{others}", f"take:{installation}",
                    "job:999999", "job:abc", f"sheet:{others}:x"):
        person.press(payload)
        texts = person.texts()
        assert len(texts) == 1 and texts[0].startswith(("Эта заявка вам недоступна.", "Эта кнопка устарела.",
                                                        "Заявку № ")), (payload, texts)
        assert "Клиент:" not in texts[0], payload  # nothing of the job is shown
    job = flow.crm_job(others)
    assert job.status is JobStatus.SCHEDULED and job.assignee_id == colleague
    assert flow.crm_job(installation).assignee_id is None and flow.crm_files(others) == []


def test_blocked_and_crm_inactive_people_are_refused_at_every_message(flow: Flow, telegram: FakeTelegram) -> None:
    bot_id = telegram_bot(flow, telegram)
    blocked_id, gone_id = flow.user("galiev", Role.INSTALLER), flow.user("zakirov", Role.MEASURER)
    own_job = flow.job(JobKind.MEASUREMENT, local_moment(flow, 0, 12, 0), gone_id)
    blocked = TelegramUser(flow, bot_id, telegram, 111_080).bind_by_invite(blocked_id)
    gone = TelegramUser(flow, bot_id, telegram, 111_081).bind_by_invite(gone_id)
    block_in_admin(flow, flow.link(bot_id, blocked_id).id)  # type: ignore[union-attr]
    flow.set_user(gone_id, active=False)  # left the company: switched off in the CRM

    refusals = {blocked: "Администратор заблокировал вам доступ к боту.",
                gone: "Ваша учётная запись в CRM отключена. Обратитесь к администратору."}
    for person, refusal in refusals.items():
        for act in (lambda p: p.start(), lambda p: p.text("Сегодня"), lambda p: p.press("menu"),
                    lambda p: p.press(f"done:{own_job}"), lambda p: p.share_contact("+79274012215"),
                    lambda p: p.send_location(55.79, 49.12), lambda p: p.send_photos(PHOTOS[:3])):  # an album: one refusal
            act(person)
            [answer] = person.last_replies()
            assert (answer.text, answer.buttons) == (refusal, [])
    assert flow.crm_job(own_job).status is JobStatus.SCHEDULED and flow.crm_files(own_job) == []
    assert flow.link(bot_id, blocked_id).status is LinkStatus.BLOCKED  # type: ignore[union-attr]
