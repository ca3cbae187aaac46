"""Leads from a VK community (issue 10): Callback API events at the plugin's webhook, the real worker, users.get
at the fake VK API, and the demo CRM's leads read back. Payloads as VK documents them (tests/fixtures/vk)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import func, select

from crm_plugin.channels import registration
from crm_plugin.core.models import Bot, EmployeeLink, InboundKey, LinkStatus, Message, Platform
from crm_plugin.inbound.polling import Poller

from .fakes.vk import FakeVk
from .flows.world import Flow, flow_fixture  # noqa: F401 - the flow fixture
from .leads_helpers import VK_SECRET, fixture, lead_rows, leads, post_vk, vk_bot
from .store_helpers import configure

GROUP = FakeVk.GROUP_ID


@pytest.fixture(name="vk")
def vk_fixture() -> Iterator[FakeVk]:
    with FakeVk(per_token=(200, 1.0)) as fake:
        fake.users.update({501234567: {"first_name": "Иван", "last_name": "Петров"},
                           601234568: {"first_name": "Марат", "last_name": "Гарипов"},
                           601234569: {"first_name": "Ольга", "last_name": "Сидорова"}})
        yield fake


def deliver(flow: Flow, data: dict[str, object]) -> None:
    response = post_vk(flow, flow_bot(flow), data)
    assert (response.status_code, response.get_data(as_text=True)) == (200, "ok")  # at once: VK retries the rest
    flow.run()


def flow_bot(flow: Flow) -> int:
    with flow.state.db.session() as session:
        return session.scalar(select(Bot.id).where(Bot.platform == Platform.VK))  # type: ignore[return-value]


def test_a_message_from_a_customer_is_a_lead_and_the_staff_bot_keeps_quiet(flow: Flow, vk: FakeVk) -> None:
    vk_bot(flow, vk)
    deliver(flow, fixture("vk", "message_new_text", text="Здравствуйте! Нужны окна, звоните +7 (917) 111-22-33"))
    [lead] = leads(flow)
    assert (lead.source, lead.name, lead.phone) == (f"vk:club{GROUP}", "Иван Петров", "+79171112233")
    assert lead.text == "Здравствуйте! Нужны окна, звоните +7 (917) 111-22-33"
    assert lead.source_link == f"https://vk.com/gim{GROUP}?sel=501234567"
    assert lead.external_id == f"vk:{GROUP}:message:501234567:1201"
    assert vk.sent_messages() == []  # no «who are you?» of the staff bot to a customer
    assert [m.kind for m in flow.incoming(flow_bot(flow))] == ["lead"]


def test_a_bound_employee_keeps_talking_to_the_staff_bot(flow: Flow, vk: FakeVk) -> None:
    bot_id = vk_bot(flow, vk)
    measurer = flow.user("volkov", name="Волков Сергей")
    with flow.state.db.session() as session:
        session.add(EmployeeLink(bot_id=bot_id, crm_user_id=measurer, platform_user_id="501234567",
                                 chat_id="501234567", status=LinkStatus.BOUND))
    deliver(flow, fixture("vk", "message_new_text"))
    assert leads(flow) == [] and lead_rows(flow, bot_id) == []
    assert [m.kind for m in flow.incoming(bot_id)] == ["text"] and vk.sent_messages("501234567")


def test_a_comment_a_suggested_post_and_a_lead_form_become_leads(flow: Flow, vk: FakeVk) -> None:
    vk_bot(flow, vk)
    deliver(flow, fixture("vk", "wall_reply_new"))
    deliver(flow, fixture("vk", "wall_post_new_suggest"))
    deliver(flow, fixture("vk", "lead_forms_new"))
    deliver(flow, fixture("vk", "wall_post_new"))  # the community's own post: no lead
    comment, post, form = leads(flow)
    assert (comment.name, comment.phone, comment.source) == ("Марат Гарипов", "+79172223344", f"vk:club{GROUP}")
    assert comment.source_link == f"https://vk.com/wall-{GROUP}_28?reply=4512"
    assert comment.text == "Сколько стоит балкон под ключ? Мой номер 8 917 222-33-44"
    assert (post.name, post.email, post.phone) == ("Ольга Сидорова", "dacha.okna@yandex.ru", None)
    assert post.source_link == f"https://vk.com/wall-{GROUP}_31"
    assert (form.name, form.phone, form.email) == ("Алия Хасанова", "+79173334455", "aliya@example.ru")
    assert form.text.splitlines()[0] == "Бесплатный замер" and "Что нужно?: Замер, Монтаж" in form.text
    assert form.external_id == f"vk:{GROUP}:leadform:9001"
    assert [c.params["user_ids"] for c in vk.calls("users.get")] == ["601234568", "601234569"]  # a form names itself


def test_the_bot_counts_only_the_event_types_the_admin_chose(flow: Flow, vk: FakeVk) -> None:
    bot_id = vk_bot(flow, vk, vk_events="lead_forms_new")
    deliver(flow, fixture("vk", "wall_reply_new"))
    deliver(flow, fixture("vk", "message_new_text"))
    assert leads(flow) == []
    deliver(flow, fixture("vk", "lead_forms_new"))
    assert [lead.external_id for lead in leads(flow)] == [f"vk:{GROUP}:leadform:9001"]
    assert [m.kind for m in flow.incoming(bot_id)] == ["text", "lead"]  # the message went to the staff bot


def test_the_same_event_three_times_makes_one_lead(flow: Flow, vk: FakeVk) -> None:
    bot_id = vk_bot(flow, vk)
    data = fixture("vk", "wall_reply_new")
    for _ in range(3):
        assert post_vk(flow, bot_id, data).get_data(as_text=True) == "ok"
    flow.run()
    assert len(leads(flow)) == 1 and len(lead_rows(flow, bot_id)) == 1


def test_a_wrong_secret_stores_nothing(flow: Flow, vk: FakeVk) -> None:
    bot_id = vk_bot(flow, vk)
    for secret in ("wrong", "", None):
        data = fixture("vk", "lead_forms_new")
        data["secret"] = secret
        assert post_vk(flow, bot_id, data).status_code == 403
    with flow.state.db.session() as session:
        assert session.scalar(select(func.count()).select_from(Message)) == 0
        assert session.scalar(select(func.count()).select_from(InboundKey)) == 0
    flow.run()
    assert leads(flow) == []


def test_the_confirmation_code_is_fetched_on_save_and_answered(flow: Flow, vk: FakeVk) -> None:
    configure(flow.app, vk_api_url=vk.api_url)
    vk.confirmation = "f00dbabe"
    typed = {"token": vk.token, "secret": VK_SECRET, "confirmation": ""}  # the admin typed no code
    identity = registration.check_credentials(flow.state, Platform.VK, typed)
    with flow.state.db.session() as session:
        bot = Bot(platform=Platform.VK, credentials_encrypted="", leads_enabled=True)
        registration.seal(flow.state, bot, typed, identity)
        session.add(bot)
        session.flush()
        bot_id = bot.id
    confirmation = {"type": "confirmation", "group_id": GROUP}
    response = post_vk(flow, bot_id, {**confirmation, "secret": VK_SECRET})
    assert (response.status_code, response.get_data(as_text=True)) == (200, "f00dbabe")


def test_a_typed_code_stays_when_the_token_may_not_read_it(flow: Flow, vk: FakeVk) -> None:
    configure(flow.app, vk_api_url=vk.api_url)
    vk.vk_error(15, "Access denied: no access to call this method", method="groups.getCallbackConfirmationCode")
    typed = {"token": vk.token, "secret": VK_SECRET, "confirmation": "typed42"}
    identity = registration.check_credentials(flow.state, Platform.VK, typed)
    bot = Bot(platform=Platform.VK, credentials_encrypted="")
    registration.seal(flow.state, bot, typed, identity)
    assert flow.state.secrets.open(bot.credentials_encrypted)["confirmation"] == "typed42"


def test_bots_long_poll_brings_leads_without_a_public_url(flow: Flow, vk: FakeVk) -> None:
    bot_id = vk_bot(flow, vk)
    poller = Poller(flow.state, timeout=0)
    [bot] = [b for b in poller.bots() if b.id == bot_id]
    channel = poller.prepare(bot)
    poller.poll_once(bot, channel)  # the long poll server's first state
    data = fixture("vk", "wall_reply_new")
    data.pop("secret")
    vk.push_event(data)
    vk.push_event(data)  # a repeat after a lost answer: the same event_id
    assert poller.poll_once(bot, channel) == 1
    flow.run()
    [lead] = leads(flow)
    assert lead.phone == "+79172223344"


@pytest.mark.parametrize(("text", "from_id"), [
    ("окна\x00 +7 917 111-22-33", 601234568),  # a NUL byte
    ("окна \ud800 +7 917 111-22-33", 601234568),  # a lone surrogate (JSON \\ud800)
    ("окна " * 20_000 + "+7 917 111-22-33", 601234568),  # very long
    ("окна +7 917 111-22-33", 2**63 - 1),  # a huge user id
])
def test_edge_values_in_a_comment(flow: Flow, vk: FakeVk, text: str, from_id: int) -> None:
    vk.users[from_id] = {"first_name": "Край", "last_name": "Тест"}
    vk_bot(flow, vk)
    deliver(flow, fixture("vk", "wall_reply_new", text=text, from_id=from_id, id=2**63 - 1))
    [lead] = leads(flow)
    assert lead.name == "Край Тест" and "\x00" not in lead.text
    assert lead.source_link == f"https://vk.com/wall-{GROUP}_28?reply={2**63 - 1}"
    if len(text) < 1000:
        assert lead.phone == "+79171112233"


def test_the_author_gets_the_bots_auto_reply_when_it_is_on(flow: Flow, vk: FakeVk) -> None:
    vk_bot(flow, vk, auto_reply=True, auto_reply_text="Спасибо! Перезвоним в течение часа.")
    deliver(flow, fixture("vk", "message_new_text", text="Нужны окна"))
    deliver(flow, fixture("vk", "wall_reply_new"))  # a comment: no chat to answer in
    assert [m.text for m in vk.sent_messages()] == ["Спасибо! Перезвоним в течение часа."]
    assert vk.sent_messages()[0].peer_id == "501234567"
