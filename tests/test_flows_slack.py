"""Slack, end to end: Events API callbacks and button clicks POSTed with a v0 signature, the worker running the
bot or creating the lead, slack_sdk talking to the fake Web API, and the demo CRM's leads checked afterwards."""

from __future__ import annotations

from sqlalchemy import select

from crm_plugin.core.models import LinkStatus
from crm_plugin.demo.models import Lead, db
from crm_plugin.host import JobKind, Role

from .fakes.slack import FakeSlack
from .flows.slack import (
    SlackUser,
    slack_bot,
    slack_fixture,  # noqa: F401  (fixture)
)
from .flows.world import (
    Flow,
    flow_fixture,  # noqa: F401  (fixture)
    local_moment,
    manager_client,
)

LEADS_CHANNEL = "C0LEADS01"


def leads(flow: Flow) -> list[Lead]:
    with flow.app.app_context():
        return list(db.session.scalars(select(Lead).order_by(Lead.id)))


def test_channel_message_becomes_a_lead_with_the_authors_name(flow: Flow, slack: FakeSlack) -> None:
    bot_id = slack_bot(flow, slack)
    slack.add_channel(LEADS_CHANNEL)
    slack.add_user("U061F7AUR", real_name="Рустам Галиев", display_name="Рустам", email="rustam@example.com")
    author = SlackUser(flow, bot_id, slack, "U061F7AUR", dm_channel="D0DM00001")
    text = "Нужны пластиковые окна в частный дом, 6 шт. Позвоните: +7 916 123-45-67"

    event_id = author.message(text, LEADS_CHANNEL, "channel")
    author.message(text, LEADS_CHANNEL, "channel", event_id=event_id)  # Slack's retry of the same event
    [lead] = leads(flow)
    assert (lead.source, lead.name, lead.text) == (f"slack:{LEADS_CHANNEL}", "Рустам", text)
    assert lead.external_id and len(slack.calls("users.info")) == 1
    assert slack.messages == []  # nothing is posted into the sales channel

    page = manager_client(flow).get("/leads").get_data(as_text=True)
    assert "Нужны пластиковые окна в частный дом" in page and "Рустам" in page


def test_direct_messages_are_answered_in_blocks_and_buttons_work(flow: Flow, slack: FakeSlack) -> None:
    bot_id = slack_bot(flow, slack)
    measurer = flow.user("volkov", Role.MEASURER, name="Волков Сергей Андреевич")
    today = flow.job(JobKind.MEASUREMENT, local_moment(flow, 0, 14, 0), measurer)
    person = SlackUser(flow, bot_id, slack, "U061F7AUR", dm_channel="D0DM00001")

    person.text("привет")
    [welcome] = person.last_replies()
    section, hint = welcome.raw["blocks"]
    assert section["type"] == "section" and section["text"]["text"].startswith("Здравствуйте! Это бот компании")
    assert hint == {"type": "context", "elements": [  # Slack cannot share a phone: the button becomes a hint
        {"type": "mrkdwn", "text": "📞 Поделиться номером: напишите номер телефона сообщением"}]}

    person.text("volkov")
    [code] = flow.login_codes(measurer)
    person.text(code)
    [menu] = person.last_replies()
    assert menu.text.startswith("Готово! Вы вошли как Волков Сергей Андреевич.")
    assert [block["type"] for block in menu.raw["blocks"]] == ["section"] + ["actions"] * 6
    assert menu.labels()[:2] == ["Новые заявки", "Сегодня"]
    assert flow.link(bot_id, measurer).status is LinkStatus.BOUND  # type: ignore[union-attr]

    person.tap("Сегодня")  # a block_actions click, form-encoded and signed like Slack's
    assert person.last_text().startswith("Сегодня · замеры: 1\n\n") and person.job_ids() == [today]


def test_channel_messages_are_not_leads_unless_the_bot_takes_leads(flow: Flow, slack: FakeSlack) -> None:
    bot_id = slack_bot(flow, slack, leads_enabled=False)  # «Заявки из каналов» off in the admin
    slack.add_channel(LEADS_CHANNEL)
    author = SlackUser(flow, bot_id, slack, "U061F7AUR", dm_channel="D0DM00001")
    author.message("Нужны окна", LEADS_CHANNEL, "channel")
    assert leads(flow) == [] and slack.calls("users.info") == []
