"""Leads from Slack channels (issue 10): Events API callbacks at the plugin's webhook, the real worker,
users.info at the fake Web API, the demo CRM's leads read back; managers told with «Взять» in the web chat."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from crm_plugin.channels.slack import SlackChannel
from crm_plugin.core.models import Direction, EmployeeLink, Message, MessageStatus
from crm_plugin.host import Role

from .admin_helpers import add_user
from .fakes.slack import FakeSlack
from .flows.slack import SLACK_SIGNING
from .flows.world import Flow, flow_fixture, manager_client  # noqa: F401 - the flow fixture
from .leads_helpers import channel_message, fixture, lead_rows, leads, notes, post_slack, slack_bot

CHANNEL = "C0LEADS01"
WEBCHAT = "/crm-plugin/webchat"


@pytest.fixture(name="slack")
def slack_fixture() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        fake.add_channel(CHANNEL, name="sales")
        fake.add_user("U061F7AUR", real_name="Рустам Хабибуллин", display_name="Рустам")
        yield fake


def deliver(flow: Flow, bot_id: int, data: dict[str, object], *, retry: int | None = None) -> None:
    response = post_slack(flow, bot_id, data, retry=retry)
    assert response.status_code == 200, response.get_data(as_text=True)
    flow.run()


def test_a_channel_message_with_a_phone_is_a_lead_and_retries_store_nothing(flow: Flow, slack: FakeSlack) -> None:
    bot_id = slack_bot(flow, slack)
    data = channel_message("Нужны окна в дом, 6 шт. Телефон +7 (917) 111-22-33", ts="1718000000.000200",
                           event_id="Ev0LEAD00001")
    deliver(flow, bot_id, data)
    deliver(flow, bot_id, data, retry=1)  # Slack's retries: same event_id, X-Slack-Retry-Num
    deliver(flow, bot_id, data, retry=2)
    [lead] = leads(flow)
    assert (lead.phone, lead.name, lead.source) == ("+79171112233", "Рустам", f"slack:{CHANNEL}")
    assert lead.source_link == f"https://slack.com/archives/{CHANNEL}/p1718000000000200"
    assert len(lead_rows(flow, bot_id)) == 1 and len(slack.calls("users.info")) == 1


def test_bot_messages_and_edits_make_no_lead(flow: Flow, slack: FakeSlack) -> None:
    bot_id = slack_bot(flow, slack)
    for name in ("bot_message", "message_channel_app_bot", "message_changed"):
        deliver(flow, bot_id, fixture("slack", name))
    assert leads(flow) == [] and lead_rows(flow, bot_id) == []


def test_a_thread_reply_joins_its_lead(flow: Flow, slack: FakeSlack) -> None:
    bot_id = slack_bot(flow, slack)
    deliver(flow, bot_id, fixture("slack", "message_channel"))
    deliver(flow, bot_id, fixture("slack", "message_thread_reply"))
    [lead] = leads(flow)
    assert notes(flow, lead.id) == ["И ещё балконную дверь посчитайте"]
    reply = lead.notes[0]
    assert reply.source_link == (f"https://slack.com/archives/{CHANNEL}/p1718000100000300"
                                 f"?thread_ts=1718000000.000200&cid={CHANNEL}")
    page = manager_client(flow).get("/leads").get_data(as_text=True)  # the demo CRM's leads page
    assert "И ещё балконную дверь посчитайте" in page
    assert f'href="https://slack.com/archives/{CHANNEL}/p1718000000000200"' in page
    assert reply.source_link.replace("&", "&amp;") in page


def test_a_reply_in_a_thread_that_is_no_lead_makes_none(flow: Flow, slack: FakeSlack) -> None:
    bot_id = slack_bot(flow, slack)
    deliver(flow, bot_id, fixture("slack", "message_thread_reply"))
    assert leads(flow) == []
    [row] = lead_rows(flow, bot_id)
    assert row.status is MessageStatus.HANDLED and row.error == "a reply in a thread whose first message is no lead"


def test_only_the_channels_the_admin_chose_and_under_their_names(flow: Flow, slack: FakeSlack) -> None:
    slack.add_channel("C0CHATTER", name="random")
    channels = SlackChannel({"token": slack.token, "signing_secret": SLACK_SIGNING}, api_url=f"{slack.url}/api/")
    assert channels.lead_channels() == [("C0CHATTER", "random"), (CHANNEL, "sales")]  # offered in the admin
    bot_id = slack_bot(flow, slack, slack_channels={CHANNEL: "sales"})
    deliver(flow, bot_id, channel_message("Окна +7 917 111-22-33", ts="1.1", event_id="Ev1", channel="C0CHATTER"))
    deliver(flow, bot_id, channel_message("Окна +7 917 111-22-44", ts="1.2", event_id="Ev2"))
    [lead] = leads(flow)
    assert (lead.source, lead.phone) == ("slack:#sales", "+79171112244")


def test_a_second_message_with_the_same_phone_joins_the_first_lead(flow: Flow, slack: FakeSlack) -> None:
    bot_id = slack_bot(flow, slack)
    deliver(flow, bot_id, channel_message("Нужны окна. 8 917 111-22-33", ts="1.1", event_id="Ev1"))
    deliver(flow, bot_id, channel_message("Забыл: ещё балкон. +7 (917) 111-22-33", ts="1.2", event_id="Ev2"))
    deliver(flow, bot_id, channel_message("Другой клиент +7 917 999-00-00", ts="1.3", event_id="Ev3"))
    first, other = leads(flow)
    assert notes(flow, first.id) == ["Забыл: ещё балкон. +7 (917) 111-22-33"]
    assert (first.phone, other.phone) == ("+79171112233", "+79179990000")


def test_outside_the_window_the_same_phone_is_a_new_lead(flow: Flow, slack: FakeSlack) -> None:
    flow.state.settings = flow.state.settings.with_values(lead_dedupe_days=0)
    bot_id = slack_bot(flow, slack)
    deliver(flow, bot_id, channel_message("Окна 8 917 111-22-33", ts="1.1", event_id="Ev1"))
    deliver(flow, bot_id, channel_message("Окна 8 917 111-22-33", ts="1.2", event_id="Ev2"))
    assert len(leads(flow)) == 2


# --- a manager is told at once ------------------------------------------------------------------------------

def web_manager(flow: Flow, admin: FlaskClient, login: str, name: str) -> int:
    """A manager bound in the web chat (the admin chose them there and unticked «Только проба»)."""
    user_id = add_user(flow.app, login, roles=(Role.MANAGER,), full_name=name)
    assert admin.post(f"{WEBCHAT}/session", json={"user_id": user_id}).status_code == 200
    with flow.state.db.session() as session:
        link = session.scalars(select(EmployeeLink).where(EmployeeLink.crm_user_id == user_id)).one()
        link.trial = False
    return user_id


def web_replies(flow: Flow, user_id: int) -> list[Message]:
    with flow.state.db.session() as session:
        return list(session.scalars(select(Message).where(Message.chat_id == f"web-{user_id}",
                                                          Message.direction == Direction.OUT).order_by(Message.id)))


def press(flow: Flow, admin: FlaskClient, user_id: int, payload: str, label: str) -> None:
    response = admin.post(f"{WEBCHAT}/send", json={"user_id": user_id, "type": "button", "payload": payload,
                                                  "label": label})
    assert response.status_code == 200, response.get_data(as_text=True)
    flow.run()


def test_managers_get_the_lead_at_once_and_the_first_taker_wins(flow: Flow, slack: FakeSlack) -> None:
    from .admin_helpers import admin_client

    admin = admin_client(flow.app)
    first = web_manager(flow, admin, "alsu", "Гареева Алсу")
    second = web_manager(flow, admin, "ilnur", "Сафин Ильнур")
    measurer = add_user(flow.app, "meas", roles=(Role.MEASURER,), full_name="Волков Сергей")
    unsubscribed = web_manager(flow, admin, "rezeda", "Зарипова Резеда")
    with flow.state.db.session() as session:
        session.scalars(select(EmployeeLink).where(EmployeeLink.crm_user_id == unsubscribed)).one().subscribed_leads = False
    bot_id = slack_bot(flow, slack)
    flow.worker.start_thread()  # the worker runs on its own, as in production: nothing drains it for the test
    flow.run()
    response = post_slack(flow, bot_id, channel_message("Окна в дом +7 917 111-22-33", ts="1.1", event_id="Ev1"))
    assert response.status_code == 200
    deadline = time.monotonic() + 10
    while not all(any(m.status is MessageStatus.SENT for m in web_replies(flow, u)) for u in (first, second)):
        assert time.monotonic() < deadline, "the managers were not told"
        time.sleep(0.01)
    [lead] = leads(flow)
    [row] = lead_rows(flow, bot_id)  # stored by the webhook
    [offer] = web_replies(flow, first)
    [other] = web_replies(flow, second)
    for told in (offer, other):
        assert told.sent_at is not None and (told.sent_at - row.created_at).total_seconds() < 1.0
    card = offer.payload
    assert card["text"].splitlines()[:3] == [f"Новая заявка № {lead.id}: slack:{CHANNEL}", "Имя: Рустам",
                                             "Телефон: +7 917 111-22-33"]
    assert "Окна в дом +7 917 111-22-33" in card["text"]
    take = card["buttons"][0][0]
    assert take["label"] == "Взять"
    assert card["buttons"][1][0]["url"] == lead.source_link
    assert web_replies(flow, measurer) == []  # only managers
    assert web_replies(flow, unsubscribed) == []  # «Присылать заявки из каналов» off on their binding
    press(flow, admin, second, take["payload"], "Взять")
    press(flow, admin, first, take["payload"], "Взять")
    assert leads(flow)[0].manager_id == second
    assert '<td class="lead-manager">Сафин Ильнур</td>' in admin.get("/leads").get_data(as_text=True)
    assert web_replies(flow, second)[-1].payload["text"] == f"Заявка № {lead.id} ваша."
    told, late = web_replies(flow, first)[-2:]
    assert told.payload["text"] == f"Заявка № {lead.id}: взял(а) Сафин Ильнур."
    assert late.payload["text"] == f"Заявка № {lead.id}: взял(а) Сафин Ильнур."


def test_a_lead_made_in_the_crm_is_offered_through_lead_created(flow: Flow) -> None:
    from .admin_helpers import admin_client

    crm = manager_client(flow)  # the CRM's manager «Гареева Алсу», logged into the demo's pages
    with flow.app.app_context():
        from crm_plugin.demo.models import User, db
        manager = db.session.scalar(select(User.id).where(User.login == "manager"))
    admin = admin_client(flow.app)
    assert admin.post(f"{WEBCHAT}/session", json={"user_id": manager}).status_code == 200
    with flow.state.db.session() as session:
        session.scalars(select(EmployeeLink).where(EmployeeLink.crm_user_id == manager)).one().trial = False
    response = crm.post("/leads", data={"source": "телефон", "name": "Марат", "phone": "+7 917 000-00-01",
                                        "text": "Замер на даче"})
    assert response.status_code in (200, 302)
    flow.run()
    [lead] = leads(flow)
    [offer] = web_replies(flow, manager)
    assert offer.payload["text"].splitlines()[:3] == [f"Новая заявка № {lead.id}: телефон", "Имя: Марат",
                                                      "Телефон: +7 917 000-00-01"]
    press(flow, admin, manager, offer.payload["buttons"][0][0]["payload"], "Взять")
    assert leads(flow)[0].manager_id == manager


def test_a_lost_answer_of_create_lead_makes_neither_a_second_lead_nor_a_merge(flow: Flow, slack: FakeSlack,
                                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    from sqlalchemy.exc import OperationalError

    gateway = flow.state.gateway
    real = gateway.create_lead
    calls: list[str] = []

    def lost_answer(draft: object) -> int:
        lead_id = real(draft)  # the CRM stored it ...
        calls.append("create")
        if len(calls) == 1:  # ... and the answer never came back
            raise OperationalError("COMMIT", {}, Exception("server closed the connection unexpectedly"))
        return lead_id

    monkeypatch.setattr(gateway, "create_lead", lost_answer)
    bot_id = slack_bot(flow, slack)
    deliver(flow, bot_id, channel_message("Окна +7 917 111-22-33", ts="1.1", event_id="Ev1"))
    [lead] = leads(flow)
    assert notes(flow, lead.id) == []  # not merged into itself
    [row] = lead_rows(flow, bot_id)
    assert row.payload["result"]["action"] == "created" and row.attempts == 1


def test_the_managers_message_links_to_the_lead_in_the_crm(flow: Flow, slack: FakeSlack) -> None:
    from .admin_helpers import admin_client

    flow.app.config["CRM_PLUGIN_PUBLIC_URL"] = "https://crm.example"  # where the demo CRM is reached from outside
    admin = admin_client(flow.app)
    manager = web_manager(flow, admin, "alsu", "Гареева Алсу")
    bot_id = slack_bot(flow, slack)
    deliver(flow, bot_id, channel_message("Окна в дом +7 917 111-22-33", ts="1.1", event_id="Ev1"))
    [lead] = leads(flow)
    [offer] = web_replies(flow, manager)
    take, crm, message = (row[0] for row in offer.payload["buttons"])
    assert take["label"] == "Взять"
    assert (crm["label"], crm["url"]) == ("Открыть в CRM", f"https://crm.example/leads#lead-{lead.id}")
    assert (message["label"], message["url"]) == ("Открыть сообщение", lead.source_link)
    page = manager_client(flow).get(crm["url"].removeprefix("https://crm.example")).get_data(as_text=True)
    assert f'<tr id="lead-{lead.id}">' in page  # the anchor the link opens at


def test_the_auto_reply_goes_in_the_messages_thread(flow: Flow, slack: FakeSlack) -> None:
    bot_id = slack_bot(flow, slack, auto_reply=True, auto_reply_text="Спасибо! Менеджер свяжется с вами")
    deliver(flow, bot_id, fixture("slack", "message_channel"))
    deliver(flow, bot_id, fixture("slack", "message_thread_reply"))  # joins the lead: no second auto-reply
    [post] = slack.calls("chat.postMessage")
    assert post.params["channel"] == CHANNEL
    assert post.params["thread_ts"] == fixture("slack", "message_channel")["event"]["ts"] == "1718000000.000200"
    assert post.params["text"] == "Спасибо! Менеджер свяжется с вами"
    [message] = slack.messages
    assert message["channel"] == CHANNEL
