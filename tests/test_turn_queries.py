"""How many SQL statements a bot turn makes (issue 13): a page of a long job list, a page past its end, an
admin's list of everyone's jobs, and the main menu, on the plugin's engine and the CRM's (the demo gateway) alike.

A turn runs as the worker runs it (crm_plugin.inbound.receive): the sender's link is looked up in the turn's
transaction and handed over in ``Turn.link``, and the clock moves on between messages. Counted is what the bot
does from there until its writes are flushed. The bounds are the counts now; the code before issue 13 read the
link again, asked the CRM for the same user once per job in an admin's list and counted a page past the end
with a statement of its own, and went over each of them.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

from sqlalchemy import event, select

from crm_plugin import bot as conversation
from crm_plugin.bot.turn import Turn
from crm_plugin.core.chat import ButtonPress, Inbound, Sender
from crm_plugin.core.models import Bot, EmployeeLink, LinkStatus
from crm_plugin.demo.models import db
from crm_plugin.host import Role
from tests.bot_helpers import NOW, World, job_buttons, last_text, person


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
