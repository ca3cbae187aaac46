"""Leads in the admin (issue 10): a bot's lead sources on its form (VK event types, Slack channels offered from
conversations.list, the auto-reply), the «Заявки из каналов» page, and the dashboard's counts per source."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from crm_plugin import PluginState
from crm_plugin.core.models import Bot, LeadSettings, Platform

from .admin_helpers import admin_client, page, post
from .fakes.slack import FakeSlack
from .fakes.vk import FakeVk
from .flows.slack import SLACK_SIGNING
from .flows.world import Flow, flow_fixture  # noqa: F401 - the flow fixture
from .leads_helpers import channel_message, fixture, post_slack, post_vk
from .store_helpers import configure


@pytest.fixture
def admin(app: Flask, client: FlaskClient) -> FlaskClient:
    return admin_client(app, client, full_name="Главный Админ")


@pytest.fixture
def vk(app: Flask) -> Iterator[FakeVk]:
    with FakeVk() as fake:
        configure(app, vk_api_url=fake.api_url)
        yield fake


@pytest.fixture
def slack(app: Flask) -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        fake.add_channel("C0LEADS01", name="sales")
        fake.add_channel("C0RANDOM1", name="random")
        fake.add_channel("C0NOTIN01", name="hr", member=False)
        fake.add_user("U061F7AUR", display_name="Рустам")
        configure(app, slack_api_url=f"{fake.url}/api/")
        yield fake


def settings_of(state: PluginState, bot_id: int) -> LeadSettings | None:
    with state.db.session() as session:
        return session.get(LeadSettings, bot_id)


def only_bot(state: PluginState) -> Bot:
    with state.db.session() as session:
        return session.scalars(select(Bot)).one()


def test_a_vk_bot_takes_the_chosen_event_types_and_its_code_is_fetched(state: PluginState, admin: FlaskClient,
                                                                     vk: FakeVk) -> None:
    response = post(admin, "/bots/new/", {
        "platform": "vk", "vk_token": vk.token, "vk_secret": "vk-secret", "vk_confirmation": "", "active": "y",
        "leads_enabled": "y", "lead_vk_events": ["wall_reply_new", "lead_forms_new"], "lead_auto_reply": "y",
        "lead_auto_reply_text": "Спасибо, перезвоним!"}, follow_redirects=True)
    assert response.status_code == 200, response.get_data(as_text=True)
    bot = only_bot(state)
    assert state.secrets.open(bot.credentials_encrypted)["confirmation"] == vk.confirmation  # fetched, not typed
    settings = settings_of(state, bot.id)
    assert settings is not None and settings.vk_event_set() == {"wall_reply_new", "lead_forms_new"}
    assert settings.auto_reply and settings.auto_reply_text == "Спасибо, перезвоним!"
    form = page(admin, f"/bots/edit/?id={bot.id}")
    checked = re.findall(r'<input checked id="lead_vk_events-\d" name="lead_vk_events" type="checkbox" value="(\w+)">',
                         form)
    assert checked == ["wall_reply_new", "lead_forms_new"]


def test_slack_channels_are_offered_from_conversations_list(state: PluginState, admin: FlaskClient,
                                                            slack: FakeSlack) -> None:
    post(admin, "/bots/new/", {"platform": "slack", "slack_token": slack.token, "slack_signing_secret": SLACK_SIGNING,
                               "active": "y", "leads_enabled": "y"}, follow_redirects=True)
    bot = only_bot(state)
    form = page(admin, f"/bots/edit/?id={bot.id}")
    offered = re.findall(r'<option value="(C\w+)">([^<]+)</option>', form)
    assert offered == [("C0RANDOM1", "random"), ("C0LEADS01", "sales")]  # only the channels the bot is in
    post(admin, f"/bots/edit/?id={bot.id}", {"name": "Slack", "active": "y", "leads_enabled": "y",
                                             "lead_slack_channels": ["C0LEADS01"]})
    settings = settings_of(state, bot.id)
    assert settings is not None and settings.slack_channels == {"C0LEADS01": "sales"}


def test_the_leads_page_and_the_dashboard_counts(flow: Flow, slack: FakeSlack, vk: FakeVk) -> None:
    admin = admin_client(flow.app)
    slack_id = flow.bot(Platform.SLACK, {"token": slack.token, "signing_secret": SLACK_SIGNING}, leads_enabled=True)
    vk_id = flow.bot(Platform.VK, vk.credentials(), leads_enabled=True)
    vk.users[601234568] = {"first_name": "Марат", "last_name": "Гарипов"}
    post_slack(flow, slack_id, channel_message("Окна +7 (917) 111-22-33", ts="1.1", event_id="Ev1"))
    post_slack(flow, slack_id, channel_message("Окна rustam@okna.ru", ts="1.2", event_id="Ev2", user="U0MISSING"))
    post_vk(flow, vk_id, fixture("vk", "wall_reply_new"))
    flow.run()
    html = page(admin, "/leads/")
    assert "+79171112233" in html and "rustam@okna.ru" in html and "Марат Гарипов" in html
    assert 'href="https://vk.com/wall-229000111_28?reply=4512"' in html and "№ 1" in html
    assert html.count("crm-status-handled") == 3
    dashboard = page(admin, "/")
    assert "Заявки из каналов" in dashboard
    assert "<td>slack:C0LEADS01</td><td>2</td><td>2</td>" in dashboard.replace("\n", "")
    assert f"<td>vk:club{FakeVk.GROUP_ID}</td><td>1</td><td>1</td>" in dashboard.replace("\n", "")
