"""Whatever a URL or a form carries, the admin pages answer 4xx or a normal page with the bad value ignored,
never 500 (issue 11): page numbers of 10**30 or -1, periods of year 9999 or 0001, ids of ``abc``, ``²`` or 2**63
(PostgreSQL refuses them for its integer columns), NUL characters (PostgreSQL refuses them in text), arguments
``url_for`` cannot take back, and bad dates in the timesheet."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from urllib.parse import quote

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from crm_plugin import PluginState
from crm_plugin.admin.args import clean_text, parse_id, parse_ids, parse_page
from crm_plugin.admin.webchat import conversation
from crm_plugin.core.models import (
    Attendance,
    BindingRequest,
    Bot,
    Direction,
    EmployeeLink,
    Invite,
    LinkStatus,
    Message,
    MessageStatus,
    Platform,
    utcnow,
)
from crm_plugin.host import Role

from .admin_helpers import ADMIN_URL, add_user, admin_client, csrf, page

HUGE = str(2**63)  # past bigint; 2**31 is past PostgreSQL's integer
INT_PAST = str(2**31)
BAD_IDS = ("abc", "²", "-1", "1,2", "1.5", "1e400", INT_PAST, HUGE, str(10**30), "%00", "")
LIST_VIEWS = ("bots", "employees", "access", "messages")


def seed(app: Flask, state: PluginState) -> dict[str, int]:
    """A bot with a bound employee, a waiting binding request, a failed and a sent message, a shift."""
    return seed_rows(state, add_user(app, "ivanov", roles=(Role.MEASURER,), full_name="Иванов Иван"))


def seed_rows(state: PluginState, worker: int) -> dict[str, int]:
    with state.db.session() as session:
        bot = Bot(platform=Platform.TELEGRAM, name="Замеры", platform_bot_id="123456", username="crm_test_bot",
                  credentials_encrypted=state.secrets.seal({"token": "123456:TEST-token"}))
        session.add(bot)
        session.flush()
        link = EmployeeLink(bot_id=bot.id, crm_user_id=worker, status=LinkStatus.BOUND, platform_user_id="5001",
                            chat_id="5001")
        waiting = BindingRequest(bot_id=bot.id, crm_user_id=worker, platform_user_id="6001", chat_id="6001",
                                 code_hash="0" * 64, expires_at=utcnow() + timedelta(hours=1))
        session.add_all([link, waiting])
        session.flush()
        failed = Message(bot_id=bot.id, chat_id="5001", link_id=link.id, direction=Direction.OUT, kind="text",
                         preview="ab", status=MessageStatus.FAILED, error="502 Bad Gateway")
        sent = Message(bot_id=bot.id, chat_id="5001", link_id=link.id, direction=Direction.OUT, kind="text",
                       preview="Главное меню", status=MessageStatus.SENT)
        started = datetime.now(timezone.utc) - timedelta(hours=3)
        session.add_all([failed, sent, Attendance(crm_user_id=worker, bot_id=bot.id, started_at=started,
                                                  ended_at=started + timedelta(hours=2))])
        session.flush()
        return {"bot": bot.id, "link": link.id, "request": waiting.id, "failed": failed.id, "sent": sent.id,
                "worker": worker}


@pytest.fixture
def world(app: Flask, state: PluginState) -> dict[str, int]:
    return seed(app, state)


@pytest.fixture
def admin(app: Flask, client: FlaskClient, world: dict[str, int]) -> FlaskClient:
    return admin_client(app, client)


def get(client: FlaskClient, path: str) -> tuple[int, str]:
    response = client.get(ADMIN_URL + path)
    return response.status_code, response.get_data(as_text=True)


def send(client: FlaskClient, path: str, data: dict[str, object]) -> int:
    """POST with the session's CSRF token (read from a page once: Flask-WTF's token serves the session)."""
    token = getattr(client, "crm_csrf", None) or csrf(page(client, "/bots/new/"))
    client.crm_csrf = token  # type: ignore[attr-defined]
    return int(client.post(ADMIN_URL + path, data={"csrf_token": token, **data}).status_code)


def test_a_list_page_number_out_of_range_shows_the_first_page(admin: FlaskClient) -> None:
    for view in LIST_VIEWS:
        for number in (str(10**30), HUGE, "-1", "-" + HUGE, "abc", "1e400", "²"):
            status, html = get(admin, f"/{view}/?page={number}")
            assert status == 200, (view, number)
    assert "Главное меню" in get(admin, f"/messages/?page={10**30}")[1]


def test_a_sort_column_out_of_range_is_ignored(admin: FlaskClient) -> None:
    for view in LIST_VIEWS:
        for sort in ("99", "-1", HUGE, "abc"):
            assert get(admin, f"/{view}/?sort={sort}&desc={HUGE}")[0] == 200, (view, sort)


def test_arguments_url_for_cannot_take_are_left_out_of_the_page_links(admin: FlaskClient) -> None:
    # Flask-Admin copies unknown arguments into its pager and sort links: url_for(endpoint=...) or _method=...
    for view in LIST_VIEWS:
        for query in ("endpoint=x", "_method=POST", "_anchor=x", "_scheme=x", "_external=1", "a%00=1",
                      "note=%00", "note=%ED%A0%80"):
            assert get(admin, f"/{view}/?{query}")[0] == 200, (view, query)
    assert "note=kept" in get(admin, "/messages/?note=kept")[1]  # harmless ones are kept, as Flask-Admin does


def test_a_period_of_year_9999_or_0001_or_malformed_is_ignored(admin: FlaskClient) -> None:
    for period in ("9999-12-31+to+9999-12-31", "0001-01-01+to+0001-01-01", "0001-01-01+to+9999-12-31",
                   "2024-02-30+to+2024-03-01", "2024-03-01+to+2024-02-01", "2024-01-01", "abc", "%00",
                   "99999-01-01+to+99999-01-02"):
        status, html = get(admin, f"/messages/?flt0_period={period}")
        assert status == 200, period
        assert "Главное меню" in html, period  # the filter is left out, with Flask-Admin's notice
    status, html = get(admin, "/messages/?flt0_period=1900-01-01+to+9998-12-31")
    assert status == 200 and "Главное меню" in html


def test_filter_values_of_the_wrong_type_are_ignored(admin: FlaskClient, world: dict[str, int]) -> None:
    for query in ("flt0_status=nonsense", "flt0_direction=%00", "flt0_bot=abc", "flt0_bot=²", f"flt0_bot={HUGE}",
                  f"flt0_bot={INT_PAST}", f"flt0_bot=-{HUGE}", "flt0_bot=-1", f"flt0_employee={10**20}",
                  "flt0_chat=%00", "flt0_chat=a%00b", "flt0_chat=%ED%A0%80", "flt9_unknown=1", "flt_chat=1",
                  "flt0_chat=" + "9" * 5000):
        status, html = get(admin, f"/messages/?{query}")
        assert status == 200, query
    for query in ("flt0_bot=abc", "flt0_bot=²", f"flt0_bot={HUGE}", f"flt0_bot={INT_PAST}", "flt0_status=%00"):
        status, html = get(admin, f"/employees/?{query}")
        assert status == 200 and "Иванов Иван" in html, query  # ignored: every row is listed
    assert "Главное меню" not in get(admin, f"/messages/?flt0_bot={world['bot'] + 1}")[1]  # a good one still filters


def test_a_nul_in_the_search_box_is_taken_out(admin: FlaskClient) -> None:
    status, html = get(admin, "/messages/?search=a%00b")
    assert status == 200 and "Главное меню" not in html and ">ab<" in html
    for search in ("%00", "%00%00", "%ED%A0%80", "%5C", "%25%5C", "x" * 3000):
        assert get(admin, f"/messages/?search={search}")[0] == 200, search


def test_an_id_no_row_can_have_is_a_missing_record(admin: FlaskClient, world: dict[str, int]) -> None:
    for bad in BAD_IDS:
        for path in ("/messages/details/", "/bots/edit/", "/employees/edit/", "/bots/info/"):
            response = admin.get(f"{ADMIN_URL}{path}?id={bad}")
            assert response.status_code == 302, (path, bad)  # back to the list, "Record does not exist."
    response = admin.get(f"{ADMIN_URL}/messages/details/?id={world['failed']}&id=2")
    assert response.status_code in (200, 302)
    assert "502 Bad Gateway" in page(admin, f"/messages/details/?id={world['failed']}")


def test_posts_with_ids_no_row_can_have_change_nothing(admin: FlaskClient, state: PluginState,
                                                       world: dict[str, int]) -> None:
    for bad in BAD_IDS:
        assert send(admin, "/employees/approve/", {"request_id": bad}) == 302, bad
        assert send(admin, "/messages/resend/", {"id": bad}) == 302, bad
        assert send(admin, "/bots/info/webhook/", {"id": bad}) == 302, bad
        assert send(admin, "/bots/delete/", {"id": bad}) == 302, bad
        assert send(admin, "/access/delete/", {"id": bad}) == 302, bad
        assert send(admin, "/employees/delete/", {"id": bad}) == 302, bad
        assert send(admin, f"/bots/edit/?id={bad}", {"name": "x"}) == 302, bad
        assert send(admin, "/bots/check/", {"id": bad, "platform": "nonsense"}) == 400, bad
    with state.db.session() as session:
        assert session.get(Bot, world["bot"]) is not None
        assert session.get(BindingRequest, world["request"]).closed_at is None  # type: ignore[union-attr]
        assert session.get(Message, world["failed"]).status is MessageStatus.FAILED  # type: ignore[union-attr]


def test_bulk_actions_skip_unreadable_ids_and_act_on_the_rest(admin: FlaskClient, state: PluginState,
                                                              world: dict[str, int]) -> None:
    for action in ("block", "unblock", "unbind", "delete", "nonsense"):
        assert send(admin, "/employees/action/", {"action": action, "rowid": list(BAD_IDS)}) == 302, action
    assert send(admin, "/messages/action/", {"action": "resend", "rowid": list(BAD_IDS)}) == 302
    assert send(admin, "/bots/action/", {"action": "delete", "rowid": list(BAD_IDS)}) == 302
    assert send(admin, "/employees/action/", {"action": "block", "rowid": ["abc", HUGE, str(world["link"])]}) == 302
    assert send(admin, "/messages/action/", {"action": "resend", "rowid": [HUGE, str(world["failed"])]}) == 302
    with state.db.session() as session:
        assert session.get(EmployeeLink, world["link"]).status is LinkStatus.BLOCKED  # type: ignore[union-attr]
        assert session.get(Message, world["failed"]).status is MessageStatus.QUEUED  # type: ignore[union-attr]
        assert session.scalars(select(Bot.id)).all() == [world["bot"]]


def test_a_nul_in_a_form_field_is_a_form_error_not_a_database_error(admin: FlaskClient, state: PluginState,
                                                                    world: dict[str, int]) -> None:
    assert send(admin, "/employees/new/", {"bot_id": world["bot"], "crm_user_id": world["worker"],
                                           "platform_user_id": "50\x0002", "role_override": ""}) == 200
    assert send(admin, f"/bots/edit/?id={world['bot']}", {"name": "Замеры\x00"}) == 200
    with state.db.session() as session:
        assert session.get(Bot, world["bot"]).name == "Замеры"  # type: ignore[union-attr]
        assert len(session.scalars(select(EmployeeLink)).all()) == 1


def test_the_approve_button_with_a_good_id_still_approves(admin: FlaskClient, state: PluginState,
                                                          world: dict[str, int]) -> None:
    assert send(admin, "/employees/approve/", {"request_id": f" {world['request']} "}) == 302
    with state.db.session() as session:
        assert session.get(BindingRequest, world["request"]).closed_at is not None  # type: ignore[union-attr]


def test_the_conversation_page_with_bad_arguments_is_an_empty_page(admin: FlaskClient, world: dict[str, int]) -> None:
    for query in (f"bot_id={HUGE}&chat_id=5001", f"bot_id={INT_PAST}&chat_id=5001", "bot_id=abc&chat_id=5001",
                  f"bot_id={world['bot']}&chat_id=%00", "chat_id=%ED%A0%80", ""):
        status, html = get(admin, f"/messages/conversation/?{query}")
        assert status == 200 and "Главное меню" not in html, query
    for before in (HUGE, "-1", "abc", "²"):  # ignored: the latest rows
        html = page(admin, f"/messages/conversation/?bot_id={world['bot']}&chat_id=5001&before={before}")
        assert "Главное меню" in html, before


def test_the_timesheet_and_its_csv_refuse_dates_out_of_range(admin: FlaskClient) -> None:
    for query in ("start=9999-12-31&end=9999-12-31", "start=0001-01-01&end=0001-01-01", "start=0001-01-01",
                  "end=9999-12-31", "start=9998-12-31&end=9999-12-31", "start=%00", "start=2024-02-30",
                  "start=99999-01-01", f"start={HUGE}"):
        status, html = get(admin, f"/timesheet/?{query}")
        assert status == 200 and "показан текущий месяц" in html, query
        response = admin.get(f"{ADMIN_URL}/timesheet/?{query}&format=csv")
        assert response.status_code == 200 and response.headers["Content-Type"].startswith("text/csv"), query


def test_other_pages_ignore_bad_query_arguments(admin: FlaskClient) -> None:
    for path in ("/", "/webchat/", "/employees/invite/", "/bots/new/", "/employees/new/", "/access/new/"):
        for query in (f"bot_id={HUGE}&user_id=abc", "x=%00", "url=%00", "url=//evil.example", "id=%ED%A0%80"):
            assert get(admin, f"{path}?{query}")[0] == 200, (path, query)


def test_the_web_chat_cursor_past_any_id_finds_nothing(state: PluginState, world: dict[str, int]) -> None:
    with state.db.session() as session:
        for after in (2**63, 10**30):
            page = conversation(session, world["bot"], "5001", after, file_url=lambda m, i: "", upload_url=str)
            assert page["messages"] == []


def test_a_return_url_no_redirect_can_carry_is_refused(admin: FlaskClient, world: dict[str, int]) -> None:
    # Flask-Admin redirects back to ?url= (and the resend button to its own): a line break cannot be a
    # Location header, and urllib cannot even parse http://[
    for url in ("\n", "/x\r\nSet-Cookie:a=b", "http://[", "//[::1"):
        assert admin.get(f"{ADMIN_URL}/messages/details/?id=abc&url={quote(url)}").status_code == 400, url
        assert send(admin, f"/messages/resend/?url={quote(url)}", {"id": world["failed"]}) == 400, url
        assert send(admin, "/bots/delete/", {"id": "abc", "url": url}) == 400, url
    response = admin.get(f"{ADMIN_URL}/messages/details/?id=abc&url=/admin/crm-plugin/bots/")
    assert response.status_code == 302 and response.headers["Location"].endswith("/admin/crm-plugin/bots/")


def test_an_invite_for_more_days_than_a_float_holds_is_a_form_error(admin: FlaskClient, state: PluginState,
                                                                    world: dict[str, int]) -> None:
    # wtforms' NumberRange calls math.isnan() on the int: OverflowError past 1.8e308
    for days in ("9" * 309, str(10**30), "-" + "9" * 400, "1e400", "²", "%00"):
        assert send(admin, "/employees/invite/", {"bot_id": world["bot"], "crm_user_id": world["worker"],
                                                  "days": days}) == 200, days
    with state.db.session() as session:
        assert not session.scalars(select(Invite)).all()


def test_the_resend_button_returns_only_to_this_site(admin: FlaskClient, world: dict[str, int]) -> None:
    # Flask-Admin's own check of return targets, as its pages use (the button's own let "/\evil.example" by)
    for url in ("/\\evil.example", "//evil.example", "https://evil.example/", "javascript:alert(1)"):
        token = csrf(page(admin, "/messages/"))
        response = admin.post(f"{ADMIN_URL}/messages/resend/?url={quote(url)}",
                              data={"csrf_token": token, "id": world["failed"]})
        assert response.status_code == 302 and "evil" not in response.headers["Location"], url
        assert response.headers["Location"].endswith("/admin/crm-plugin/messages/"), url


def test_ids_are_read_as_ascii_digits_within_the_columns_range() -> None:
    assert parse_id("42") == 42 and parse_id(" 42 ") == 42 and parse_id(7) == 7
    assert parse_id(str(2**31 - 1), Bot.id) == 2**31 - 1 and parse_id(str(2**31), Bot.id) is None
    assert parse_id(str(2**63 - 1), Message.id) == 2**63 - 1 and parse_id(HUGE, Message.id) is None
    for bad in ("abc", "²", "١", "-1", "+1", "1_0", "1.5", "1e3", "", None, True, ["1"]):
        assert parse_id(bad) is None, bad
    assert parse_ids(["3", "abc", "3", HUGE, "1"], Message.id) == [3, 1]
    assert parse_page(str(10**30)) == 0 and parse_page("-1") == 0 and parse_page("7") == 7
    assert clean_text("a\x00b") == "ab" and clean_text("\x00") is None and clean_text("\ud800x") == "x"
