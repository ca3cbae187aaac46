"""Job lists, the job card, rights on every job id, the admin's view, and state across turns."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from crm_plugin.core.chat import ButtonKind, LocationReply
from crm_plugin.host import JobKind, JobStatus, Role
from tests.bot_helpers import UTC, World, buttons, job_buttons, last_text, payload_of, payloads, person, start

# NOW is 2026-03-04 21:30 UTC = Thursday 2026-03-05 00:30 in Moscow (the company's zone).
TODAY_START = datetime(2026, 3, 4, 21, 0, tzinfo=UTC)  # 05.03 00:00 MSK
TOMORROW_START = TODAY_START + timedelta(days=1)
AFTER_TOMORROW = TODAY_START + timedelta(days=2)
DONE_FROM = TODAY_START - timedelta(days=40)  # 24.01 00:00 MSK
SECOND = timedelta(seconds=1)


def boundary_jobs(world: World, kind: JobKind, me: int, other: int) -> dict[str, int]:
    """Jobs on both sides of every boundary of every list, for ``me``, plus jobs that are never mine."""
    done = JobStatus.MEASURED if kind is JobKind.MEASUREMENT else JobStatus.INSTALLED
    return {
        "yesterday_last": world.job(kind, TODAY_START - SECOND, me),
        "today_first": world.job(kind, TODAY_START, me),
        "today_last": world.job(kind, TOMORROW_START - SECOND, me),
        "tomorrow_first": world.job(kind, TOMORROW_START, me),
        "tomorrow_last": world.job(kind, AFTER_TOMORROW - SECOND, me),
        "after_tomorrow": world.job(kind, AFTER_TOMORROW, me),
        "today_done": world.job(kind, TODAY_START + timedelta(hours=10), me, done),
        "today_cancelled": world.job(kind, TODAY_START + timedelta(hours=11), me, JobStatus.CANCELLED),
        "done_41_days": world.job(kind, DONE_FROM - SECOND, me, done),
        "done_40_days": world.job(kind, DONE_FROM, me, done),
        "mine_new": world.job(kind, None, me, JobStatus.NEW),
        "others_today": world.job(kind, TODAY_START + timedelta(hours=9), other),
        "others_new": world.job(kind, None, other, JobStatus.NEW),
        "free_new": world.job(kind, TOMORROW_START + timedelta(hours=9), None, JobStatus.NEW),
    }


EXPECTED = {
    "today": {"today_first", "today_last", "today_done"},
    "tomorrow": {"tomorrow_first", "tomorrow_last"},
    "upcoming": {"today_first", "today_last", "tomorrow_first", "tomorrow_last", "after_tomorrow"},
    "done": {"done_40_days", "today_done"},
}


@pytest.mark.parametrize("kind, role, code", [(JobKind.MEASUREMENT, Role.MEASURER, "me"),
                                              (JobKind.INSTALLATION, Role.INSTALLER, "in")])
def test_each_list_in_the_companys_days(world: World, kind: JobKind, role: Role, code: str) -> None:
    me = world.user("me", role)
    other = world.user("other", role)
    jobs = boundary_jobs(world, kind, me, other)
    other_kind = boundary_jobs(world, JobKind.INSTALLATION if kind is JobKind.MEASUREMENT
                               else JobKind.MEASUREMENT, me, other)
    sender = person()
    world.bind(sender, "me")
    names = {v: k for k, v in jobs.items()} | {v: "other kind" for v in other_kind.values()}
    for period, expected in EXPECTED.items():
        shown = {names[j] for j in job_buttons(world.press(sender, f"list:{code}:{period}:0"))}
        assert shown == expected, period
    new = {names[j] for j in job_buttons(world.press(sender, f"list:{code}:new:0"))}
    # measurers also see the free requests they may take; installers do not take jobs
    assert new == ({"mine_new", "free_new"} if kind is JobKind.MEASUREMENT else {"mine_new"})
    # the other kind's list is not theirs to open
    assert "недоступна" not in last_text(world.press(sender, f"list:{'in' if code == 'me' else 'me'}:today:0"))
    assert "устарела" in last_text(world.press(sender, f"list:{'in' if code == 'me' else 'me'}:today:0"))


def test_list_lines_are_short_and_ordered_by_time(world: World) -> None:
    me = world.user("me", Role.MEASURER)
    late = world.job(at=TODAY_START + timedelta(hours=15), assignee=me, client="Сидорова Анна Павловна")
    early = world.job(at=TODAY_START + timedelta(hours=9), assignee=me,
                      address="г. Казань, ул. Пушкина, д. 10, подъезд 2, кв. 7")
    sender = person()
    world.bind(sender, "me")
    turn = world.press(sender, "list:me:today:0")
    lines = [b for b in buttons(turn) if b.payload and b.payload.startswith("job:")]
    assert [b.payload for b in lines] == [f"job:{early}", f"job:{late}"]
    # the button: the time and the street with the whole house number; the client on the text's own line
    assert [b.label for b in lines] == ["09:00 · ул. Пушкина, 10", "15:00 · ул. Баумана, 5"]
    assert all(len(b.label) <= 40 for b in lines)
    assert last_text(turn) == ("Сегодня · замеры: 2\n\n09:00 · Петров П.\nул. Пушкина, 10\n\n"
                               "15:00 · Сидорова А.\nул. Баумана, 5")


def test_typed_list_names_work_like_buttons(world: World) -> None:
    me = world.user("me", Role.INSTALLER)
    job = world.job(JobKind.INSTALLATION, TODAY_START + timedelta(hours=9), me)
    sender = person()
    world.bind(sender, "me")
    assert job_buttons(world.say(sender, "  сегодня ")) == [job]


def test_pagination(world: World) -> None:
    me = world.user("me", Role.MEASURER)
    ids = [world.job(at=TODAY_START + timedelta(minutes=30 * i), assignee=me) for i in range(19)]
    sender = person()
    world.bind(sender, "me")
    turn = world.press(sender, "list:me:today:0")
    seen = job_buttons(turn)
    assert len(seen) == 8 and "1/3" in [b.label for b in buttons(turn)]
    assert "◀" not in [b.label for b in buttons(turn)]
    turn = world.press(sender, payload_of(turn, "▶"))
    seen += job_buttons(turn)
    turn = world.press(sender, payload_of(turn, "▶"))
    seen += job_buttons(turn)
    assert seen == ids
    assert "▶" not in [b.label for b in buttons(turn)] and "3/3" in [b.label for b in buttons(turn)]
    assert job_buttons(world.press(sender, payload_of(turn, "◀"))) == ids[8:16]
    assert job_buttons(world.press(sender, "list:me:today:99")) == ids[16:]  # a page past the end: the last


def test_job_card_shows_everything_a_measurer_needs(world: World) -> None:
    me = world.user("me", Role.MEASURER)
    job = world.job(at=TODAY_START + timedelta(hours=10, minutes=30), assignee=me)
    sender = person()
    world.bind(sender, "me")
    world.press(sender, "list:me:today:0")
    turn = world.press(sender, f"job:{job}")
    card = turn.sent[0].text  # type: ignore[union-attr]
    number = world.crm_job(job).order_number
    for expected in (f"Замер № {number} · назначен", "Клиент: Петров Пётр Сергеевич", "Телефон: +79170001122",
                     "Адрес: г. Казань, ул. Баумана, д. 5, кв. 12", "Время: 05.03.2026 10:30",
                     "Комментарий менеджера: Домофон 15"):
        assert expected in card
    links = {b.label: b.url for b in buttons(turn) if b.kind is ButtonKind.URL}
    assert links["Яндекс Карты"] == "https://yandex.ru/maps/?pt=49.12,55.79&z=17&l=map"
    assert links["OpenStreetMap"].startswith("https://www.openstreetmap.org/?mlat=55.79&mlon=49.12")
    assert [r for r in turn.sent if isinstance(r, LocationReply)] == [LocationReply(55.79, 49.12,
                                                                                    "ул. Баумана, д. 5")]
    assert {f"photos:{job}", f"sheet:{job}", f"done:{job}", "list:me:today:0"} <= set(payloads(turn))


def test_card_without_coordinates_searches_the_address(world: World) -> None:
    me = world.user("me", Role.MEASURER)
    job = world.job(at=TODAY_START, assignee=me, lat=None, lon=None)
    sender = person()
    world.bind(sender, "me")
    turn = world.press(sender, f"job:{job}")
    assert not [r for r in turn.sent if isinstance(r, LocationReply)]
    assert any(b.url and b.url.startswith("https://yandex.ru/maps/?text=") for b in buttons(turn))


@pytest.mark.parametrize("payload", ["job:{installation}", "job:{others}", "job:999999", "done:{others}",
                                     "photos:{installation}", "sheet:{others}", "take:{installation}",
                                     "files:{others}"])
def test_forged_job_ids_are_refused_plainly(world: World, payload: str) -> None:
    world.user("me", Role.MEASURER)  # the one who forges the payloads
    other = world.user("other", Role.MEASURER)
    installer = world.user("inst", Role.INSTALLER)
    ids = {"installation": world.job(JobKind.INSTALLATION, TODAY_START, installer),
           "others": world.job(JobKind.MEASUREMENT, TODAY_START, other)}
    sender = person()
    world.bind(sender, "me")
    turn = world.press(sender, payload.format(**ids))
    assert "Эта заявка вам недоступна." in last_text(turn)
    assert "Клиент:" not in " ".join(r.text for r in turn.sent if hasattr(r, "text"))
    assert world.crm_job(ids["others"]).status is JobStatus.SCHEDULED  # nothing changed


@pytest.mark.parametrize("payload", ["job:abc", "job:", "job:1:2", "job:²", "job:-1", "job:99999999999999999999",
                                     "take:٣", "list:me:today:x", "list:xx:today:0", "menu:xx", "who:p:²", "nonsense"])
def test_malformed_payloads_get_the_stale_button_answer(world: World, payload: str) -> None:
    """Payloads no button of the bot ever carried (forged, or cut short): the usual answer, not a crash."""
    world.user("me", Role.MEASURER)
    job = world.job(at=TODAY_START, assignee=None)
    sender = person()
    world.bind(sender, "me")
    turn = world.press(sender, payload)
    assert last_text(turn).startswith("Эта кнопка устарела.")
    assert world.crm_job(job).assignee_id is None  # nothing changed


def test_a_measurer_may_open_a_free_request_and_take_it(world: World) -> None:
    world.user("me", Role.MEASURER)
    free = world.job(at=TOMORROW_START, assignee=None)
    sender = person()
    world.bind(sender, "me")
    turn = world.press(sender, f"job:{free}")
    assert payload_of(turn, "Взять") == f"take:{free}"
    assert f"done:{free}" not in payloads(turn)  # not theirs yet
    turn = world.press(sender, f"take:{free}")
    assert "Заявка ваша" in turn.sent[0].text  # type: ignore[union-attr]
    assert f"done:{free}" in payloads(turn)


def test_admin_sees_every_job_and_filters_by_worker(world: World) -> None:
    world.user("boss", admin=True)
    ann = world.user("ann", Role.MEASURER, name="Анна Смирнова")
    bob = world.user("bob", Role.MEASURER, name="Борис Козлов")
    inst = world.user("inst", Role.INSTALLER, name="Виктор Лебедев")
    a = world.job(at=TODAY_START + timedelta(hours=9), assignee=ann)
    b = world.job(at=TODAY_START + timedelta(hours=10), assignee=bob)
    i = world.job(JobKind.INSTALLATION, TODAY_START + timedelta(hours=11), inst)
    sender = person()
    world.bind(sender, "boss")
    menu = world.press(sender, "menu")
    assert {"menu:me", "menu:in", "who", "att"} <= set(payloads(menu))
    kind_menu = world.press(sender, "menu:me")
    assert "list:me:today:0" in payloads(kind_menu)
    assert job_buttons(world.press(sender, "list:me:today:0")) == [a, b]
    assert job_buttons(world.press(sender, "list:in:today:0")) == [i]
    workers = world.press(sender, "who")
    assert [b.label for b in buttons(workers)][:3] == ["Анна Смирнова", "Борис Козлов", "Виктор Лебедев"]
    world.press(sender, payload_of(workers, "Борис Козлов"))
    assert job_buttons(world.press(sender, "list:me:today:0")) == [b]
    world.press(sender, "who:0")
    assert job_buttons(world.press(sender, "list:me:today:0")) == [a, b]
    # an admin may open anyone's card and act on it
    assert f"done:{a}" in payloads(world.press(sender, f"job:{a}"))


def test_the_worker_filter_is_for_admins_only(world: World) -> None:
    world.user("me", Role.MEASURER)
    other = world.user("other", Role.MEASURER)
    job = world.job(at=TODAY_START, assignee=other)
    sender = person()
    world.bind(sender, "me")
    assert "только для администраторов" in last_text(world.press(sender, f"who:{other}"))
    assert job not in job_buttons(world.press(sender, "list:me:today:0"))


def test_state_survives_new_turn_objects(world: World) -> None:
    """Each turn is a new Turn with a new session, as after a restart: the list page and the upload wait stay."""
    me = world.user("me", Role.MEASURER)
    ids = [world.job(at=TODAY_START + timedelta(minutes=i), assignee=me) for i in range(10)]
    sender = person()
    world.bind(sender, "me")
    world.press(sender, "list:me:today:1")
    card = world.press(sender, f"job:{ids[9]}")
    assert payload_of(card, "Назад к списку") == "list:me:today:1"
    world.press(sender, f"sheet:{ids[9]}")
    world.app.extensions["crm_plugin"].db.dispose()  # drop every pooled connection: nothing lives in memory
    from crm_plugin.core.chat import Document, FileRef

    world.files["pdf"] = b"%PDF-1.4 sheet"
    turn = world.send(sender, Document(FileRef("pdf", "sheet.pdf", "application/pdf", 14)))
    assert "Получено файлов: 1 (замерный лист)" in last_text(turn)
    assert [f.name for f in world.crm_files(ids[9])] == ["sheet.pdf"]


def test_a_role_with_no_jobs_gets_a_plain_menu(world: World) -> None:
    world.user("manager")  # no role at all: a manager has «📊 Статистика» (tests/test_bot_stats.py)
    sender = person()
    turn = world.bind(sender, "manager")
    assert "нет заявок" in last_text(turn)
    assert payloads(turn) == ["unbind"]


def test_unknown_text_gets_the_menu(world: World) -> None:
    world.user("me", Role.MEASURER)
    sender = person()
    world.bind(sender, "me")
    turn = world.say(sender, "абракадабра")
    assert "Не понял" in last_text(turn) and "list:me:today:0" in payloads(turn)
    assert "Здравствуйте" in last_text(start(world, person()))
