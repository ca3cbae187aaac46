"""An admin in the bot: who is assigned (lists and cards), giving a job to another worker (the new one notified
with the buttons that finish it, the old one told), and who is on shift now."""

from __future__ import annotations

from datetime import timedelta

from crm_plugin.core.chat import Location
from crm_plugin.host import JobKind, JobStatus, Role
from tests.bot_helpers import NOW, World, buttons, last_text, payload_of, payloads, person

TODAY_9 = NOW + timedelta(hours=8, minutes=30)  # 09:00 in Moscow, the company's today


def outbox_texts(world: World, chat_id: str) -> list[str]:
    return [m.payload.get("text", "") for m in world.outbox(chat_id)]


def test_an_admin_reassigns_a_job_and_both_workers_are_told(world: World) -> None:
    world.add_bot()
    world.user("boss", admin=True, name="Шамсутдинов Рустем")
    volkov = world.user("volkov", Role.MEASURER, name="Волков Сергей Андреевич")
    orlov = world.user("orlov", Role.MEASURER, name="Орлов Павел Игоревич")
    world.user("nikitin", Role.INSTALLER)
    job = world.job(at=TODAY_9, assignee=volkov)
    number = world.crm_job(job).order_number
    admin, old, new = person(), person(), person()
    for sender, login in ((admin, "boss"), (old, "volkov"), (new, "orlov")):
        world.bind(sender, login)

    listed = world.press(admin, "list:me:today:0")
    assert "09:00 · Петров П. · Волков С.\nул. Баумана, 5" in last_text(listed)  # whose job it is
    card = world.press(admin, f"job:{job}")
    assert "Исполнитель: Волков Сергей Андреевич" in card.sent[0].text  # type: ignore[union-attr]
    choice = world.press(admin, payload_of(card, "Передать другому"))
    assert last_text(choice) == f"Заказ № {number}: кому передать?"
    workers = [p for p in payloads(choice) if p.startswith("re:")]
    assert workers == [f"re:{job}:{orlov}"]  # measurers only, not the one who has it
    done = world.press(admin, workers[0])
    assert f"Заказ № {number} передан: Орлов Павел Игоревич." in done.sent[0].text  # type: ignore[union-attr]
    assert world.crm_job(job).assignee_id == orlov

    [told_new] = [m for m in world.outbox(new.chat_id) if "Вам назначена заявка" in m.payload.get("text", "")]
    assert [b["label"] for row in told_new.payload["buttons"] for b in row] == [
        "Открыть", "Отправить фото объекта", "Отправить замерный лист"]
    assert any(t.startswith(f"Заказ № {number} (") and "передан сотруднику Орлов П." in t
               for t in outbox_texts(world, old.chat_id))
    # the old assignee's buttons are stale now
    assert "недоступна" in last_text(world.press(old, f"done:{job}"))


def test_reassignment_is_for_admins_and_open_jobs_only(world: World) -> None:
    world.add_bot()
    world.user("boss", admin=True)
    volkov = world.user("volkov", Role.MEASURER)
    orlov = world.user("orlov", Role.MEASURER)
    job = world.job(at=TODAY_9, assignee=volkov)
    measured = world.job(at=TODAY_9, assignee=volkov, status=JobStatus.MEASURED)
    admin, worker = person(), person()
    world.bind(admin, "boss")
    world.bind(worker, "volkov")
    assert "только для администраторов" in last_text(world.press(worker, f"re:{job}:{orlov}"))
    assert world.crm_job(job).assignee_id == volkov
    assert "Передать другому" not in [b.label for b in buttons(world.press(admin, f"job:{measured}"))]
    assert "Передать другому" in [b.label for b in buttons(world.press(admin, f"job:{job}"))]
    assert "нельзя передать" in world.press(admin, f"re:{measured}").sent[0].text  # type: ignore[union-attr]
    assert "кнопка устарела" in world.press(admin, f"re:{job}:999999").sent[0].text  # type: ignore[union-attr]
    installation = world.job(JobKind.INSTALLATION, TODAY_9, assignee=None)
    assert "Больше нет сотрудников" in last_text(world.press(admin, f"re:{installation}"))


def test_an_admin_sees_who_is_on_shift(world: World) -> None:
    world.add_bot()
    world.user("boss", admin=True)
    world.user("volkov", Role.MEASURER, name="Волков Сергей Андреевич")
    world.user("orlov", Role.MEASURER, name="Орлов Павел Игоревич")
    admin, here, away = person(), person(), person()
    world.bind(admin, "boss")
    world.bind(here, "volkov")
    world.bind(away, "orlov")
    assert last_text(world.press(admin, "shift")) == "Сейчас никто не на смене."
    world.press(here, "att:in")
    world.send(here, Location(55.79, 49.12))
    world.press(away, "att:in")
    world.press(away, "att:skip")
    world.say(away, "Ушёл", now=NOW + timedelta(hours=1))
    menu = world.press(admin, "menu")
    assert "shift" in payloads(menu)
    text = last_text(world.press(admin, "shift", now=NOW + timedelta(hours=2)))
    assert text.startswith("Сейчас на смене: 1\nВолков Сергей Андреевич, с 00:30")
    assert "yandex.ru/maps/?pt=49.12,55.79" in text and "Орлов" not in text
