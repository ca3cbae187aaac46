"""Field staff on Viber, end to end: callbacks POSTed signed with the bot token, the worker running the bot,
viberbot delivering to the fake Viber REST API (files by the plugin's signed media URLs), and the demo CRM's
data checked afterwards."""

from __future__ import annotations

from urllib.parse import urlsplit

from crm_plugin.core.models import LinkStatus
from crm_plugin.host import FileKind, JobKind, JobStatus, Role

from .fakes.viber import FakeViber
from .flows.viber import (
    ViberUser,
    viber_bot,
    viber_fixture,  # noqa: F401  (fixture)
)
from .flows.world import (
    PDF,
    PHOTOS,
    Flow,
    attach_measurement_files,
    flow_fixture,  # noqa: F401  (fixture)
    local_moment,
)


def test_own_shared_phone_binds_and_a_forwarded_contact_is_refused(flow: Flow, viber: FakeViber) -> None:
    bot_id = viber_bot(flow, viber)
    volkov = flow.user("volkov", Role.MEASURER, phone="+7 927 401-22-12", name="Волков Сергей Андреевич")
    person = ViberUser(flow, bot_id, viber, "vb-0001==")

    welcome = person.open_chat()  # not subscribed yet: Viber takes only the HTTP answer as a message
    assert welcome["text"].startswith("Здравствуйте!") and flow.incoming(bot_id) == []
    person.start()  # the welcome's «Начать» button
    [asked] = person.last_replies()
    assert [b.kind for row in asked.buttons for b in row] == ["contact"]
    assert asked.raw["tracking_data"] == "crm:share-phone" and asked.raw["keyboard"]["InputFieldState"] == "hidden"

    person.share_contact("+79274012212", own=False)  # a contact card, not the share-phone answer
    assert "Это чужой контакт" in person.last_text()
    assert flow.link(bot_id, volkov) is None

    person.share_contact("79274012212", own=True)
    assert person.last_text().startswith("Готово! Вы вошли как Волков Сергей Андреевич.\n\nМеню (замерщик):")
    link = flow.link(bot_id, volkov)
    assert link is not None and (link.status, link.platform_user_id) == (LinkStatus.BOUND, "vb-0001==")


def test_invite_context_binds_through_the_welcome_button(flow: Flow, viber: FakeViber) -> None:
    bot_id = viber_bot(flow, viber)
    nikitin = flow.user("nikitin", Role.INSTALLER, name="Никитин Алексей Петрович")
    token = flow.invite(bot_id, nikitin)
    person = ViberUser(flow, bot_id, viber, "vb-0002==")

    welcome = person.open_chat(token)  # viber://pa?chatURI=…&context=<token>
    [start] = welcome["keyboard"]["Buttons"]
    assert start["ActionType"] == "reply" and start["ActionBody"] == f"start:{token}"
    person.start(token)
    assert person.last_text().startswith("Готово! Вы вошли как Никитин Алексей Петрович.")
    assert flow.link(bot_id, nikitin).platform_user_id == "vb-0002=="  # type: ignore[union-attr]


def test_typed_login_binds_with_the_code_the_crm_delivered(flow: Flow, viber: FakeViber) -> None:
    bot_id = viber_bot(flow, viber)
    orlov = flow.user("orlov", Role.MEASURER, name="Орлов Павел Игоревич")
    person = ViberUser(flow, bot_id, viber, "vb-0003==")
    person.text("orlov")
    assert "6-значный код" in person.last_text()
    [code] = flow.login_codes(orlov)
    person.text(code)
    assert person.last_text().startswith("Готово! Вы вошли как Орлов Павел Игоревич.")
    assert flow.link(bot_id, orlov).status is LinkStatus.BOUND  # type: ignore[union-attr]


def test_measurement_report_lands_in_the_crm(flow: Flow, viber: FakeViber) -> None:
    bot_id = viber_bot(flow, viber)
    measurer = flow.user("volkov", Role.MEASURER)
    job_id = flow.job(JobKind.MEASUREMENT, local_moment(flow, 0, 15, 30), measurer, lat=55.7887, lon=49.1186)
    number = flow.crm_job(job_id).order_number
    person = ViberUser(flow, bot_id, viber, "vb-0004==").bind_by_invite(measurer)

    person.tap("Сегодня")
    [line] = [label for label in person.last_replies()[-1].labels() if label.startswith("15:30")]
    person.tap(line)
    card, title, pin = person.last_replies()  # Viber: a location is a pin; its title goes as a text first
    assert card.text.startswith(f"Замер № {number} · назначен\nКлиент: ")
    assert {b.label for row in card.buttons for b in row if b.kind == "url"} == {"Яндекс Карты", "OpenStreetMap"}
    assert title.text == "ул. Баумана, д. 5" and pin.location == (55.7887, 49.1186)

    person.tap("Отправить фото объекта")
    person.send_photos(PHOTOS)  # no albums on Viber: three picture messages
    assert [m.text.split("\n")[0] for m in person.last_replies()] == ["Получено 1 фото: фото объекта."] * 3
    person.tap("Замер выполнен", earlier=True)
    assert person.last_text().startswith("Замер нельзя закрыть без замерного листа.")
    person.tap("Отправить замерный лист")
    person.send_document("Замерный лист.pdf", PDF, "application/pdf")
    person.tap("Замер выполнен")
    person.tap("Да, замер выполнен")
    assert person.last_text().startswith(f"Замер № {number} выполнен. Спасибо!\n"
                                         "Файлы в CRM: фото объекта: 3, замерный лист: 1.")
    files = flow.crm_files(job_id)
    assert [f.kind for f in files] == [FileKind.OBJECT_PHOTO] * 3 + [FileKind.MEASUREMENT_SHEET]
    with flow.app.app_context():
        assert [flow.state.gateway.read_file(f.id) for f in files] == [*PHOTOS, PDF]
    assert flow.crm_job(job_id).status is JobStatus.MEASURED


def test_installer_gets_files_by_signed_urls_the_plugin_serves(flow: Flow, viber: FakeViber) -> None:
    bot_id = viber_bot(flow, viber)
    measurer, installer = flow.user("volkov", Role.MEASURER), flow.user("nikitin", Role.INSTALLER)
    measurement = flow.job(JobKind.MEASUREMENT, local_moment(flow, -3, 10, 0), measurer, JobStatus.MEASURED)
    attach_measurement_files(flow, measurement, measurer, PHOTOS[:2])
    job_id = flow.job(JobKind.INSTALLATION, local_moment(flow, 0, 9, 0), installer,
                      order_id=flow.crm_job(measurement).order_id)
    person = ViberUser(flow, bot_id, viber, "vb-0005==").bind_by_invite(installer)

    person.press(f"files:{job_id}")
    first, second, caption, sheet = (m.raw for m in person.last_replies())
    assert [m["type"] for m in (first, second, caption, sheet)] == ["picture", "picture", "text", "file"]
    assert first["text"].startswith("Фото объекта, заказ № ") and second["text"] == ""
    assert caption["text"].startswith("Замерный лист, заказ № ")  # a Viber file message has no caption
    assert sheet["file_name"] == "лист.pdf" and sheet["size"] == len(PDF)
    served = []
    for message in (first, second, sheet):  # what Viber's servers would fetch from the CRM
        url = urlsplit(message["media"])
        assert f"{url.scheme}://{url.netloc}" == "https://crm.example"
        response = flow.client.get(url.path)
        assert response.status_code == 200
        served.append(response.data)
    assert served == [*PHOTOS[:2], PDF]
    assert flow.client.get(urlsplit(first["media"]).path[:-3] + "xyz").status_code == 404  # forged signature
