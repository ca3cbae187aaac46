"""Shared steps of the admin tests: CRM users made in the demo's tables, logging in through the demo's own
login page, and Flask-Admin's CSRF token read from a page the way a browser sends it back."""

from __future__ import annotations

import re
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from crm_plugin.demo.models import User, db
from crm_plugin.host import Role

PASSWORD = "secret-pw"
ADMIN_URL = "/admin/crm-plugin"
# Every page of the tab, as the menu links them.
PAGES = ("/", "/bots/", "/bots/new/", "/employees/", "/employees/new/", "/employees/invite/", "/access/",
         "/access/new/", "/messages/", "/timesheet/", "/timesheet/?format=csv")
_CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"')


def add_user(app: Flask, login: str, *, admin: bool = False, roles: tuple[Role, ...] = (), active: bool = True,
             full_name: str | None = None) -> int:
    with app.app_context():
        user = User(login=login, full_name=full_name or login.title(), is_admin=admin, active=active)
        user.roles = set(roles)
        user.set_password(PASSWORD)
        db.session.add(user)
        db.session.commit()
        return int(user.id)


def login(client: FlaskClient, user_login: str) -> None:
    response = client.post("/login", data={"login": user_login, "password": PASSWORD})
    assert response.status_code == 302, response.get_data(as_text=True)[:500]


def admin_client(app: Flask, client: FlaskClient | None = None, **user: Any) -> FlaskClient:
    """A CRM admin ("boss") logged in through ``client`` (by default a new test client of ``app``)."""
    add_user(app, "boss", admin=True, **user)
    client = client if client is not None else app.test_client()
    login(client, "boss")
    return client


def csrf(html: str) -> str:
    match = _CSRF.search(html)
    assert match, "no CSRF token in the page"
    return match.group(1) or match.group(2)


def page(client: FlaskClient, path: str, **kwargs: Any) -> str:
    response = client.get(ADMIN_URL + path, **kwargs)
    assert response.status_code == 200, (path, response.status_code, response.get_data(as_text=True)[:800])
    return response.get_data(as_text=True)


def post(client: FlaskClient, path: str, data: dict[str, Any], token_from: str | None = None, **kwargs: Any) -> Any:
    """POST to a plugin page with the CSRF token of ``token_from`` (a page path; default: the same path)."""
    token = csrf(page(client, token_from or path))
    return client.post(ADMIN_URL + path, data={"csrf_token": token, **data}, **kwargs)
