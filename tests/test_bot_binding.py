"""Binding a messenger account to a CRM employee: every way in, every way refused."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from crm_plugin.bot import approve_binding, make_invite
from crm_plugin.bot.binding import MAX_WRONG_CODES
from crm_plugin.channels import channel_class
from crm_plugin.core.chat import ButtonKind, Contact, FileRef, Photo, Start
from crm_plugin.core.models import BindingRequest, Bot, EmployeeLink, LinkStatus, Message, Platform
from crm_plugin.host import Role
from tests.bot_helpers import NOW, World, buttons, last_text, link_of, person, start, texts


def test_a_stranger_is_welcomed_with_a_share_phone_button(world: World) -> None:
    turn = start(world, person())
    assert "логин, e-mail или телефон" in last_text(turn)
    assert [b.kind for b in buttons(turn)] == [ButtonKind.REQUEST_CONTACT]
    assert buttons(turn)[0].label == "Поделиться номером"


@pytest.mark.parametrize("shared", ["+7 999 123-45-67", "8 (999) 1234567", "79991234567"])
def test_own_contact_binds_whatever_way_the_number_is_written(world: World, shared: str) -> None:
    uid = world.user("ivanov", Role.MEASURER, phone="8 999 123 45 67", name="Иванов Иван")
    sender = person()
    turn = world.send(sender, Contact(shared, own=True))
    assert "Иванов Иван" in last_text(turn)
    link = link_of(world, sender)
    assert link is not None and link.crm_user_id == uid
    assert link.chat_id == sender.chat_id and link.platform_user_id == sender.user_id
    assert link.bound_at == NOW and link.last_message_at == NOW
    assert "list:me:today:0" in [b.payload for b in buttons(turn)]  # the measurer's menu at once


def test_someone_elses_contact_is_refused(world: World) -> None:
    world.user("ivanov", Role.MEASURER, phone="+79991234567")
    sender = person()
    turn = world.send(sender, Contact("+79991234567", own=False))
    assert "чужой контакт" in last_text(turn)
    assert link_of(world, sender) is None


def test_unknown_phone_is_refused_with_what_to_do(world: World) -> None:
    world.user("ivanov", Role.MEASURER, phone="+79991234567")
    sender = person()
    turn = world.send(sender, Contact("+79990000000", own=True))
    assert "не найден" in last_text(turn) and "логин" in last_text(turn)
    assert link_of(world, sender) is None


def test_a_phone_shared_by_two_employees_binds_nobody(world: World) -> None:
    world.user("ivanov", Role.MEASURER, phone="+79991234567")
    world.user("petrov", Role.INSTALLER, phone="8 999 123-45-67")
    sender = person()
    turn = world.send(sender, Contact("+79991234567", own=True))
    assert "нескольких сотрудников" in last_text(turn)
    assert link_of(world, sender) is None


def test_an_inactive_employee_cannot_bind_by_phone(world: World) -> None:
    world.user("ivanov", Role.MEASURER, phone="+79991234567", active=False)
    sender = person()
    world.send(sender, Contact("+79991234567", own=True))
    assert link_of(world, sender) is None


# --- invites --------------------------------------------------------------------------------------

def _invite(world: World, user_id: int, ttl: timedelta = timedelta(days=1)) -> str:
    with world.state.db.session() as session:
        bot = session.get(Bot, world.bot_id)
        return make_invite(session, bot, user_id, ttl, now=NOW)


def test_invite_binds_once_and_only_once(world: World) -> None:
    uid = world.user("ivanov", Role.INSTALLER)
    token = _invite(world, uid)
    with world.state.db.session() as session:
        assert session.scalar(select(Bot)).id == world.bot_id
        from crm_plugin.core.models import Invite

        stored = session.scalars(select(Invite)).one()
        assert token not in stored.token_hash  # only the hash is kept
    first, second = person(), person()
    turn = start(world, first, token)
    assert "Вы вошли" in last_text(turn)
    assert link_of(world, first).crm_user_id == uid  # type: ignore[union-attr]
    turn = start(world, second, token)
    assert "уже использована" in texts(turn)[0]
    assert link_of(world, second) is None


def test_expired_and_unknown_invites_are_refused(world: World) -> None:
    uid = world.user("ivanov", Role.INSTALLER)
    token = _invite(world, uid, ttl=timedelta(hours=1))
    sender = person()
    assert "истёк" in texts(world.send(sender, Start(token), now=NOW + timedelta(hours=2)))[0]
    assert "недействительна" in texts(start(world, sender, "forged-token"))[0]
    assert link_of(world, sender) is None


@pytest.mark.parametrize(("bot", "link"), [
    (Bot(platform=Platform.TELEGRAM, username="@okna_bot"), "https://t.me/okna_bot?start=tok"),
    (Bot(platform=Platform.VK, platform_bot_id="123456"), "https://vk.me/club123456?ref=tok"),
    (Bot(platform=Platform.VK, username="club123456"), "https://vk.me/club123456?ref=tok"),
    (Bot(platform=Platform.VIBER, username="oknakazan"), "viber://pa?chatURI=oknakazan&context=tok"),
    (Bot(platform=Platform.SLACK), None),
    (Bot(platform=Platform.WEB), None),
], ids=["telegram", "vk", "vk-screen-name", "viber", "slack", "web"])
def test_invite_deep_links_per_platform(bot: Bot, link: str | None) -> None:
    # The invite page asks the bot's channel class: each platform knows its own deep link.
    assert channel_class(bot.platform).deep_link(bot, "tok") == link


# --- typed identity -------------------------------------------------------------------------------

def test_typed_login_then_the_code_from_the_crm_binds(world: World) -> None:
    uid = world.user("ivanov", Role.MEASURER)
    sender = person()
    turn = world.say(sender, "IVANOV")
    assert "6-значный код" in last_text(turn)
    assert link_of(world, sender) is None
    code = world.login_codes(uid)[-1]
    assert len(code) == 6 and code.isdigit()
    turn = world.say(sender, code)
    assert "Вы вошли как" in texts(turn)[0]
    assert link_of(world, sender).crm_user_id == uid  # type: ignore[union-attr]


def test_wrong_codes_lock_the_request(world: World) -> None:
    uid = world.user("ivanov", Role.MEASURER)
    sender = person()
    world.say(sender, "ivanov@okna.example")
    code = world.login_codes(uid)[-1]
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    for attempt in range(1, MAX_WRONG_CODES):
        assert f"Осталось попыток: {MAX_WRONG_CODES - attempt}" in last_text(world.say(sender, wrong))
    assert "запрос закрыт" in last_text(world.say(sender, wrong))
    turn = world.say(sender, code)  # the right code is worthless now
    assert link_of(world, sender) is None
    assert "Вы вошли" not in " ".join(texts(turn))
    with world.state.db.session() as session:
        request = session.scalars(select(BindingRequest)).one()
        assert request.closed_at is not None and request.attempts == MAX_WRONG_CODES


def test_an_expired_code_is_refused(world: World) -> None:
    uid = world.user("ivanov", Role.MEASURER)
    sender = person()
    world.say(sender, "ivanov")
    turn = world.say(sender, world.login_codes(uid)[-1], now=NOW + timedelta(minutes=16))
    assert "Код устарел" in last_text(turn)
    assert link_of(world, sender) is None


def test_typed_identities_are_limited_per_chat(world: World) -> None:
    sender = person()
    for n in range(10):
        assert "Не нашёл" in last_text(world.say(sender, f"nobody{n}"))
    assert "Слишком много попыток" in last_text(world.say(sender, "nobody-else"))
    # an hour later the chat may try again
    assert "Не нашёл" in last_text(world.say(sender, "nobody-else", now=NOW + timedelta(hours=1, minutes=1)))


def test_codes_per_employee_are_limited_across_chats(world: World) -> None:
    uid = world.user("ivanov", Role.MEASURER)
    for _ in range(5):
        world.say(person(), "ivanov")
    turn = world.say(person(), "ivanov")
    assert "слишком много кодов" in last_text(turn)
    assert len(world.login_codes(uid)) == 5


def test_admin_approval_binds_and_tells_the_person(world: World) -> None:
    uid = world.user("ivanov", Role.MEASURER)
    sender = person()
    world.say(sender, "ivanov")
    with world.state.db.session() as session:
        request_id = session.scalars(select(BindingRequest)).one().id
    with world.app.app_context(), world.state.db.session() as session:
        link = approve_binding(session, request_id, gateway=world.state.gateway, settings=world.state.settings,
                               now=NOW)
        assert link is not None
    assert link_of(world, sender).crm_user_id == uid  # type: ignore[union-attr]
    told = world.outbox(sender.chat_id)[-1]
    assert "подтвердил" in told.preview and told.payload["buttons"][0][0]["payload"] == "menu"
    # the chat no longer waits for a code: the menu works
    assert "list:me:today:0" in [b.payload for b in buttons(world.press(sender, "menu"))]
    with world.state.db.session() as session:
        assert approve_binding(session, request_id, gateway=world.state.gateway,
                               settings=world.state.settings) is None  # already closed


def test_trust_setting_binds_a_typed_login_at_once(world: World) -> None:
    uid = world.user("ivanov", Role.MEASURER)
    sender = person()
    turn = world.say(sender, "ivanov", settings={"trust_typed_identity": True})
    assert "Вы вошли как" in texts(turn)[0]
    assert link_of(world, sender).crm_user_id == uid  # type: ignore[union-attr]
    assert world.login_codes(uid) == []


# --- refusals at every message ----------------------------------------------------------------------

def test_blocked_binding_is_refused_at_every_message(world: World) -> None:
    uid = world.user("ivanov", Role.MEASURER)
    sender = person()
    world.bind(sender, "ivanov")
    with world.state.db.session() as session:
        session.scalars(select(EmployeeLink)).one().status = LinkStatus.BLOCKED
    for event_turn in (start(world, sender), world.press(sender, "list:me:today:0"),
                       world.send(sender, Photo(FileRef("f1")))):
        assert texts(event_turn) == ["Администратор заблокировал вам доступ к боту."]
    # nor can the blocked account bind itself again by phone or login
    world.set_user(uid, phone="+79991234567")
    assert texts(world.send(sender, Contact("+79991234567", own=True))) == [
        "Администратор заблокировал вам доступ к боту."]


def test_employee_blocked_before_binding_cannot_bind(world: World) -> None:
    uid = world.user("ivanov", Role.MEASURER, phone="+79991234567")
    with world.state.db.session() as session:
        session.add(EmployeeLink(bot_id=world.bot_id, crm_user_id=uid, status=LinkStatus.BLOCKED))
    sender = person()
    turn = world.send(sender, Contact("+79991234567", own=True))
    assert "заблокировал" in last_text(turn)
    assert link_of(world, sender) is None


def test_user_inactive_in_the_crm_is_refused_at_every_message(world: World) -> None:
    uid = world.user("ivanov", Role.MEASURER)
    sender = person()
    world.bind(sender, "ivanov")
    world.set_user(uid, active=False)
    for turn in (start(world, sender), world.press(sender, "menu"), world.say(sender, "Сегодня")):
        assert texts(turn) == ["Ваша учётная запись в CRM отключена. Обратитесь к администратору."]


def test_start_from_a_bound_user_shows_the_menu_and_unbind_works(world: World) -> None:
    world.user("ivanov", Role.INSTALLER)
    sender = person()
    world.bind(sender, "ivanov")
    turn = start(world, sender)
    assert "Меню (монтажник)" in last_text(turn)
    assert "list:in:today:0" in [b.payload for b in buttons(turn)]
    turn = world.say(sender, "Отвязать")
    assert [b.payload for b in buttons(turn)][0] == "unbind:yes"
    world.press(sender, "unbind:yes")
    assert link_of(world, sender) is None
    assert "Поделиться номером" in [b.label for b in buttons(start(world, sender))]


def test_every_bound_message_updates_last_message_at(world: World) -> None:
    world.user("ivanov", Role.INSTALLER)
    sender = person()
    world.bind(sender, "ivanov")
    later = NOW + timedelta(hours=3)
    world.press(sender, "menu", now=later)
    assert link_of(world, sender).last_message_at == later  # type: ignore[union-attr]


def test_replies_are_in_the_outbox_of_the_same_transaction(world: World) -> None:
    sender = person()
    start(world, sender)
    rows = world.outbox(sender.chat_id)
    assert len(rows) == 1 and rows[0].status == "queued" and "Здравствуйте" in rows[0].preview
    with world.state.db.session() as session:
        assert session.scalar(select(Message.id).where(Message.direction == "in")) is None  # logged by the caller


def test_a_greeting_is_not_taken_for_a_login(world: World) -> None:
    sender = person()
    for greeting in ("Начать", "привет", "/start"):
        assert "Здравствуйте" in last_text(world.say(sender, greeting))
    assert world.login_codes(world.user("ivanov", Role.MEASURER)) == []


def test_an_english_messenger_profile_gets_english_and_keeps_it(world: World) -> None:
    world.user("smith", Role.INSTALLER, phone="+79991234567", name="John Smith")
    sender = person(language="en")
    assert "Share phone number" in [b.label for b in buttons(start(world, sender))]
    turn = world.send(sender, Contact("+79991234567", own=True))
    # the greeting alone first: it takes the share-contact keyboard away; the menu follows
    assert texts(turn)[0] == "Done! You are signed in as John Smith." and turn.sent[0].remove_keyboard  # type: ignore[union-attr]
    assert last_text(turn).startswith("Menu")
    assert link_of(world, sender).language == "en"  # type: ignore[union-attr]


def test_a_message_from_an_unreachable_account_makes_it_reachable_again(world: World) -> None:
    world.user("ivanov", Role.MEASURER)
    sender = person()
    world.bind(sender, "ivanov")
    with world.state.db.session() as session:
        session.scalars(select(EmployeeLink)).one().status = LinkStatus.UNREACHABLE
    assert "Меню" in last_text(world.press(sender, "menu"))
    assert link_of(world, sender) is not None


def test_approval_of_an_employee_deactivated_meanwhile_binds_nobody(world: World) -> None:
    uid = world.user("ivanov", Role.MEASURER)
    sender = person()
    world.say(sender, "ivanov")
    world.set_user(uid, active=False)
    with world.state.db.session() as session:
        request_id = session.scalars(select(BindingRequest)).one().id
    with world.app.app_context(), world.state.db.session() as session:
        assert approve_binding(session, request_id, gateway=world.state.gateway, settings=world.state.settings,
                               now=NOW) is None
    assert link_of(world, sender) is None
