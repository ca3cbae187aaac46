"""How many SQL statements a bot turn makes (issue 13): a page of a long job list, a page past its end, an
admin's list of everyone's jobs, and the main menu, on the plugin's engine and the CRM's (the demo gateway) alike.

A turn runs as the worker runs it (crm_plugin.inbound.receive): the sender's link is looked up in the turn's
transaction and handed over in ``Turn.link``, and the clock moves on between messages. Counted is what the bot
does from there until its writes are flushed. The bounds are the counts now; the code before issue 13 read the
link again, asked the CRM for the same user once per job in an admin's list and counted a page past the end
with a statement of its own, and went over each of them.

A stranger's text (every update of bench/ingest.py) is counted whole, from the stored row to the commit, as
inbound.receive runs it: the link nobody has is looked up once, the new chat state written once.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event, select

from crm_plugin import bot as conversation
from crm_plugin.bot.keyboards import SHOWN_KEY
from crm_plugin.bot.turn import Turn
from crm_plugin.core.chat import ButtonKind, ButtonPress, Event, Inbound, Sender, Text, reply_from_dict
from crm_plugin.core.models import Bot, ChatState, EmployeeLink, LinkStatus, Message, MessageStatus
from crm_plugin.delivery.outbox import log_inbound
from crm_plugin.demo.models import db
from crm_plugin.host import Role
from crm_plugin.inbound import handle_received, receive
from tests.bot_helpers import NOW, World, job_buttons, last_text, link_of, person


@contextmanager
def statements(world: World) -> Iterator[list[str]]:
    """The SQL statements run on either engine while the block runs."""
    seen: list[str] = []

    def record(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        seen.append(" ".join(statement.split()))

    with world.app.app_context():
        engines = {world.state.db.engine, db.engine}
    for engine in engines:
        event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        for engine in engines:
            event.remove(engine, "before_cursor_execute", record)


def worker_turn(world: World, sender: Sender, payload: str, now: datetime) -> tuple[Turn, list[str]]:
    """One button press as the worker handles it; returns the turn and the statements the bot ran."""
    with world.app.app_context(), world.state.db.session() as session:
        link = session.scalars(select(EmployeeLink).where(EmployeeLink.bot_id == world.bot_id,
                                                          EmployeeLink.platform_user_id == sender.user_id)).first()
        bot = session.get(Bot, world.bot_id)
        assert bot is not None
        turn = Turn(session=session, gateway=world.state.gateway, bot=bot,
                    inbound=Inbound(sender, ButtonPress(payload)), settings=world.state.settings,
                    download=world.download, now=now, link=link)
        with statements(world) as seen:
            conversation.handle(turn)
            session.flush()
    return turn, seen


def reads_of(seen: list[str], table: str) -> int:
    return sum(1 for s in seen if s.startswith("SELECT") and f"FROM {table} " in f"{s} ")


def writes_of(seen: list[str], verb: str, table: str) -> int:
    return sum(1 for s in seen if s.startswith(f"{verb} ") and f" {table} " in f"{s} ")


def stored_turn(world: World, sender: Sender, event: Event) -> tuple[Message, list[str]]:
    """An event stored as the webhook stores it (no link yet) and handled as the worker handles it
    (inbound.receive.handle_received); returns the row afterwards and the plugin's statements of the turn."""
    with world.state.db.session() as session:
        row = log_inbound(session, bot_id=world.bot_id, inbound=Inbound(sender, event))
        session.flush()
        message_id = row.id
    with statements(world) as seen, world.app.app_context():
        assert handle_received(world.state, message_id)
    with world.state.db.session() as session:
        stored = session.get(Message, message_id)
        assert stored is not None
        session.expunge(stored)
    return stored, [s for s in seen if "crm_plugin_" in s]  # BEGIN and the CRM's own reads aside


def measurer_with_jobs(world: World, count: int) -> tuple[Sender, list[int]]:
    me = world.user("me", Role.MEASURER)
    ids = [world.job(at=NOW + timedelta(days=1, hours=i), assignee=me) for i in range(count)]
    sender = person()
    world.bind(sender, "me")
    return sender, ids


def test_a_list_page_is_five_statements(world: World) -> None:
    """The CRM user, the link's last message time, the chat's state, the page with its total, the reply."""
    sender, ids = measurer_with_jobs(world, 20)
    worker_turn(world, sender, "list:me:upcoming:1", NOW + timedelta(minutes=1))
    turn, seen = worker_turn(world, sender, "list:me:upcoming:1", NOW + timedelta(minutes=2))
    assert job_buttons(turn) == ids[8:16] and "стр. 2/3" in last_text(turn)
    assert len(seen) <= 5, seen
    assert reads_of(seen, "crm_plugin_employee_links") == 0, "the link the worker handed over is read again"
    assert reads_of(seen, "demo_users") == 1
    assert sum(1 for s in seen if "demo_jobs" in s) == 1, "the page and its total are one statement"


def test_a_page_past_the_end_reads_the_total_with_the_page(world: World) -> None:
    """The list shrank under an old ◀/▶ button: the empty page brings the total, then the last page is read."""
    sender, ids = measurer_with_jobs(world, 10)
    turn, seen = worker_turn(world, sender, "list:me:upcoming:7", NOW + timedelta(minutes=1))
    assert job_buttons(turn) == ids[8:] and "стр. 2/2" in last_text(turn)
    assert sum(1 for s in seen if "demo_jobs" in s) == 2, seen  # the page past the end, then the last one
    assert len(seen) <= 7, seen


def test_an_admins_list_asks_the_crm_once_per_assignee(world: World) -> None:
    """Everyone's jobs with their assignees' names: each CRM user is read once however many jobs they have."""
    world.user("boss", admin=True)
    workers = [world.user(f"w{i}", Role.MEASURER) for i in range(2)]
    for hour in range(8):
        world.job(at=NOW + timedelta(days=1, hours=hour), assignee=workers[hour % 2])
    sender = person()
    world.bind(sender, "boss")
    turn, seen = worker_turn(world, sender, "list:me:upcoming:0", NOW + timedelta(minutes=1))
    assert len(job_buttons(turn)) == 8 and "W0 И." in last_text(turn) and "W1 И." in last_text(turn)
    assert reads_of(seen, "demo_users") == 3, seen  # the admin, and each of the two assignees once


def test_the_menu_is_five_statements(world: World) -> None:
    """The CRM user, the link's last message time, the chat's state, the statistics rights, the reply."""
    sender, _ = measurer_with_jobs(world, 1)
    worker_turn(world, sender, "menu", NOW + timedelta(minutes=1))
    turn, seen = worker_turn(world, sender, "menu", NOW + timedelta(minutes=2))
    assert "Меню" in last_text(turn)
    assert len(seen) <= 5, seen
    assert reads_of(seen, "crm_plugin_employee_links") == 0 and reads_of(seen, "demo_users") == 1


def test_the_link_is_read_once_when_the_caller_did_not(world: World) -> None:
    """A caller that hands no link over (the admin's tools, the tests' world) gets it read, once."""
    sender, _ = measurer_with_jobs(world, 1)
    with statements(world) as seen:
        turn = world.press(sender, "menu", now=NOW + timedelta(minutes=1))
    assert turn.link is not None and turn.link.last_message_at == NOW + timedelta(minutes=1)
    assert reads_of(seen, "crm_plugin_employee_links") == 1, seen


def test_a_blocked_link_handed_over_is_still_refused(world: World) -> None:
    """The handed-over row is taken as it is: its status decides, as a row read in the turn would."""
    sender, _ = measurer_with_jobs(world, 1)
    with world.state.db.session() as session:
        session.scalars(select(EmployeeLink).where(EmployeeLink.platform_user_id == sender.user_id)).one().status = \
            LinkStatus.BLOCKED
    turn, seen = worker_turn(world, sender, "menu", NOW + timedelta(minutes=1))
    assert "заблокировал" in last_text(turn) and reads_of(seen, "demo_users") == 0


def test_a_strangers_text_is_seven_statements(world: World) -> None:
    """The webhook bench's every update: someone unknown types something that is no login. The row with its bot,
    the row's status in the turn, the link (looked up once: nobody), the chat's state (none), then one INSERT of
    the new chat state with what the turn put in it, the reply, the row HANDLED."""
    sender = person()
    row, seen = stored_turn(world, sender, Text("Сидоров"))
    assert (row.status, row.link_id, row.claimed_by, row.claimed_until) == (MessageStatus.HANDLED, None, None, None)
    [reply] = world.outbox(sender.chat_id)
    sent = reply_from_dict(reply.payload)
    assert "Не нашёл действующего сотрудника" in reply.preview and "Сидоров" in reply.preview
    assert [[b.kind for b in r] for r in sent.buttons] == [[ButtonKind.REQUEST_CONTACT]]  # type: ignore[union-attr]
    with world.state.db.session() as session:
        chat = session.get(ChatState, (world.bot_id, sender.chat_id))
        assert chat is not None and chat.state == ""
        assert chat.data[SHOWN_KEY] is True and len(chat.data["_identity_tries"]) == 1
    assert reads_of(seen, "crm_plugin_employee_links") == 1, "the link nobody has is read again"
    assert reads_of(seen, "crm_plugin_bots") == 0, "the bot is read with the row, in one statement"
    assert writes_of(seen, "INSERT INTO", "crm_plugin_chat_states") == 1
    assert writes_of(seen, "UPDATE", "crm_plugin_chat_states") == 0, "the new chat state is written twice"
    assert writes_of(seen, "UPDATE", "crm_plugin_messages") == 1
    assert len(seen) <= 7, seen


def test_a_strangers_next_text_updates_the_chat_state_it_locked(world: World) -> None:
    """The chat has its row now: read with a lock and updated once; the count of tries goes on."""
    sender = person()
    stored_turn(world, sender, Text("Сидоров"))
    row, seen = stored_turn(world, sender, Text("Петров"))
    assert row.status is MessageStatus.HANDLED and row.link_id is None
    with world.state.db.session() as session:
        chat = session.get(ChatState, (world.bot_id, sender.chat_id))
        assert chat is not None and len(chat.data["_identity_tries"]) == 2 and chat.data[SHOWN_KEY] is True
    assert writes_of(seen, "INSERT INTO", "crm_plugin_chat_states") == 0
    assert writes_of(seen, "UPDATE", "crm_plugin_chat_states") == 1
    assert reads_of(seen, "crm_plugin_employee_links") == 1
    assert len(seen) <= 7, seen


def test_an_employees_text_files_the_row_under_their_link(world: World) -> None:
    """The worker's lookup finds the employee: the row's link_id is set with its status, the link read once."""
    sender, _ = measurer_with_jobs(world, 1)
    link = link_of(world, sender)
    assert link is not None
    row, seen = stored_turn(world, sender, Text("меню"))
    assert (row.status, row.link_id) == (MessageStatus.HANDLED, link.id)
    assert reads_of(seen, "crm_plugin_employee_links") == 1
    assert any("Меню" in m.preview for m in world.outbox(sender.chat_id))


def test_a_row_settled_meanwhile_is_not_handled_again(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """Settled between the worker's first read and the turn's transaction: no turn, no reply, left as it is."""
    sender = person()
    with world.state.db.session() as session:
        row = log_inbound(session, bot_id=world.bot_id, inbound=Inbound(sender, Text("Сидоров")))
        session.flush()
        message_id = row.id
    real = receive.prefetch

    def settled_first(*args: Any, **kwargs: Any) -> Any:
        with world.state.db.session() as session:
            session.get(Message, message_id).status = MessageStatus.FAILED  # type: ignore[union-attr]
        return real(*args, **kwargs)

    monkeypatch.setattr(receive, "prefetch", settled_first)
    with world.app.app_context():
        assert receive.handle_received(world.state, message_id) is False
    assert world.outbox(sender.chat_id) == []
    with world.state.db.session() as session:
        assert session.get(Message, message_id).status is MessageStatus.FAILED  # type: ignore[union-attr]


def test_a_row_stored_with_a_link_keeps_it_when_the_turn_ends_with_none(world: World) -> None:
    """A pending link (an admin prepared it) makes no member: the turn ends with no link, and the row keeps the
    link_id it was stored with (the admin's log still shows whose message it was)."""
    sender, _ = measurer_with_jobs(world, 1)
    with world.state.db.session() as session:
        link = session.scalars(select(EmployeeLink).where(EmployeeLink.platform_user_id == sender.user_id)).one()
        link.status = LinkStatus.PENDING
        link_id = link.id
        row = log_inbound(session, bot_id=world.bot_id, inbound=Inbound(sender, Text("Сидоров")), link_id=link_id)
        session.flush()
        message_id = row.id
    with world.app.app_context():
        assert handle_received(world.state, message_id)
    with world.state.db.session() as session:
        stored = session.get(Message, message_id)
        assert stored is not None and (stored.status, stored.link_id) == (MessageStatus.HANDLED, link_id)
    assert any("Не нашёл действующего сотрудника" in m.preview for m in world.outbox(sender.chat_id))
