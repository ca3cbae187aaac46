"""Bot list turns at 1,000,000 jobs / 1,000 workers: «Предстоящие» and «Выполненные», the first page and a later
one, each a whole bot turn (the button press stored, the CRM asked for one page and its count, the reply
stored) in one transaction, as the worker runs it (inbound.receive: the sender's link looked up in the turn's
transaction and handed to the bot, the clock read at the turn, so the link's last message time is written).

    python bench/joblists.py                                  # temporary SQLite file
    python bench/joblists.py --database-url postgresql://postgres@127.0.0.1:5432/test   # a schema of its own

The demo CRM's tables are seeded in bulk by bench/seed_jobs.py (COPY / executemany, then ANALYZE). Workers are
bound through the bot's real path (login, then the code the CRM delivered). Printed per list and page: p50 / p99
of the turn in ms and the SQL statements per turn (the plugin's and the CRM's), the same for the main menu (a
turn with no list: the floor), and the seeding time. Target (issue 13): p99 under 20 ms on both databases.
A smaller run with the same lists per worker: --jobs 100000 --workers 100 (1,000 jobs each, as at full size).
"""

from __future__ import annotations

import argparse
import itertools
import logging
import random
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import event, select

from bench.broadcast import database
from bench.seed_jobs import seed, worker_kind
from crm_plugin import bot as conversation
from crm_plugin import get_state
from crm_plugin.bot.payloads import Menu
from crm_plugin.bot.turn import Turn
from crm_plugin.core.chat import ButtonPress, Event, Inbound, Sender, Text, TextReply
from crm_plugin.core.models import Bot, EmployeeLink, Platform
from crm_plugin.host import JobKind

log = logging.getLogger("bench.joblists")

CASES = (("upcoming", 0), ("upcoming", 3), ("done", 0), ("done", 3))


def _turn(app: Any, bot_id: int, sender: Sender, event: Event) -> Turn:
    state = get_state(app)
    with app.app_context(), state.db.session() as session:
        link = session.scalars(select(EmployeeLink).where(EmployeeLink.bot_id == bot_id,
                                                          EmployeeLink.platform_user_id == sender.user_id)).first()
        bot = session.get(Bot, bot_id)
        assert bot is not None
        turn = Turn(session=session, gateway=state.gateway, bot=bot,
                    inbound=Inbound(sender, event), settings=state.settings, download=lambda ref: b"",
                    now=datetime.now(UTC), link=link)
        conversation.handle(turn)
    return turn


def _bind(app: Any, bot_id: int, sender: Sender, login: str) -> None:
    from crm_plugin.demo.models import LoginCode, User, db

    _turn(app, bot_id, sender, Text(login))
    with app.app_context():
        user_id = db.session.scalar(select(User.id).where(User.login == login))
        code = db.session.scalar(select(LoginCode.code).where(LoginCode.user_id == user_id)
                                 .order_by(LoginCode.id.desc()))
    _turn(app, bot_id, sender, Text(str(code)))


def _count_statements(app: Any) -> list[int]:
    """A counter of the SQL statements run on the plugin's engine and the CRM's (one cell, read and reset)."""
    from crm_plugin.demo.models import db

    counter = [0]

    def count(*_args: Any) -> None:
        counter[0] += 1

    with app.app_context():
        engines = {get_state(app).db.engine, db.engine}
    for engine in engines:
        event.listen(engine, "before_cursor_execute", count)
    return counter


def run(database_url: str | None, jobs: int, workers: int, people: int, turns: int) -> dict[str, Any]:
    from crm_plugin.demo import create_app, init_db

    now = datetime.now(UTC)
    with database(database_url) as url:
        app = create_app({"SECRET_KEY": "bench", "SQLALCHEMY_DATABASE_URI": url, "CRM_PLUGIN_WORKER": "external"})
        init_db(app)
        seeded = seed(url, jobs=jobs, workers=workers, now=now)
        state = get_state(app)
        with state.db.session() as session:
            bot = Bot(platform=Platform.TELEGRAM, name="bench", credentials_encrypted=state.secrets.seal({"token": "1:b"}))
            session.add(bot)
            session.commit()
            bot_id = bot.id
        rng = random.Random(3)
        chosen = rng.sample(range(workers), people)
        senders = []
        for n, index in enumerate(chosen):
            sender = Sender(user_id=str(10_000 + n), chat_id=str(10_000 + n), name=f"w{index}", language="ru")
            _bind(app, bot_id, sender, f"w{index:04d}")
            code = "me" if worker_kind(index, workers) is JobKind.MEASUREMENT else "in"
            senders.append((sender, code))
        results: dict[str, Any] = {"seed_s": seeded["total_s"]}
        statements = _count_statements(app)
        for period, page in (*CASES, ("menu", 0)):
            timings = []
            statements[0] = 0
            for (sender, code), _ in zip(itertools.cycle(senders), range(turns), strict=False):
                payload = Menu().pack() if period == "menu" else f"list:{code}:{period}:{page}"
                started = time.perf_counter()
                turn = _turn(app, bot_id, sender, ButtonPress(payload))
                timings.append((time.perf_counter() - started) * 1000)
                shown = [r.text for r in turn.sent if isinstance(r, TextReply)]
                assert shown and (period == "menu" or "стр. " in shown[-1]), f"not a page of a long list: {shown}"
            timings.sort()
            results[f"{period} p{page + 1}"] = (statistics.median(timings), timings[int(len(timings) * 0.99) - 1],
                                               statements[0] / turns)
        return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", help="PostgreSQL to run on (a schema of its own, dropped after)")
    parser.add_argument("--jobs", type=int, default=1_000_000)
    parser.add_argument("--workers", type=int, default=1_000)
    parser.add_argument("--people", type=int, default=20, help="workers bound to the bot and taking turns")
    parser.add_argument("--turns", type=int, default=400, help="turns per list and page")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    results = run(args.database_url, args.jobs, args.workers, args.people, args.turns)
    where = "PostgreSQL" if args.database_url else "SQLite"
    print(f"job lists on {where}: {args.jobs:,} jobs / {args.workers:,} workers, seeded in {results['seed_s']:.1f} s")
    for period, page in CASES:
        p50, p99, sql = results[f"{period} p{page + 1}"]
        print(f"  {period:9s} page {page + 1}: p50 {p50:6.2f} ms  p99 {p99:6.2f} ms  {sql:4.1f} SQL statements "
              f"({args.turns} turns)")
    p50, p99, sql = results["menu p1"]
    print(f"  the menu (no list, the floor of any turn): p50 {p50:6.2f} ms  p99 {p99:6.2f} ms  "
          f"{sql:4.1f} SQL statements")


if __name__ == "__main__":
    main()
