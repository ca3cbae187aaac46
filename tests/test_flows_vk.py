"""Field staff in a VK community, end to end: Callback API events POSTed with the secret, the worker running
the bot, vk_api delivering to the fake VK API (uploads included), and the demo CRM's data checked afterwards."""

from __future__ import annotations

from sqlalchemy import select

from crm_plugin.core.models import Attendance, LinkStatus
from crm_plugin.host import FileKind, JobKind, JobStatus, Role

from .fakes.telegram import FakeTelegram
from .fakes.vk import FakeVk
from .flows.telegram import (
    TelegramUser,
    telegram_bot,
    telegram_fixture,  # noqa: F401  (fixture)
)
from .flows.vk import (
    VkUser,
    vk_bot,
    vk_fixture,  # noqa: F401  (fixture)
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

def test_typed_login_binds_with_the_code_the_crm_delivered(flow: Flow, vk: FakeVk) -> None:
    bot_id = vk_bot(flow, vk)
    volkov = flow.user("volkov", Role.MEASURER, phone="+7 927 401-22-12", name="Волков Сергей Андреевич")
    person = VkUser(flow, bot_id, vk, 501_000_001)

    person.start()
    [welcome] = person.last_replies()
    assert welcome.text.startswith("Здравствуйте! Это бот компании")
    assert welcome.raw.keyboard["one_time"] is True  # VK cannot share a phone: a plain keyboard button

    person.text("volkov@okna.example")  # e-mail, login or phone: whatever the employee remembers
    assert person.last_text().startswith("Отправил 6-значный код сотруднику Волков Сергей Андреевич через CRM.")
    [code] = flow.login_codes(volkov)
    person.text("12345")  # not six digits: taken as another login, which matches nobody
    assert "Не нашёл действующего сотрудника" in person.last_text()
    assert flow.link(bot_id, volkov) is None

    person.text("+7 927 401-22-12")  # the phone works too; a new code replaces the old request
    codes = flow.login_codes(volkov)
    assert len(codes) == 2
    person.text(code if code != codes[-1] else "000000")  # the first code's request was closed
    assert person.last_text() == "Неверный код. Осталось попыток: 4."
    assert flow.link(bot_id, volkov) is None
    person.text(codes[-1])
    assert person.last_text().startswith("Готово! Вы вошли как Волков Сергей Андреевич.")
    link = flow.link(bot_id, volkov)
    assert link is not None and (link.status, link.platform_user_id) == (LinkStatus.BOUND, "501000001")


def test_invite_ref_binds_once(flow: Flow, vk: FakeVk) -> None:
    bot_id = vk_bot(flow, vk)
    nikitin = flow.user("nikitin", Role.INSTALLER, name="Никитин Алексей Петрович")
    token = flow.invite(bot_id, nikitin)
    person = VkUser(flow, bot_id, vk, 501_000_002)
    person.start(token)
    assert person.last_text().startswith("Готово! Вы вошли как Никитин Алексей Петрович.\n\nМеню (монтажник):")
    menu = person.last_replies()[-1].raw.keyboard
    assert menu["inline"] is True and {b["action"]["type"] for row in menu["buttons"] for b in row} == {"callback"}

    stranger = VkUser(flow, bot_id, vk, 501_000_003)
    stranger.start(token)
    assert "уже использована" in stranger.last_text()
    assert flow.link(bot_id, nikitin).platform_user_id == "501000002"  # type: ignore[union-attr]


# --- job lists -------------------------------------------------------------------------------------------

def test_each_list_of_each_role_keeps_to_the_company_days(flow: Flow, vk: FakeVk) -> None:
    bot_id = vk_bot(flow, vk)
    measurer, installer = flow.user("khairullin", Role.MEASURER), flow.user("galiev", Role.INSTALLER)
    colleague = flow.user("sabirova", Role.MEASURER, Role.INSTALLER)
    expected = {"measurer": boundary_jobs(flow, JobKind.MEASUREMENT, measurer, colleague),
                "installer": boundary_jobs(flow, JobKind.INSTALLATION, installer, colleague)}
    people = {"measurer": VkUser(flow, bot_id, vk, 501_000_010).bind_by_invite(measurer),
              "installer": VkUser(flow, bot_id, vk, 501_000_011).bind_by_invite(installer)}
    for role, person in people.items():
        assert lists_seen(person) == expected[role], role
    person.tap("Предстоящие")  # six jobs and «Меню»: more lines than VK allows under a message
    [page] = person.last_replies()
    assert (page.raw.keyboard["inline"], page.raw.keyboard["one_time"]) == (False, True)
    person.tap(page.labels()[0])  # a keyboard button under the input field: a message with the payload
    assert person.texts()[0].startswith("Монтаж № ")


# --- reports ---------------------------------------------------------------------------------------------

def test_measurement_report_lands_in_the_crm(flow: Flow, vk: FakeVk) -> None:
    bot_id = vk_bot(flow, vk)
    measurer = flow.user("volkov", Role.MEASURER)
    job_id = flow.job(JobKind.MEASUREMENT, local_moment(flow, 0, 15, 30), measurer, lat=55.7887, lon=49.1186,
                      client="Сафина Лилия Ринатовна", address="г. Казань, ул. Баумана, д. 19, кв. 7")
    number = flow.crm_job(job_id).order_number
    person = VkUser(flow, bot_id, vk, 501_000_020).bind_by_invite(measurer)

    person.tap("Сегодня")
    person.tap("15:30 · ул. Баумана, 19")
    card, pin = person.last_replies()
    assert card.text.startswith(f"Замер № {number} · назначен\nКлиент: Сафина Лилия Ринатовна\n"
                                "Телефон: +79170001122\nАдрес: г. Казань, ул. Баумана, д. 19, кв. 7")
    links = {b.label: b.url for row in card.buttons for b in row if b.kind == "url"}
    assert links == {"Яндекс Карты": "https://yandex.ru/maps/?pt=49.1186,55.7887&z=17&l=map",
                     "OpenStreetMap": "https://www.openstreetmap.org/?mlat=55.7887&mlon=49.1186#map=17/55.7887/49.1186"}
    assert pin.location == (55.7887, 49.1186) and pin.text == "ул. Баумана, д. 19"

    person.tap("Отправить фото объекта")
    person.send_photos(PHOTOS, caption="Кухня и зал")  # one VK message, three attachments
    [ack] = person.last_replies()
    assert ack.text.startswith("Получено 3 фото: фото объекта.")
    assert ack.labels() == ["Отправить замерный лист", "Готово"]
    person.press(f"done:{job_id}")
    assert person.last_text() == "Замер нельзя закрыть без замерного листа. Сначала отправьте замерный лист."
    assert flow.crm_job(job_id).status is JobStatus.SCHEDULED

    person.tap("Отправить замерный лист")
    person.send_document("лист_замера.pdf", PDF, "application/pdf")
    person.tap("Замер выполнен")
    person.tap("Да, замер выполнен")
    assert person.last_text().startswith(f"Замер № {number} выполнен. Спасибо!\n"
                                         "Файлы в CRM: фото объекта: 3, замерный лист: 1.")
    files = flow.crm_files(job_id)
    assert [f.kind for f in files] == [FileKind.OBJECT_PHOTO] * 3 + [FileKind.MEASUREMENT_SHEET]
    with flow.app.app_context():
        assert [flow.state.gateway.read_file(f.id) for f in files] == [*PHOTOS, PDF]
    assert files[-1].name == "лист_замера.pdf" and files[-1].content_type == "application/pdf"
    assert flow.crm_job(job_id).status is JobStatus.MEASURED


def test_installer_gets_photos_and_sheet_uploaded_once_then_reports(flow: Flow, vk: FakeVk) -> None:
    bot_id = vk_bot(flow, vk)
    measurer, installer = flow.user("volkov", Role.MEASURER), flow.user("nikitin", Role.INSTALLER)
    measurement = flow.job(JobKind.MEASUREMENT, local_moment(flow, -3, 10, 0), measurer, JobStatus.MEASURED)
    order_id = flow.crm_job(measurement).order_id
    attach_measurement_files(flow, measurement, measurer, PHOTOS)
    job_id = flow.job(JobKind.INSTALLATION, local_moment(flow, 0, 9, 0), installer, order_id=order_id)
    person = VkUser(flow, bot_id, vk, 501_000_030).bind_by_invite(installer)

    person.press(f"job:{job_id}")
    person.tap("Замерный лист и фото")
    photos, sheet = person.last_replies()
    assert photos.files == [("photo", True)] * 3 and photos.text.startswith("Фото объекта, заказ № ")
    assert sheet.files == [("document", True)]
    assert [vk.uploads[a].content for a in photos.raw.attachments] == PHOTOS
    assert vk.uploads[sheet.raw.attachments[0]].content == PDF
    uploads = len(vk.uploads)

    person.press(f"files:{job_id}")
    again = person.last_replies()
    assert [m.raw.attachments for m in again] == [photos.raw.attachments, sheet.raw.attachments]
    assert len(vk.uploads) == uploads and len(vk.calls("photos.saveMessagesPhoto")) == 3  # no upload again

    person.press(f"iphotos:{job_id}")
    person.send_photos(PHOTOS[:2])
    person.tap("Монтаж выполнен")
    person.tap("Да, монтаж выполнен")
    assert person.last_text().startswith("Монтаж № ") and "выполнен. Спасибо!" in person.last_text()
    assert flow.crm_job(job_id).status is JobStatus.INSTALLED
    assert [f.kind for f in flow.crm_files(job_id)] == [FileKind.INSTALLATION_PHOTO] * 2


# --- attendance ------------------------------------------------------------------------------------------

def test_clock_in_and_out_with_the_place_and_no_double_clock_in(flow: Flow, vk: FakeVk) -> None:
    bot_id = vk_bot(flow, vk)
    measurer = flow.user("orlov", Role.MEASURER)
    person = VkUser(flow, bot_id, vk, 501_000_040).bind_by_invite(measurer)

    person.tap("Отметиться")
    person.tap("Пришёл")
    [asked] = person.last_replies()
    assert asked.raw.keyboard["one_time"] is True
    assert [[b.kind for b in row] for row in asked.buttons] == [["location"], ["text"]]
    person.send_location(55.7887, 49.1186)
    recorded, menu = person.last_replies()  # the place alone takes the location keyboard away, then the menu
    assert recorded.text == "Место записано." and recorded.raw.keyboard["buttons"] == []
    assert menu.text.startswith("Меню (замерщик):")
    person.press("att:in")
    assert person.last_text().startswith("Вы уже отметили приход в ")
    person.tap("Ушёл")
    assert person.last_text().startswith("Отмечено: ушёл в ")
    person.tap("Пропустить")  # the place is optional
    assert person.texts() == ["Готово, без места.", "Меню (замерщик):"]

    with flow.state.db.session() as session:
        [shift] = session.scalars(select(Attendance).where(Attendance.crm_user_id == measurer)).all()
    assert (shift.start_latitude, shift.start_longitude) == (55.7887, 49.1186)
    assert shift.ended_at is not None and shift.end_latitude is None


# --- a new request, across messengers ----------------------------------------------------------------------

def test_new_request_reaches_measurers_on_vk_and_telegram_and_the_first_taker_wins(
        flow: Flow, vk: FakeVk, telegram: FakeTelegram) -> None:
    vk_id, tg_id = vk_bot(flow, vk), telegram_bot(flow, telegram)
    volkov = flow.user("volkov", Role.MEASURER, name="Волков Сергей")
    on_vk = VkUser(flow, vk_id, vk, 501_000_050).bind_by_invite(volkov)
    on_telegram = TelegramUser(flow, tg_id, telegram, 111_500)
    on_telegram.start(flow.invite(tg_id, flow.user("sabirova", Role.MEASURER, name="Сабирова Гульнара")))
    manager = manager_client(flow)

    on_vk.mark()
    on_telegram.mark()
    assert manager.post("/measurements/new", data=measurement_form(manager_comment="")).status_code == 302
    flow.run()
    for person in (on_vk, on_telegram):
        [notice] = person.last_replies()
        assert notice.text.startswith("Новая заявка на замер, её ещё никто не взял:")
        assert notice.labels() == ["Взять", "Открыть"]
    number = on_vk.last_text().split("Заказ № ", 1)[1].split("\n", 1)[0]

    on_telegram.mark()
    on_vk.tap("Взять")
    assert on_vk.texts()[0].startswith(f"Заявка ваша.\n\nЗамер № {number}")
    assert on_telegram.texts() == [f"Заявку № {number} уже взял(а) Волков Сергей."]
    on_telegram.tap("Взять", earlier=True)
    assert on_telegram.texts() == [f"Заявку № {number} уже взял(а) Волков Сергей."]


# --- refusals ------------------------------------------------------------------------------------------------

def test_forged_ids_blocked_and_crm_inactive_people_are_refused(flow: Flow, vk: FakeVk) -> None:
    bot_id = vk_bot(flow, vk)
    worker, colleague = flow.user("volkov", Role.MEASURER), flow.user("sabirova", Role.MEASURER)
    blocked_id, gone_id = flow.user("galiev", Role.INSTALLER), flow.user("zakirov", Role.MEASURER)
    others = flow.job(JobKind.MEASUREMENT, local_moment(flow, 0, 12, 0), colleague)
    person = VkUser(flow, bot_id, vk, 501_000_060).bind_by_invite(worker)
    for payload in (f"job:{others}", f"done:{others}", f"sheet:{others}", "job:999999"):
        person.press(payload)
        assert person.texts() == ["Эта заявка вам недоступна.\n\nМеню (замерщик):"], payload
    person.press("job:-1")  # not a job id at all: the button was never ours
    assert person.texts()[0].startswith("Эта кнопка устарела."), person.texts()
    assert flow.crm_job(others).status is JobStatus.SCHEDULED and flow.crm_files(others) == []

    blocked = VkUser(flow, bot_id, vk, 501_000_061).bind_by_invite(blocked_id)
    gone = VkUser(flow, bot_id, vk, 501_000_062).bind_by_invite(gone_id)
    block_in_admin(flow, flow.link(bot_id, blocked_id).id)  # type: ignore[union-attr]
    flow.set_user(gone_id, active=False)
    refusals = {blocked: "Администратор заблокировал вам доступ к боту.",
                gone: "Ваша учётная запись в CRM отключена. Обратитесь к администратору."}
    for person, refusal in refusals.items():
        for act in (lambda p: p.start(), lambda p: p.text("Сегодня"), lambda p: p.press("menu"),
                    lambda p: p.send_location(55.79, 49.12), lambda p: p.send_photos(PHOTOS[:3])):  # an album: one refusal
            act(person)
            assert [(m.text, m.buttons) for m in person.last_replies()] == [(refusal, [])]


def test_share_phone_button_on_vk_asks_to_type_the_phone_or_login(flow: Flow, vk: FakeVk) -> None:
    bot_id = vk_bot(flow, vk)
    person = VkUser(flow, bot_id, vk, 501_000_070)
    person.start()
    welcome = person.last_text()
    person.tap("Поделиться номером")
    [answer] = person.last_replies()
    assert answer.text != welcome and "Поделиться номером" not in answer.labels()
    assert "Напишите свой телефон, логин или e-mail" in answer.text
