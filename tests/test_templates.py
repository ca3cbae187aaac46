"""Notification templates: a wrong placeholder is refused when the admin saves, never when a notification is
sent; what the admin saved is what the fake Telegram receives; the defaults are the texts the bot always sent."""

from __future__ import annotations

from sqlalchemy import func, select

from crm_plugin import host
from crm_plugin.bot import templates
from crm_plugin.core.models import NotificationTemplate
from crm_plugin.host import JobKind, Role

from .admin_helpers import admin_client, page, post
from .fakes.telegram import FakeTelegram
from .flows.telegram import (
    TelegramUser,
    telegram_bot,
    telegram_fixture,  # noqa: F401  (fixture)
)
from .flows.world import (
    Flow,
    flow_fixture,  # noqa: F401  (fixture)
    local_moment,
)

EDIT = "/templates/edit/?event=measurement_assigned&language=ru"


def test_problems_name_every_wrong_placeholder() -> None:
    assert templates.problems("measurement_assigned", "Замер {client} в {time}") == []
    assert "Неизвестная подстановка {clinet}" in templates.problems("measurement_assigned", "{clinet}")[0]
    assert templates.problems("cancelled", "{client.__class__}")  # no attribute access into values
    assert templates.problems("cancelled", "{client[0]}")
    assert templates.problems("cancelled", "{client!r}") == ["Только имя в скобках: {client}"]
    assert templates.problems("cancelled", "скобка {") and templates.problems("cancelled", "{}")
    assert templates.problems("morning_route", "{client}")  # a route has no single client
    assert templates.render("cancelled", "{{{kind}}}", {"kind": "Замер"}) == "{Замер}"
    for event, spec in templates.NOTIFICATIONS.items():  # every default is a valid template
        assert set(spec.defaults) == set(templates.LANGUAGES)
        assert all(templates.problems(event, text) == [] for text in spec.defaults.values()), event


def test_an_unknown_placeholder_cannot_be_saved(flow: Flow) -> None:
    admin = admin_client(flow.app)
    html = post(admin, EDIT, {"text": "Новый замер: {client}, {adress}", "action": "save"}).get_data(as_text=True)
    assert "Неизвестная подстановка {adress}" in html and "{address}" in html
    with flow.state.db.session() as session:
        assert session.scalar(select(func.count()).select_from(NotificationTemplate)) == 0
    listing = page(admin, "/templates/")
    assert "Новый замер для вас:" in listing and "по умолчанию" in listing
    for bad, said in (("Замер {client}\x00", "Недопустимый символ в поле"), ("{client}}", "Непарная фигурная скобка")):
        response = post(admin, EDIT, {"text": bad, "action": "save"})
        assert response.status_code == 200 and said in response.get_data(as_text=True)
    with flow.state.db.session() as session:
        assert session.scalar(select(func.count()).select_from(NotificationTemplate)) == 0
    long = "{client} " + "я" * 20_000  # no length limit but the database's
    assert post(admin, EDIT, {"text": long, "action": "save"}).status_code == 302
    with flow.state.db.session() as session:
        assert session.scalar(select(NotificationTemplate.text)) == long


def test_the_saved_template_is_what_the_measurer_receives(flow: Flow, telegram: FakeTelegram) -> None:
    bot_id = telegram_bot(flow, telegram)
    volkov = flow.user("volkov", Role.MEASURER, name="Волков Сергей Андреевич")
    person = TelegramUser(flow, bot_id, telegram, 222_001)
    person.open_invite(flow.invite(bot_id, volkov))
    flow.run()
    admin = admin_client(flow.app)
    text = "Замер для {client}\n{address}, {time}\nЗаказ {order_number}. {comment}\n{links}"
    preview = post(admin, EDIT, {"text": text, "action": "preview"}).get_data(as_text=True)
    assert "Замер для Иванов Иван Петрович" in preview  # the preview's made-up job
    response = post(admin, EDIT, {"text": text, "action": "save"})
    assert response.status_code == 302

    job_id = flow.job(JobKind.MEASUREMENT, local_moment(flow, 1, 10, 30), volkov, client="Сафина Лилия Ринатовна")
    job = flow.crm_job(job_id)
    host.measurement_requested.send(flow.app, job_id=job_id)
    flow.run()
    received = person.inbox()[-1].text
    assert received.startswith(f"Замер для Сафина Лилия Ринатовна\nул. Баумана, д. 5, {job.scheduled_at:%d.%m.%Y}")
    assert f"Заказ {job.order_number}. Домофон 15\nhttps://yandex.ru/maps/?pt=" in received

    # «Вернуть текст по умолчанию»: the next notification reads as before
    post(admin, EDIT, {"action": "default"})
    host.measurement_requested.send(flow.app, job_id=job_id)
    flow.run()
    assert person.inbox()[-1].text.startswith("Новый замер для вас:\nЗаказ №")


def test_the_admin_catalogue_lists_every_title_and_placeholder_meaning() -> None:
    from crm_plugin.admin.notification_templates import TEMPLATE_TEXTS

    shown = [spec.title for spec in templates.NOTIFICATIONS.values()]
    shown += [*templates.JOB_PLACEHOLDERS.values(), *templates.ROUTE_PLACEHOLDERS.values()]
    assert set(TEMPLATE_TEXTS) == set(shown)
