"""crm_plugin.bot.stats_sends: a statistics send to many people. Each distinct (metric, scope, language) chart
is stored once, everyone gets a StatsReply of what their role may see (a measurer never company totals),
the audiences (subscribers, roles, people) pick the right links, and a run's progress counts its outbox
rows. The admin page only stores a pending run; the worker's clock task fans it out."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from flask import Flask
from sqlalchemy import func, select, update

from crm_plugin import PluginState
from crm_plugin.bot.stats_sends import SendSpec, fan_out_pending, progress, recipients, request_send
from crm_plugin.core.chat import StatsReply, reply_from_dict
from crm_plugin.core.models import (
    Bot,
    EmployeeLink,
    LinkStatus,
    Message,
    MessageStatus,
    Platform,
    StatsChart,
    StatsRun,
    StatsRunMessage,
)
from crm_plugin.host import Role
from crm_plugin.stats.periods import Preset, preset_period
from crm_plugin.testing import InMemoryGateway
from crm_plugin.testing.stats import fill_stats

from .admin_helpers import ADMIN_URL, admin_client, page, post

NOW = datetime(2026, 11, 16, 6, 0, tzinfo=UTC)  # 09:00 on Monday 16 November in Moscow
ROLES = (Role.MANAGER, Role.MEASURER, Role.INSTALLER)
METRICS = ("revenue", "measurements_done", "installations_done")


def add_bot(state: PluginState, platform: Platform = Platform.TELEGRAM) -> int:
    with state.db.session() as session:
        bot = Bot(platform=platform, name="Тест", credentials_encrypted=state.secrets.seal({"token": "1:a"}))
        session.add(bot)
        session.flush()
        return bot.id


def link(state: PluginState, bot_id: int, user_id: int, *, subscribed: bool = True, language: str | None = None,
         status: LinkStatus = LinkStatus.BOUND) -> int:
    with state.db.session() as session:
        row = EmployeeLink(bot_id=bot_id, crm_user_id=user_id, platform_user_id=f"u{user_id}-{bot_id}",
                           chat_id=f"c{user_id}-{bot_id}", status=status, subscribed_stats=subscribed,
                           language=language)
        session.add(row)
        session.flush()
        return row.id


@pytest.fixture
def company() -> tuple[InMemoryGateway, dict[Role, list[int]]]:
    gateway = InMemoryGateway(clock=lambda: NOW)
    world = fill_stats(gateway, NOW)
    people = {Role.MANAGER: list(world.managers), Role.MEASURER: list(world.measurers),
              Role.INSTALLER: list(world.installers)}
    return gateway, people


def last_week() -> SendSpec:
    return SendSpec(METRICS, preset_period(Preset.LAST_WEEK, NOW, "Europe/Moscow"))


def sent_replies(state: PluginState) -> dict[str, list[StatsReply]]:
    with state.db.session() as session:
        rows = session.scalars(select(Message).order_by(Message.id)).all()
        found: dict[str, list[StatsReply]] = {}
        for row in rows:
            reply = reply_from_dict(row.payload)
            assert row.kind == "stats" and isinstance(reply, StatsReply)
            found.setdefault(row.chat_id, []).append(reply)
        return found


def test_two_hundred_subscribers_get_their_figures_with_one_chart_per_scope(
        state: PluginState, company: tuple[InMemoryGateway, dict[Role, list[int]]]) -> None:
    gateway, people = company
    bot_id = add_bot(state)
    for role, count in zip(ROLES, (67, 67, 66)):  # the people with figures, then more of each role
        while len(people[role]) < count:
            people[role].append(gateway.add_user(f"extra-{role.value}-{len(people[role])}", "Сотрудник",
                                                 roles={role}).id)
    roles_of: dict[str, Role] = {}
    everyone = [(role, user_id) for role in ROLES for user_id in people[role]]
    for index, (their_role, user_id) in enumerate(everyone):
        link(state, bot_id, user_id, language="en" if index % 50 == 0 else None)
        roles_of[f"c{user_id}-{bot_id}"] = their_role
    outsider = gateway.add_user("not-subscribed", "Не подписан", roles={Role.MANAGER}).id
    link(state, bot_id, outsider, subscribed=False)
    blocked = gateway.add_user("blocked", "Заблокирован", roles={Role.MANAGER}).id
    link(state, bot_id, blocked, status=LinkStatus.BLOCKED)
    assert len(roles_of) == 200

    with state.db.session() as session:
        run_id = request_send(session, last_week(), requested_by=1).id
    assert fan_out_pending(state.db, gateway, state.settings) == 1
    assert fan_out_pending(state.db, gateway, state.settings) == 0  # sent once

    replies = sent_replies(state)
    assert set(replies) == set(roles_of)  # every subscriber, nobody else
    with state.db.session() as session:
        charts = session.scalar(select(func.count()).select_from(StatsChart))
        run = session.get(StatsRun, run_id)
        assert run is not None and run.status == "sent"
        linked = session.scalar(select(func.count()).select_from(StatsRunMessage)
                                .where(StatsRunMessage.run_id == run_id))
    field_workers = {chat for chat, role in roles_of.items() if role is not Role.MANAGER}
    languages = {"ru", "en"}
    # company scope: three metrics in each of two languages; each field worker: the two counted per person
    assert charts == run.renders == 3 * len(languages) + 2 * len(field_workers)
    assert linked == sum(len(r) for r in replies.values()) == 3 * (200 - len(field_workers)) + 2 * len(field_workers)
    assert run.recipients == 200

    company_revenue = gateway.metric_values("revenue", last_week().period.start, last_week().period.end).total
    assert company_revenue > 0
    for chat, role in roles_of.items():
        texts = [r.text for r in replies[chat]]
        assert all(r.chart_key and r.chart_key.startswith("stats-") for r in replies[chat])
        if role is Role.MANAGER:
            assert len(texts) == 3 and any("Выручка" in t or "Revenue" in t for t in texts)
            continue
        assert len(texts) == 2, (role, texts)  # measurements and installations of their own: never revenue
        assert not any("Выручка" in t or "Revenue" in t for t in texts)
        assert all(t.startswith(("📊 Мои показатели", "📊 My figures")) for t in texts)


def test_a_measurer_sees_only_their_own_figures(state: PluginState,
                                                company: tuple[InMemoryGateway, dict[Role, list[int]]]) -> None:
    gateway, people = company
    bot_id = add_bot(state)
    measurer, manager = people[Role.MEASURER][0], people[Role.MANAGER][0]
    link(state, bot_id, measurer)
    link(state, bot_id, manager)
    spec = SendSpec(("measurements_done",), preset_period(Preset.LAST_MONTH, NOW, "Europe/Moscow"))
    with state.db.session() as session:
        request_send(session, spec, requested_by=None)
    fan_out_pending(state.db, gateway, state.settings)
    replies = sent_replies(state)
    period = spec.period
    own = gateway.metric_values("measurements_done", period.start, period.end, employee_id=measurer).total
    everyone = gateway.metric_values("measurements_done", period.start, period.end).total
    assert 0 < own < everyone
    (mine,) = replies[f"c{measurer}-{bot_id}"]
    (theirs,) = replies[f"c{manager}-{bot_id}"]
    assert f"Итого: {int(own)}\n" in mine.text and f"Итого: {int(everyone)}\n" in theirs.text
    assert "По сотрудникам" not in mine.text and "По сотрудникам" in theirs.text  # nobody else's rows
    assert mine.chart_key != theirs.chart_key


def test_audiences_roles_and_people(state: PluginState, company: tuple[InMemoryGateway, dict[Role, list[int]]]) -> None:
    gateway, people = company
    bot_id, web_id = add_bot(state), add_bot(state, Platform.WEB)
    for role in ROLES:
        for user_id in people[role]:
            link(state, bot_id, user_id, subscribed=False)
    installer = people[Role.INSTALLER][0]
    link(state, web_id, installer, subscribed=True)  # trying the bot in the admin's web chat
    period = preset_period(Preset.YESTERDAY, NOW, "Europe/Moscow")
    with state.db.session() as session:
        by_role = recipients(session, gateway, state.settings,
                             SendSpec(METRICS, period, "roles", roles=frozenset({Role.INSTALLER})))
        by_person = recipients(session, gateway, state.settings,
                               SendSpec(METRICS, period, "people", people=frozenset({installer})))
        subscribers = recipients(session, gateway, state.settings, SendSpec(METRICS, period))
    assert sorted(r.crm_user_id for r in by_role) == sorted(people[Role.INSTALLER])
    assert all(r.bot_id == bot_id and r.metrics == ("measurements_done", "installations_done") for r in by_role)
    assert sorted(r.bot_id for r in by_person) == sorted([bot_id, web_id])  # named: the web chat too
    assert subscribers == []  # nobody subscribed but a web-chat trial link


def test_progress_counts_the_runs_outbox_rows(state: PluginState,
                                              company: tuple[InMemoryGateway, dict[Role, list[int]]]) -> None:
    gateway, people = company
    bot_id = add_bot(state)
    for user_id in people[Role.MANAGER]:
        link(state, bot_id, user_id)
    with state.db.session() as session:
        run_id = request_send(session, SendSpec(("revenue",), last_week().period), requested_by=None).id
        waiting = progress(session, run_id)
    assert waiting is not None and waiting.status == "pending" and waiting.total == 0 and not waiting.finished
    fan_out_pending(state.db, gateway, state.settings)
    with state.db.session() as session:
        ids = list(session.scalars(select(StatsRunMessage.message_id).where(StatsRunMessage.run_id == run_id)
                                   .order_by(StatsRunMessage.message_id)))
        queued = progress(session, run_id)
        assert queued is not None and (queued.total, queued.queued, queued.sent, queued.failed) == (3, 3, 0, 0)
        session.execute(update(Message).where(Message.id == ids[0]).values(status=MessageStatus.SENT))
        session.execute(update(Message).where(Message.id == ids[1]).values(status=MessageStatus.FAILED))
        session.execute(update(Message).where(Message.id == ids[2]).values(status=MessageStatus.SENDING))
    with state.db.session() as session:
        partly = progress(session, run_id)
        assert partly is not None and (partly.queued, partly.sent, partly.failed) == (1, 1, 1)
        assert not partly.finished
        session.execute(update(Message).where(Message.id == ids[2]).values(status=MessageStatus.SENT))
    with state.db.session() as session:
        done = progress(session, run_id)
        assert done is not None and (done.queued, done.sent, done.failed) == (0, 2, 1) and done.finished
        assert progress(session, run_id + 1000) is None


def test_a_send_to_nobody_is_finished_with_a_note(state: PluginState,
                                                 company: tuple[InMemoryGateway, dict[Role, list[int]]]) -> None:
    gateway, _ = company
    with state.db.session() as session:
        run_id = request_send(session, last_week(), requested_by=None).id
    fan_out_pending(state.db, gateway, state.settings)
    with state.db.session() as session:
        done = progress(session, run_id)
    assert done is not None and done.finished and done.total == 0 and done.note == "nobody to send to"


def test_the_admin_page_previews_and_only_stores_the_send(app: Flask, state: PluginState) -> None:
    client = admin_client(app)
    html = page(client, "/stats/?metrics=revenue&metrics=leads&period=last_month")
    assert 'data-metric="revenue"' in html and 'data-metric="leads"' in html and "Прошлый месяц" in html
    figures = html.split('id="crm-stats-figures">')[1].split("</script>")[0]
    assert [f["data"][0]["type"] for f in json.loads(figures)] == ["bar", "bar"]
    script = client.get(ADMIN_URL + "/stats/plotly.min.js")
    assert script.status_code == 200 and script.mimetype == "text/javascript" and b"plotly.js v" in script.data[:200]

    typo = page(client, "/stats/?metrics=revenue&period=range&start=2026-13-01&end=2026-11-30")
    assert "Даты в виде ГГГГ-ММ-ДД" in typo
    refused = post(client, "/stats/", {"metrics": ["revenue"], "period": "yesterday", "audience": "roles"},
                   token_from="/stats/?metrics=revenue")
    assert refused.status_code == 200 and "Выберите хотя бы одну роль" in refused.get_data(as_text=True)
    forged = client.post(ADMIN_URL + "/stats/", data={"metrics": ["revenue"], "period": "yesterday"})
    assert "Форма устарела" in forged.get_data(as_text=True)
    with state.db.session() as session:
        assert session.scalar(select(func.count()).select_from(StatsRun)) == 0

    sent = post(client, "/stats/", {"metrics": ["revenue"], "period": "yesterday", "audience": "subscribers"},
                token_from="/stats/?metrics=revenue")
    assert sent.status_code == 302 and "/stats/run/" in sent.headers["Location"]
    with state.db.session() as session:
        run = session.scalars(select(StatsRun)).one()
        assert run.status == "pending" and run.spec["metrics"] == ["revenue"]
        assert session.scalar(select(func.count()).select_from(Message)) == 0  # nothing computed on the request
    assert "crm-run-progress" in page(client, f"/stats/run/{run.id}/")
    progress_json = client.get(ADMIN_URL + f"/stats/run/{run.id}/progress").get_json()
    assert progress_json == {"status": "pending", "total": 0, "queued": 0, "sent": 0, "failed": 0, "recipients": 0,
                             "renders": 0, "note": None, "finished": False, "note_text": ""}
    assert client.get(ADMIN_URL + "/stats/run/999/progress").status_code == 404
    for huge in (2**31, 2**63, 10**20):
        assert client.get(ADMIN_URL + f"/stats/run/{huge}/").status_code == 404
        assert client.get(ADMIN_URL + f"/stats/run/{huge}/progress").status_code == 404
