"""What one webhook request and one bot turn cost, in-process: CPU time and SQL statements each.

    python bench/request_cost.py                                   # temporary SQLite
    python bench/request_cost.py --database-url postgresql://postgres@127.0.0.1:5432/test

CPU time (``time.process_time``) holds on a loaded machine where wall-clock figures do not, so it shows what a
change to the request path or the turn saves. The webhook is Flask's test client posting Telegram updates (a
stranger's text, as in bench/ingest.py) to the product's route; the turns are ``handle_received`` on the stored
rows, the demo CRM answering. Statements are the plugin's own (its engine), by their first words.
"""

from __future__ import annotations

import argparse
import collections
import json
import logging
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import event, select  # noqa: E402

from bench.broadcast import database  # noqa: E402
from crm_plugin import get_state  # noqa: E402
from crm_plugin.core.models import Bot, Message, MessageStatus, Platform  # noqa: E402
from crm_plugin.inbound.receive import handle_received  # noqa: E402

log = logging.getLogger("bench.request_cost")

WARM_UP = 20


def _update(n: int) -> bytes:
    user = {"id": 700_000 + n, "is_bot": False, "first_name": "Нагрузка", "language_code": "ru"}
    return json.dumps({"update_id": 10_000 + n, "message": {
        "message_id": n + 1, "from": user, "chat": {"id": user["id"], "type": "private", "first_name": "Нагрузка"},
        "date": int(time.time()), "text": f"привет {n}"}}).encode()


def _statement_kind(statement: str) -> str:
    words = statement.split()
    table = next((w for w in words[1:6] if w.startswith("crm_plugin_")), "")
    return f"{words[0]} {table.split('.')[0]}".strip()


def run(database_url: str | None, count: int) -> dict[str, Any]:
    from crm_plugin.demo import create_app, init_db

    figures: dict[str, Any] = {}
    with database(database_url) as url:
        app = create_app({"SECRET_KEY": "bench", "SQLALCHEMY_DATABASE_URI": url, "CRM_PLUGIN_WORKER": "external",
                          "CRM_PLUGIN_TELEGRAM_API_URL": "http://127.0.0.1:9/"})  # nothing is sent
        init_db(app)
        state = get_state(app)
        with state.db.session() as session:
            bot = Bot(platform=Platform.TELEGRAM, name="cost", webhook_secret="secret",
                      credentials_encrypted=state.secrets.seal({"token": "5:cost"}))
            session.add(bot)
            session.flush()
            bot_id = bot.id
        statements: collections.Counter[str] = collections.Counter()
        event.listen(state.db.engine, "before_cursor_execute",
                     lambda _c, _cur, statement, *_rest: statements.update([_statement_kind(statement)]))
        client = app.test_client()
        headers = {"X-Telegram-Bot-Api-Secret-Token": "secret", "Content-Type": "application/json"}

        def post(n: int) -> None:
            response = client.post(f"/crm-plugin/webhook/{bot_id}", data=_update(n), headers=headers)
            assert response.status_code == 200, response.status_code

        for n in range(WARM_UP):
            post(n)
        figures["webhook"] = _measure(statements, count, lambda n: post(WARM_UP + n))
        with state.db.session() as session:
            rows = list(session.scalars(select(Message.id).where(Message.status == MessageStatus.RECEIVED)
                                        .order_by(Message.id)))
        with app.app_context():
            for message_id in rows[:WARM_UP]:
                handle_received(state, message_id)
            figures["turn"] = _measure(statements, len(rows) - WARM_UP,
                                       lambda n: handle_received(state, rows[WARM_UP + n]))
        state.db.dispose()
    return figures


def _measure(statements: collections.Counter[str], count: int, one: Any) -> dict[str, Any]:
    statements.clear()
    cpu, wall = time.process_time(), time.perf_counter()
    for n in range(count):
        one(n)
    return {"cpu_ms": (time.process_time() - cpu) / count * 1000,
            "wall_ms": (time.perf_counter() - wall) / count * 1000,
            "statements": {kind: seen / count for kind, seen in statements.most_common()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", help="PostgreSQL (a schema of its own, dropped after); default: SQLite")
    parser.add_argument("--count", type=int, default=300, help="webhook requests, then as many turns")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    log.setLevel(logging.INFO)
    figures = run(args.database_url, args.count)
    log.info("cost in-process, %s, %d of each", "PostgreSQL" if args.database_url else "SQLite", args.count)
    for name, what in (("webhook", "a webhook request (stored, not yet handled)"), ("turn", "a bot turn")):
        f = figures[name]
        log.info("%s: CPU %.2f ms, wall %.2f ms, %.1f statements", what, f["cpu_ms"], f["wall_ms"],
                 sum(f["statements"].values()))
        for kind, per in f["statements"].items():
            log.info("    %5.2f  %s", per, kind)


if __name__ == "__main__":
    main()
