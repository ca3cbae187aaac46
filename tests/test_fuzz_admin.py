"""A property of the admin tab (issue 11): whatever a URL or a form carries, no page answers 5xx.

Hypothesis generates query strings (known and random keys; huge and negative numbers, NUL, lone surrogates sent
as %ED%A0%80, bytes that are not UTF-8, long strings, dates of year 1 to 9999, periods) for every list page with
its filters, every record page and the tab's other pages, and form posts for every button and form of the tab,
logged in as an admin, on SQLite and PostgreSQL. Each test builds its app and logs in once; the examples share
it, and the rows the posts delete are put back. Every platform URL points at a closed port, so a form that asks
a platform fails at once. CRM_PLUGIN_FUZZ_EXAMPLES sets the examples per target (default 150);
bench/fuzz_admin.py runs the same targets 10,000 times each and counts the 5xx answers.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any
from urllib.parse import quote

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from crm_plugin import PluginState, get_state
from crm_plugin.admin.bot_form import field_name, keyed_channels
from crm_plugin.core.models import Bot
from tests.store_helpers import configure

from .admin_helpers import ADMIN_URL, admin_client, csrf, page
from .test_admin_edges import seed, seed_rows

EXAMPLES = int(os.environ.get("CRM_PLUGIN_FUZZ_EXAMPLES", "150"))
CLOSED = "http://127.0.0.1:9"  # the discard port: nothing listens, a connection is refused at once
LIST_PAGES = ("/bots/", "/employees/", "/access/", "/messages/")
RECORD_PAGES = ("/messages/details/", "/bots/edit/", "/employees/edit/", "/bots/info/")
OTHER_PAGES = ("/", "/timesheet/", "/webchat/", "/employees/invite/", "/bots/new/", "/employees/new/",
               "/access/new/", "/messages/conversation/", "/messages/ajax/lookup/", "/messages/export/csv/")
FILTERS = ("bot", "employee", "status", "direction", "period", "chat")
ARGS = ("page", "page_size", "sort", "desc", "search", "id", "url", "modal", "bot_id", "user_id", "chat_id",
        "before", "start", "end", "format", "endpoint", "_method", "_anchor", "_external", "_scheme")

# --- values: what a hand-typed URL or a tampered form can carry ------------------------------------------
SPECIAL = st.sampled_from([
    "", "0", "1", "2", "3", "-1", "+1", " 1 ", "01", "1_0", str(2**31), str(2**63), str(-2**63 - 1), str(10**30),
    "1e400", "NaN", "Infinity", "-inf", "1.5", "1,2", "²", "١", "abc", "\x00", "1\x00", "a\x00b", "%", "\\", "'",
    "<script>alert(1)</script>", "javascript:alert(1)", "//evil.example", "/admin/crm-plugin/", "csv",
    "failed", "queued", "bound", "blocked", "in", "out", "telegram", "vk", "viber", "slack", "web",
    "9999-12-31", "0001-01-01", "2024-02-30", "9999-12-31 to 9999-12-31", "0001-01-01 to 0001-01-01",
    "2024-01-01 to 2024-01-31", "2024-01-31 to 2024-01-01", "block", "unblock", "unbind", "delete", "resend",
])
NUMBERS = st.integers(min_value=-(2**80), max_value=2**80).map(str)
TEXT = st.text(st.characters(codec=None, exclude_categories=()), max_size=24)  # NUL and lone surrogates too
DATES = st.dates(min_value=date(1, 1, 1), max_value=date(9999, 12, 31)).map(date.isoformat)
PERIODS = st.tuples(DATES, DATES).map(" to ".join)
LONG = st.one_of(st.integers(300, 5000).map(lambda n: "9" * n), st.text(min_size=200, max_size=2000))
RAW = st.binary(max_size=16)  # sent as is: mostly not UTF-8
VALUES = st.one_of(SPECIAL, SPECIAL, NUMBERS, TEXT, DATES, PERIODS, LONG, RAW)
FILTER_KEYS = st.builds("flt{}_{}".format, st.sampled_from(["0", "1", "2", "", "99", "x", "-1"]),
                        st.sampled_from(FILTERS))
KEYS = st.one_of(st.sampled_from(ARGS), FILTER_KEYS, FILTER_KEYS, TEXT, RAW)


def encode(pairs: list[tuple[str | bytes, str | bytes]]) -> str:
    """``key=value&...`` percent-encoded from the UTF-8 bytes (a lone surrogate becomes %ED%A0%80)."""
    def part(value: str | bytes) -> str:
        raw = value if isinstance(value, bytes) else value.encode("utf-8", "surrogatepass")
        return quote(raw, safe="")
    return "&".join(f"{part(key)}={part(value)}" for key, value in pairs)


QUERIES = st.lists(st.tuples(KEYS, VALUES), max_size=6).map(encode)


def fields(*names: str) -> st.SearchStrategy[list[tuple[str | bytes, str | bytes]]]:
    """Form inputs: some of the target's own fields (each possibly repeated) and a few random ones."""
    named = st.lists(st.tuples(st.sampled_from(names), VALUES), max_size=len(names) + 3) if names else st.just([])
    return st.tuples(named, st.lists(st.tuples(KEYS, VALUES), max_size=2)).map(lambda p: p[0] + p[1])


def credential_inputs() -> tuple[str, ...]:
    return tuple(field_name(c.platform, f.key) for c in keyed_channels() for f in c.credential_fields)


def posts() -> st.SearchStrategy[tuple[str, list[tuple[str | bytes, str | bytes]]]]:
    """(path with its query, form fields) for every button and form of the tab."""
    keys = credential_inputs()
    bot = ("name", "platform_bot_id", "username", "active", "leads_enabled", *keys)
    employee = ("bot_id", "crm_user_id", "platform_user_id", "role_override", "subscribed_stats")
    targets: dict[str, tuple[str, ...]] = {
        "/employees/approve/": ("request_id",),
        "/employees/action/": ("action", "rowid", "url"),
        "/messages/action/": ("action", "rowid", "url"),
        "/bots/action/": ("action", "rowid"),
        "/access/action/": ("action", "rowid"),
        "/messages/resend/": ("id",),
        "/bots/check/": ("id", "platform", *keys),
        "/bots/info/webhook/": ("id",),
        "/bots/delete/": ("id", "url"),
        "/employees/delete/": ("id", "url"),
        "/access/delete/": ("id", "url"),
        "/bots/new/": ("platform", *bot),
        "/bots/edit/": bot,
        "/employees/new/": employee,
        "/employees/edit/": employee,
        "/employees/invite/": ("bot_id", "crm_user_id", "days"),
        "/access/new/": ("crm_user_id",),
        "/employees/ajax/update/": ("list_form_pk", "platform_user_id", "status"),
    }
    return st.sampled_from(sorted(targets)).flatmap(
        lambda path: st.tuples(st.builds(lambda q: f"{path}?{q}", st.one_of(st.just("id=1"), QUERIES)),
                               fields(*targets[path])))


TOKENS = st.sampled_from(["good", "good", "good", "none", "bad"])


@dataclass
class Target:
    """One logged-in admin's client on a seeded app, and the requests each fuzz target sends with it."""

    client: FlaskClient
    state: PluginState
    worker: int
    token: str = ""

    def list_page(self, path: str, query: str) -> tuple[str, Any]:
        url = f"{path}?{query}"
        return url, self.client.get(ADMIN_URL + url)

    def other_page(self, path: str, record: str, query: str) -> tuple[str, Any]:
        url = f"{path}?{record}&{query}" if path in RECORD_PAGES else f"{path}?{query}"
        return url, self.client.get(ADMIN_URL + url)

    def form_post(self, target: tuple[str, list[tuple[str | bytes, str | bytes]]], token_kind: str) -> tuple[str, Any]:
        path, data = target
        if not self.token:
            self.token = csrf(page(self.client, "/bots/new/"))
        token = {"good": [("csrf_token", self.token)], "none": [], "bad": [("csrf_token", "x" * 40)]}[token_kind]
        body = encode(token + data)
        response = self.client.post(ADMIN_URL + path, data=body.encode("ascii"),
                                    content_type="application/x-www-form-urlencoded")
        with self.state.db.session() as session:
            deleted = not session.scalar(select(func.count()).select_from(Bot))
        if deleted:  # the rows a post deleted are put back for the next example
            seed_rows(self.state, self.worker)
        return f"POST {path} {body[:300]}", response


# name -> (the Target method, the strategies of its arguments): shared with bench/fuzz_admin.py
TARGETS: dict[str, tuple[Callable[..., tuple[str, Any]], tuple[st.SearchStrategy[Any], ...]]] = {
    "list_pages": (Target.list_page, (st.sampled_from(LIST_PAGES), QUERIES)),
    "other_pages": (Target.other_page, (
        st.sampled_from(RECORD_PAGES + OTHER_PAGES),
        st.one_of(st.just("id=1"), VALUES.map(lambda v: encode([("id", v)]))), QUERIES)),
    "form_posts": (Target.form_post, (posts(), TOKENS)),
}


def prepare(app: Flask, client: FlaskClient) -> Target:
    """The app as every target wants it: no platform reachable, a seeded world, an admin logged in."""
    state = get_state(app)
    configure(app, telegram_api_url=CLOSED, vk_api_url=CLOSED, viber_api_url=CLOSED, slack_api_url=CLOSED)
    world = seed(app, state)
    return Target(admin_client(app, client), state, world["worker"])


def fuzz(name: str, target: Target, examples: int, check: Callable[[str, Any], None]) -> None:
    method, strategies = TARGETS[name]

    # CI runs a fixed set of examples (a red CI is then reproducible); a developer's run explores new ones.
    @settings(max_examples=examples, deadline=None, database=None, derandomize=bool(os.environ.get("CI")),
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(st.tuples(*strategies))
    def run(args: tuple[Any, ...]) -> None:
        check(*method(target, *args))

    run()


def no_5xx(what: str, response: Any) -> None:
    assert response.status_code < 500, (what, response.status_code, response.get_data(as_text=True)[:500])


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_no_generated_request_gets_a_5xx(app: Flask, client: FlaskClient, name: str) -> None:
    target = prepare(app, client)
    fuzz(name, target, EXAMPLES, no_5xx)
    for path in LIST_PAGES:  # the process is unchanged: no poisoned session or transaction left behind
        page(target.client, path)
