"""Host events become messages: to the assignee, or to every measurer with "Взять" and a race for it."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from crm_plugin import host
from crm_plugin.core.models import Bot, EmployeeLink, LinkStatus, Platform
from crm_plugin.host import JobKind, JobStatus, Role
from tests.bot_helpers import NOW, World, last_text, payloads, person


def told(world: World, chat_id: str) -> list[dict]:  # type: ignore[type-arg]
    return [m.payload for m in world.outbox(chat_id)]


def test_an_assigned_request_goes_to_the_assignee_only(world: World) -> None:
    me = world.user("me", Role.MEASURER)
    world.user("other", Role.MEASURER)
    mine, theirs = person(), person()
    world.bind(mine, "me")
    world.bind(theirs, "other")
    before = len(told(world, theirs.chat_id))
    job = world.job(at=NOW + timedelta(hours=5), assignee=me)
    host.measurement_requested.send(world.app, job_id=job)
    notice = told(world, mine.chat_id)[-1]
    assert notice["text"].startswith("Новый замер для вас:") and "ул. Баумана, д. 5" in notice["text"]
    assert notice["buttons"][0][0]["payload"] == f"job:{job}"
    assert len(told(world, theirs.chat_id)) == before


def test_a_free_request_goes_to_all_measurers_and_the_first_taker_wins(world: World) -> None:
    world.user("ann", Role.MEASURER, name="Анна Смирнова")
    world.user("bob", Role.MEASURER, name="Борис Козлов")
    world.user("inst", Role.INSTALLER)
    ann, bob, inst = person(), person(), person()
    for sender, login in ((ann, "ann"), (bob, "bob"), (inst, "inst")):
        world.bind(sender, login)
    job = world.job(at=NOW + timedelta(hours=5), assignee=None)
    counts = {s.chat_id: len(told(world, s.chat_id)) for s in (ann, bob, inst)}
    host.measurement_requested.send(world.app, job_id=job)
    for sender in (ann, bob):
        notice = told(world, sender.chat_id)[-1]
        assert "никто не взял" in notice["text"]
        assert notice["buttons"][0][0] == {"label": "Взять", "kind": "payload", "payload": f"take:{job}", "url": None}
    assert len(told(world, inst.chat_id)) == counts[inst.chat_id]  # installers are not offered it
    taken = world.press(bob, f"take:{job}")
    assert "Заявка ваша" in taken.sent[0].text  # type: ignore[union-attr]
    crm = world.crm_job(job)
    assert crm.assignee_id is not None and crm.status is JobStatus.SCHEDULED
    late = world.press(ann, f"take:{job}")
    assert last_text(late) == f"Заявку № {crm.order_number} уже взял(а) Борис Козлов."
    assert world.crm_job(job).assignee_id == crm.assignee_id
    # and Ann had been told already, without tapping
    assert any("уже взял(а) Борис Козлов" in p.get("text", "") for p in told(world, ann.chat_id))


def test_installation_change_and_cancel_go_to_the_installer(world: World) -> None:
    inst = world.user("inst", Role.INSTALLER)
    sender = person()
    world.bind(sender, "inst")
    job = world.job(JobKind.INSTALLATION, NOW + timedelta(days=2), inst)
    host.installation_scheduled.send(world.app, job_id=job)
    assert told(world, sender.chat_id)[-1]["text"].startswith("Новый монтаж для вас:")
    host.job_changed.send(world.app, job_id=job, change="rescheduled")
    assert told(world, sender.chat_id)[-1]["text"].startswith("Время вашей заявки изменилось:")
    host.job_cancelled.send(world.app, job_id=job)
    cancelled = told(world, sender.chat_id)[-1]
    assert cancelled["text"].startswith("Монтаж отменён:") and cancelled["buttons"] == []


def test_every_bound_account_on_every_active_bot_is_told(world: World) -> None:
    inst = world.user("inst", Role.INSTALLER)
    vk_bot = world.add_bot(Platform.VK, "club1")
    off_bot = world.add_bot(Platform.VIBER, "okna", active=False)
    tg, vk, viber = person(), person(), person()
    world.bind(tg, "inst")
    with world.state.db.session() as session:
        for bot_id, sender in ((vk_bot, vk), (off_bot, viber)):
            session.add(EmployeeLink(bot_id=bot_id, crm_user_id=inst, platform_user_id=sender.user_id,
                                     chat_id=sender.chat_id, status=LinkStatus.BOUND, language="en"))
        blocked = person()
        session.add(EmployeeLink(bot_id=world.add_bot(Platform.TELEGRAM, "b2"), crm_user_id=inst,
                                 platform_user_id=blocked.user_id, chat_id=blocked.chat_id,
                                 status=LinkStatus.BLOCKED))
    job = world.job(JobKind.INSTALLATION, NOW + timedelta(days=2), inst)
    host.installation_scheduled.send(world.app, job_id=job)
    assert told(world, tg.chat_id)[-1]["text"].startswith("Новый монтаж")
    assert told(world, vk.chat_id)[-1]["text"].startswith("New installation for you:")  # their language
    assert told(world, viber.chat_id) == [] and told(world, blocked.chat_id) == []
    with world.state.db.session() as session:
        assert session.scalar(select(Bot.active).where(Bot.id == off_bot)) is False


def test_nobody_is_told_about_an_inactive_assignee_or_a_missing_job(world: World) -> None:
    inst = world.user("inst", Role.INSTALLER)
    sender = person()
    world.bind(sender, "inst")
    before = len(told(world, sender.chat_id))
    host.installation_scheduled.send(world.app, job_id=999_999)
    job = world.job(JobKind.INSTALLATION, NOW, inst)
    world.set_user(inst, active=False)
    host.installation_scheduled.send(world.app, job_id=job)
    assert len(told(world, sender.chat_id)) == before


def test_the_open_button_of_a_notification_opens_the_card(world: World) -> None:
    me = world.user("me", Role.MEASURER)
    sender = person()
    world.bind(sender, "me")
    job = world.job(at=NOW + timedelta(hours=5), assignee=me)
    host.measurement_requested.send(world.app, job_id=job)
    turn = world.press(sender, told(world, sender.chat_id)[-1]["buttons"][0][0]["payload"])
    assert f"done:{job}" in payloads(turn)
