"""The "Сотрудники" page: invite links, approving a waiting binding, block/unblock/unbind, adding by hand,
and the states the CRM decides (an employee deactivated there)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from crm_plugin import PluginState
from crm_plugin.bot.binding import secret_hash
from crm_plugin.core.models import (
    BindingRequest,
    Bot,
    Direction,
    EmployeeLink,
    Invite,
    LinkStatus,
    Message,
    Platform,
    utcnow,
)
from crm_plugin.demo.models import User, db
from crm_plugin.host import Role

from .admin_helpers import add_user, admin_client, page, post


@pytest.fixture
def admin(app: Flask, client: FlaskClient) -> FlaskClient:
    return admin_client(app, client)


@pytest.fixture
def bot_id(state: PluginState) -> int:
    with state.db.session() as session:
        bot = Bot(platform=Platform.TELEGRAM, name="Замеры", platform_bot_id="123456", username="crm_test_bot",
                  credentials_encrypted=state.secrets.seal({"token": "123456:TEST-token"}))
        session.add(bot)
        session.flush()
        return bot.id


def add_link(state: PluginState, bot_id: int, crm_user_id: int, status: LinkStatus = LinkStatus.BOUND,
             platform_user_id: str | None = "5001") -> int:
    with state.db.session() as session:
        link = EmployeeLink(bot_id=bot_id, crm_user_id=crm_user_id, status=status, platform_user_id=platform_user_id,
                            chat_id=platform_user_id)
        session.add(link)
        session.flush()
        return link.id


def link_of(state: PluginState, link_id: int) -> EmployeeLink:
    with state.db.session() as session:
        link = session.get(EmployeeLink, link_id)
        assert link is not None
        return link


def run_action(client: FlaskClient, action: str, *ids: int) -> str:
    response = post(client, "/employees/action/", {"action": action, "rowid": [str(i) for i in ids]},
                    token_from="/employees/", follow_redirects=True)
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_an_invite_link_is_made_for_an_active_employee(app: Flask, state: PluginState, admin: FlaskClient,
                                                       bot_id: int) -> None:
    ivanov = add_user(app, "ivanov", roles=(Role.MEASURER,), full_name="Иванов Иван")
    gone = add_user(app, "gone", roles=(Role.INSTALLER,), active=False, full_name="Уволенный Пётр")
    form = page(admin, f"/employees/invite/?bot_id={bot_id}&user_id={ivanov}")
    assert "Иванов Иван" in form and "Уволенный Пётр" not in form  # only active CRM users can be invited

    html = post(admin, "/employees/invite/", {"bot_id": bot_id, "crm_user_id": ivanov, "days": 3}
                ).get_data(as_text=True)
    marker = "https://t.me/crm_test_bot?start="
    assert marker in html
    token = html.split(marker, 1)[1].split('"', 1)[0]
    with state.db.session() as session:
        invite = session.scalars(select(Invite)).one()
        link = session.scalars(select(EmployeeLink)).one()
    assert invite.token_hash == secret_hash(token) and (invite.bot_id, invite.crm_user_id) == (bot_id, ivanov)
    assert timedelta(days=2, hours=23) < invite.expires_at - utcnow() <= timedelta(days=3)
    assert (link.crm_user_id, link.status, link.platform_user_id) == (ivanov, LinkStatus.PENDING, None)
    listing = page(admin, "/employees/")
    assert "Иванов Иван" in listing and "ожидает" in listing and "при первом входе" in listing
    assert gone not in {link.crm_user_id}


def test_block_unblock_and_unbind(app: Flask, state: PluginState, admin: FlaskClient, bot_id: int) -> None:
    link_id = add_link(state, bot_id, add_user(app, "petrov", roles=(Role.INSTALLER,)))
    other_id = add_link(state, bot_id, add_user(app, "sidorov", roles=(Role.INSTALLER,)), platform_user_id="5002")

    assert "Заблокировано: 1" in run_action(admin, "block", link_id)
    assert link_of(state, link_id).status is LinkStatus.BLOCKED
    assert link_of(state, other_id).status is LinkStatus.BOUND
    assert 'crm-status-blocked">заблокирован' in page(admin, "/employees/")

    run_action(admin, "unblock", link_id)
    assert link_of(state, link_id).status is LinkStatus.BOUND  # it still has its account

    run_action(admin, "unbind", link_id)
    link = link_of(state, link_id)
    assert (link.status, link.platform_user_id, link.chat_id) == (LinkStatus.PENDING, None, None)


def test_an_action_without_the_csrf_token_changes_nothing(app: Flask, state: PluginState, admin: FlaskClient,
                                                          bot_id: int) -> None:
    link_id = add_link(state, bot_id, add_user(app, "petrov"))
    admin.post("/admin/crm-plugin/employees/action/", data={"action": "block", "rowid": [str(link_id)]})
    assert link_of(state, link_id).status is LinkStatus.BOUND


def test_a_waiting_binding_is_approved(app: Flask, state: PluginState, admin: FlaskClient, bot_id: int) -> None:
    user = add_user(app, "orlov", roles=(Role.MEASURER,), full_name="Орлов Павел")
    with state.db.session() as session:
        request = BindingRequest(bot_id=bot_id, crm_user_id=user, platform_user_id="7007", chat_id="7007",
                                 code_hash=secret_hash("123456"), expires_at=utcnow() + timedelta(minutes=10))
        session.add(request)
        session.flush()
        request_id = request.id
    listing = page(admin, "/employees/")
    assert "Ждут подтверждения" in listing and "Орлов Павел" in listing and "7007" in listing

    html = post(admin, "/employees/approve/", {"request_id": request_id}, token_from="/employees/",
                follow_redirects=True).get_data(as_text=True)
    assert "Привязка подтверждена: Орлов Павел" in html
    with state.db.session() as session:
        link = session.scalars(select(EmployeeLink)).one()
        closed = session.get(BindingRequest, request_id)
        told = session.scalars(select(Message).where(Message.direction == Direction.OUT)).all()
    assert (link.crm_user_id, link.platform_user_id, link.status) == (user, "7007", LinkStatus.BOUND)
    assert closed is not None and closed.approved_at is not None and closed.closed_at is not None
    assert [m.chat_id for m in told] == ["7007"]  # the person is told they are in
    assert "Ждут подтверждения" not in page(admin, "/employees/")


def test_adding_by_hand_with_and_without_the_messenger_id(app: Flask, state: PluginState, admin: FlaskClient,
                                                          bot_id: int) -> None:
    first = add_user(app, "first", roles=(Role.MEASURER,))
    second = add_user(app, "second", roles=(Role.INSTALLER,))
    post(admin, "/employees/new/", {"bot_id": bot_id, "crm_user_id": first, "platform_user_id": "",
                                    "role_override": ""})
    post(admin, "/employees/new/", {"bot_id": bot_id, "crm_user_id": second, "platform_user_id": "8008",
                                    "role_override": "manager"})
    html = post(admin, "/employees/new/", {"bot_id": bot_id, "crm_user_id": first, "platform_user_id": "",
                                           "role_override": ""}, follow_redirects=True).get_data(as_text=True)
    assert "Этот сотрудник уже есть у этого бота" in html
    with state.db.session() as session:
        links = {link.crm_user_id: link for link in session.scalars(select(EmployeeLink))}
    assert (links[first].status, links[first].platform_user_id) == (LinkStatus.PENDING, None)
    assert (links[second].status, links[second].chat_id, links[second].role_override) == (LinkStatus.BOUND, "8008",
                                                                                           "manager")
    listing = page(admin, "/employees/")
    assert "менеджер (задано здесь)" in listing and "замерщик" in listing


def test_an_employee_deactivated_in_the_crm_shows_as_such(app: Flask, state: PluginState, admin: FlaskClient,
                                                          bot_id: int) -> None:
    user = add_user(app, "leaver", roles=(Role.INSTALLER,))
    add_link(state, bot_id, user)
    assert "неактивен в CRM" not in page(admin, "/employees/")
    with app.app_context():
        db.session.get(User, user).active = False
        db.session.commit()
    assert 'crm-status-crm_inactive">неактивен в CRM' in page(admin, "/employees/")
