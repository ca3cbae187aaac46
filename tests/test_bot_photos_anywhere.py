"""Files sent outside «Отправить фото» are kept and end up on the job the person picks, on each messenger's fake
(Telegram, VK, Viber, Slack): the whole album counted in one answer, the jobs last
opened first, a question about what the photos are, and files sent next following the job with no tap."""

from __future__ import annotations

import pytest

from crm_plugin.host import FileKind, JobKind, Role

from .fakes.slack import FakeSlack
from .fakes.telegram import FakeTelegram
from .fakes.viber import FakeViber
from .fakes.vk import FakeVk
from .flows.people import Person
from .flows.slack import SlackUser, slack_bot, slack_fixture  # noqa: F401  (fixture)
from .flows.telegram import TelegramUser, telegram_bot, telegram_fixture  # noqa: F401  (fixture)
from .flows.viber import ViberUser, viber_bot, viber_fixture  # noqa: F401  (fixture)
from .flows.vk import VkUser, vk_bot, vk_fixture  # noqa: F401  (fixture)
from .flows.world import PDF, PHOTOS, Flow, flow_fixture, local_moment  # noqa: F401  (fixture)


def photos_from_the_menu_land_on_the_picked_job(flow: Flow, person: Person, measurer: int, *,
                                                 albums: bool) -> None:
    today = flow.job(JobKind.MEASUREMENT, local_moment(flow, 0, 15, 30), measurer)
    later = flow.job(JobKind.MEASUREMENT, local_moment(flow, 3, 10, 0), measurer,
                     address="г. Казань, ул. Пушкина, д. 10, кв. 3")
    number = flow.crm_job(today).order_number
    person.press(f"job:{later}")  # looked at a job, then back to the menu: it is the one offered first
    person.tap("Меню")

    person.send_photos(PHOTOS[:2])
    if albums:
        [answer] = person.last_replies()  # one answer to the album, counting it whole
    else:
        answer = person.last_replies()[-1]  # no albums on Viber: each photo answered, the count grows
    assert answer.text == "Получено 2 фото.\nК какому заказу они относятся?"
    offered = [b.payload for row in answer.buttons for b in row if b.payload and b.payload.startswith("lf:")]
    assert offered == [f"lf:{later}", f"lf:{today}", "lf:drop"]
    assert flow.crm_files(today) == []  # kept as the platform's references until the person picks

    person.press(f"lf:{today}")
    assert person.last_text() == f"Заказ № {number}. Что на фото?"
    assert person.last_replies()[-1].labels()[:2] == ["Фото объекта", "Замерный лист"]  # the default first
    person.tap("Фото объекта")
    assert person.last_text().startswith(f"Сохранено в заказ № {number}: фото объекта: 2.")

    person.send_document("лист.pdf", PDF, "application/pdf")  # follows the job now: no tap, a PDF is the sheet
    assert person.last_text().startswith("Получено файлов: 1 (замерный лист).")
    files = flow.crm_files(today)
    assert [f.kind for f in files] == [FileKind.OBJECT_PHOTO] * 2 + [FileKind.MEASUREMENT_SHEET]
    with flow.app.app_context():
        assert [flow.state.gateway.read_file(f.id) for f in files] == [*PHOTOS[:2], PDF]
    assert flow.crm_files(later) == []


def test_telegram(flow: Flow, telegram: FakeTelegram) -> None:
    measurer = flow.user("volkov", Role.MEASURER)
    person = TelegramUser(flow, telegram_bot(flow, telegram), telegram, 112_001).bind_by_invite(measurer)
    photos_from_the_menu_land_on_the_picked_job(flow, person, measurer, albums=True)


def test_vk(flow: Flow, vk: FakeVk) -> None:
    measurer = flow.user("volkov", Role.MEASURER)
    person = VkUser(flow, vk_bot(flow, vk), vk, 502_000_001).bind_by_invite(measurer)
    photos_from_the_menu_land_on_the_picked_job(flow, person, measurer, albums=True)


def test_viber(flow: Flow, viber: FakeViber) -> None:
    measurer = flow.user("volkov", Role.MEASURER)
    person = ViberUser(flow, viber_bot(flow, viber), viber, "vb-anywhere==").bind_by_invite(measurer)
    photos_from_the_menu_land_on_the_picked_job(flow, person, measurer, albums=False)


def test_slack(flow: Flow, slack: FakeSlack) -> None:
    measurer = flow.user("volkov", Role.MEASURER)
    person = SlackUser(flow, slack_bot(flow, slack), slack, "U0PHOTO01", "D0PHOTO01").bind_by_code("volkov", measurer)
    photos_from_the_menu_land_on_the_picked_job(flow, person, measurer, albums=True)  # one message, two files
    downloads = slack.calls("download")  # each shared file's url_private_download, once, with the bot token
    assert [("/download/" in d.path, d.headers.get("Authorization")) for d in downloads] == \
        [(True, f"Bearer {slack.token}")] * 3


def offered(person: Person, job_id: int) -> str:
    """The payload of the «which job» button of ``job_id`` in the last answer."""
    [payload] = [b.payload for row in person.last_replies()[-1].buttons for b in row
                 if b.payload and b.payload.split(":")[:2] == ["lf", str(job_id)]]
    return payload


def test_a_pdf_and_an_installers_photos_need_no_question(flow: Flow, telegram: FakeTelegram,
                                                         caplog: pytest.LogCaptureFixture) -> None:
    bot_id = telegram_bot(flow, telegram)
    measurer, installer = flow.user("volkov", Role.MEASURER), flow.user("nikitin", Role.INSTALLER)
    measurement = flow.job(JobKind.MEASUREMENT, local_moment(flow, 0, 9, 0), measurer)
    installation = flow.job(JobKind.INSTALLATION, local_moment(flow, 0, 11, 0), installer)
    m = TelegramUser(flow, bot_id, telegram, 112_010).bind_by_invite(measurer)
    i = TelegramUser(flow, bot_id, telegram, 112_011).bind_by_invite(installer)

    m.send_document("лист.pdf", PDF, "application/pdf")
    assert m.last_text() == "Получено файлов: 1.\nК какому заказу они относятся?"
    assert offered(m, measurement) == f"lf:{measurement}:measurement_sheet"  # saves at once: nothing to ask
    m.press(offered(m, measurement))
    assert m.last_text().startswith("Сохранено в заказ № ") and "замерный лист: 1." in m.last_text()
    i.send_photos(PHOTOS)
    i.press(offered(i, installation))
    assert "фото монтажа: 3." in i.last_text()
    # the worker downloaded the kept files before the turn, not inside its transaction
    assert "was not downloaded before the turn" not in caplog.text
    assert [f.kind for f in flow.crm_files(installation)] == [FileKind.INSTALLATION_PHOTO] * 3

    # someone else's job id is refused and the files stay kept for a job of their own
    m.tap("Меню")  # away from the job the sheet went to: files no longer follow it
    m.send_photos(PHOTOS[:1])
    m.press(f"lf:{installation}")
    assert "недоступна" in m.last_text()
    m.send_photos(PHOTOS[1:2])
    assert m.last_text().startswith("Получено 2 фото.")
    m.tap("Не сохранять")
    assert m.last_text().startswith("Файлы не сохранены.")
    assert [f.kind for f in flow.crm_files(measurement)] == [FileKind.MEASUREMENT_SHEET]
