"""Lists that read on a phone: the street and the whole house number on the button, time and client on their own
line of the text, done jobs with the day they were done."""

from __future__ import annotations

from datetime import datetime, timedelta

from crm_plugin.bot.cards import compact_address
from crm_plugin.host import JobStatus, Role
from tests.bot_helpers import MSK, NOW, World, buttons, job_buttons, last_text, payload_of, person

TODAY_10 = NOW + timedelta(hours=9, minutes=30)  # 10:00 in Moscow on the company's today


def test_compact_address_keeps_the_street_and_the_whole_house_number() -> None:
    assert compact_address("г. Казань, ул. Баумана, д. 19, кв. 7") == "ул. Баумана, 19"
    assert compact_address("Казань, улица Максима Горького, дом 123, корп. 2, кв. 5") == "ул. Максима Горького, 123 к2"
    assert compact_address("проспект Победы, 5/1") == "пр-т Победы, 5/1"
    assert compact_address("Новая улица без номера") == "Новая улица без номера"


def test_list_buttons_keep_the_house_number_and_the_text_has_the_client(world: World) -> None:
    me = world.user("me", Role.MEASURER)
    world.job(at=TODAY_10, assignee=me, client="Сафина Лилия Ринатовна",
              address="г. Казань, проспект Академика Глушко и Сахарова, д. 14, кв. 2")
    sender = person()
    world.bind(sender, "me")
    turn = world.press(sender, "list:me:today:0")
    [label] = [b.label for b in buttons(turn) if b.payload and b.payload.startswith("job:")]
    assert label.startswith("10:00 · пр-т Академика") and label.endswith("…, 14") and len(label) <= 40
    assert "10:00 · Сафина Л.\nпр-т Академика Глушко и Сахарова, 14" in last_text(turn)


def test_done_jobs_show_the_day_they_were_done(world: World) -> None:
    me = world.user("me", Role.MEASURER)
    job = world.job(at=NOW - timedelta(days=5), assignee=me)
    with world.app.app_context():
        world.state.gateway.set_job_status(job, JobStatus.MEASURED, me)
    done_day = datetime.now(MSK).strftime("%d.%m")  # the demo CRM stamps the real moment it was done
    sender = person()
    world.bind(sender, "me")
    turn = world.press(sender, "list:me:done:0")
    [label] = [b.label for b in buttons(turn) if b.payload == f"job:{job}"]
    assert label == f"✅ {done_day} · ул. Баумана, 5"


def test_a_long_list_shows_the_page_of_the_total_read_from_the_crm(world: World) -> None:
    """34 upcoming jobs: the bot reads one page of 8 and the count, and says «стр. 2/5»; ▶ and ◀ walk it."""
    me = world.user("me", Role.MEASURER)
    ids = [world.job(at=NOW + timedelta(days=1, hours=i), assignee=me) for i in range(34)]
    sender = person()
    world.bind(sender, "me")
    turn = world.press(sender, "list:me:upcoming:1")
    assert job_buttons(turn) == ids[8:16]
    head = last_text(turn).split("\n", 1)[0]
    assert head.endswith(": 34 · стр. 2/5"), head
    assert [b.label for b in buttons(turn)][-4:-1] == ["◀", "2/5", "▶"]
    turn = world.press(sender, payload_of(turn, "▶"))
    assert job_buttons(turn) == ids[16:24] and "стр. 3/5" in last_text(turn)
    turn = world.press(sender, "list:me:upcoming:4")
    assert job_buttons(turn) == ids[32:] and "▶" not in [b.label for b in buttons(turn)]
    turn = world.press(sender, payload_of(turn, "◀"))
    assert job_buttons(turn) == ids[24:32] and "стр. 4/5" in last_text(turn)


def test_done_jobs_are_listed_the_last_done_first(world: World) -> None:
    me = world.user("me", Role.MEASURER)
    first, second, third = (world.job(at=NOW - timedelta(days=d), assignee=me) for d in (5, 4, 3))
    with world.app.app_context():
        for job in (second, third, first):  # done in another order than scheduled
            world.state.gateway.set_job_status(job, JobStatus.MEASURED, me)
    sender = person()
    world.bind(sender, "me")
    turn = world.press(sender, "list:me:done:0")
    assert job_buttons(turn) == [first, third, second]
    assert "стр." not in last_text(turn)  # one page: no page count
