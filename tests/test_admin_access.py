"""Who may open the tab: every active CRM admin by default; only the named ones once access is restricted.
Everyone else gets 403 and no data on every page and every action."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from crm_plugin import PluginState
from crm_plugin.core.models import AccessGrant, Bot, Platform
from crm_plugin.host import Role

from .admin_helpers import ADMIN_URL, PAGES, add_user, login, page, post

# What a locked-out admin tries beyond the pages: the bot's info and webhook, checks, actions, resend.
POSTS = ("/bots/check/", "/bots/info/webhook/", "/employees/action/", "/employees/approve/", "/employees/invite/",
         "/messages/resend/", "/messages/action/", "/access/new/", "/access/delete/", "/bots/new/")


def grants(state: PluginState) -> set[int]:
    with state.db.session() as session:
        return set(session.scalars(select(AccessGrant.crm_user_id)))


def add_bot(state: PluginState) -> int:
    with state.db.session() as session:
        bot = Bot(platform=Platform.TELEGRAM, name="Секретный бот", platform_bot_id="123456",
                  credentials_encrypted=state.secrets.seal({"token": "123456:TEST-token"}))
        session.add(bot)
        session.flush()
        return bot.id


def statuses(client: FlaskClient, bot_id: int) -> dict[str, int]:
    seen = {path: client.get(ADMIN_URL + path).status_code for path in PAGES}
    seen |= {path: client.get(ADMIN_URL + path).status_code
             for path in (f"/bots/info/?id={bot_id}", f"/bots/edit/?id={bot_id}",
                          f"/messages/conversation/?bot_id={bot_id}&chat_id=1")}
    seen |= {"POST " + path: client.post(ADMIN_URL + path, data={"id": bot_id}).status_code for path in POSTS}
    return seen


def test_every_active_admin_manages_the_plugin_by_default(app: Flask, state: PluginState) -> None:
    add_bot(state)
    add_user(app, "first", admin=True)
    add_user(app, "second", admin=True)
    for name in ("first", "second"):
        client = app.test_client()
        login(client, name)
        assert "Секретный бот" in page(client, "/bots/")
        assert "Список пуст: плагином управляют все администраторы CRM" in page(client, "/access/")


def test_a_non_admin_gets_403_everywhere_and_a_stranger_the_login_page(app: Flask, state: PluginState) -> None:
    bot_id = add_bot(state)
    add_user(app, "manager", roles=(Role.MANAGER,))
    client = app.test_client()
    login(client, "manager")
    assert set(statuses(client, bot_id).values()) == {403}
    stranger = app.test_client().get(ADMIN_URL + "/bots/")
    assert stranger.status_code == 302 and stranger.headers["Location"].startswith("/login")


def test_restricting_access_locks_out_every_other_admin(app: Flask, state: PluginState) -> None:
    bot_id = add_bot(state)
    boss = add_user(app, "boss", admin=True)
    add_user(app, "other", admin=True)
    owner, other = app.test_client(), app.test_client()
    login(owner, "boss")
    login(other, "other")

    post(owner, "/access/new/", {"crm_user_id": boss})
    assert grants(state) == {boss}
    assert "Доступ ограничен" in page(owner, "/access/")

    refused = statuses(other, bot_id)
    assert set(refused.values()) == {403}, {k: v for k, v in refused.items() if v != 403}
    assert "Секретный бот" not in other.get(ADMIN_URL + "/bots/").get_data(as_text=True)
    assert [name for name in ("crm-plugin/bots", "crm-plugin/messages")
            if name in other.get("/admin/").get_data(as_text=True)] == []  # not even in the menu
    assert grants(state) == {boss}  # nothing changed by the attempts
    assert set(statuses(owner, bot_id)[p] for p in PAGES) == {200}


def test_granting_someone_else_first_keeps_the_admin_who_did_it(app: Flask, state: PluginState) -> None:
    boss = add_user(app, "boss", admin=True)
    deputy = add_user(app, "deputy", admin=True)
    add_user(app, "clerk", roles=(Role.MANAGER,))
    client = app.test_client()
    login(client, "boss")
    form = page(client, "/access/new/")
    assert "Deputy" in form and "Clerk" not in form  # only CRM admins can be named
    post(client, "/access/new/", {"crm_user_id": deputy})
    assert grants(state) == {boss, deputy}

    with state.db.session() as session:
        mine = session.scalars(select(AccessGrant.id).where(AccessGrant.crm_user_id == boss)).one()
    html = post(client, "/access/delete/", {"id": mine}, token_from="/access/", follow_redirects=True)
    assert "Нельзя убрать доступ у себя" in html.get_data(as_text=True)
    assert grants(state) == {boss, deputy}


def test_an_admin_deactivated_in_the_crm_loses_access(app: Flask, state: PluginState) -> None:
    from crm_plugin.demo.models import User, db

    user = add_user(app, "boss", admin=True)
    client = app.test_client()
    login(client, "boss")
    assert client.get(ADMIN_URL + "/bots/").status_code == 200
    with app.app_context():
        db.session.get(User, user).active = False
        db.session.commit()
    assert client.get(ADMIN_URL + "/bots/").status_code != 200
