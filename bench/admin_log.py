"""How fast the admin's message log lists 100 000 rows on SQLite (the embedded default).

    python bench/admin_log.py [rows]

Fills a fresh database through the plugin's own tables, logs in as a CRM admin through the demo's login, and
times each list page (median of a few requests, the whole Flask-Admin page render included).
"""

from __future__ import annotations

import logging
import random
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import insert  # noqa: E402

from crm_plugin import get_state  # noqa: E402
from crm_plugin.core.models import Bot, Direction, EmployeeLink, LinkStatus, Message, MessageStatus, Platform  # noqa: E402
from tests.admin_helpers import add_user, login  # noqa: E402
from tests.conftest import make_test_app  # noqa: E402

log = logging.getLogger("bench.admin_log")
REPEAT = 5


def fill(state: object, rows: int, users: list[int]) -> None:
    rng = random.Random(7)
    now = datetime.now(timezone.utc)
    with state.db.session() as session:  # type: ignore[attr-defined]
        sealed = state.secrets.seal({"token": "1:x"})  # type: ignore[attr-defined]
        bots = [Bot(platform=Platform.TELEGRAM, name=f"Бот {i}", credentials_encrypted=sealed) for i in range(3)]
        session.add_all(bots)
        session.flush()
        links = [EmployeeLink(bot_id=bots[i % 3].id, crm_user_id=user, platform_user_id=str(1000 + i),
                              chat_id=str(1000 + i), status=LinkStatus.BOUND) for i, user in enumerate(users)]
        session.add_all(links)
        session.flush()
        statuses = [MessageStatus.SENT] * 90 + [MessageStatus.HANDLED] * 8 + [MessageStatus.FAILED] * 2
        batch = []
        for i in range(rows):
            link = links[i % len(links)]
            status = rng.choice(statuses)
            batch.append({
                "bot_id": link.bot_id, "chat_id": link.chat_id, "link_id": link.id,
                "direction": Direction.IN if status is MessageStatus.HANDLED else Direction.OUT, "kind": "text",
                "preview": f"Заявка {i}: замер на ул. Баумана, {i % 200}", "payload": {}, "status": status,
                "attempts": 5 if status is MessageStatus.FAILED else 1,
                "error": "Telegram sendMessage: 502 Bad Gateway" if status is MessageStatus.FAILED else None,
                "created_at": now - timedelta(minutes=rows - i),
            })
            if len(batch) == 5000:
                session.execute(insert(Message), batch)
                batch = []
        if batch:
            session.execute(insert(Message), batch)


def main(rows: int = 100_000) -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    with tempfile.TemporaryDirectory() as tmp:
        app = make_test_app(f"sqlite:///{tmp}/crm.db")
        state = get_state(app)
        add_user(app, "boss", admin=True)
        users = [add_user(app, f"worker{i}") for i in range(30)]
        started = time.perf_counter()
        fill(state, rows, users)
        log.info("filled %s messages in %.1f s", rows, time.perf_counter() - started)
        client = app.test_client()
        login(client, "boss")
        today = datetime.now(timezone.utc).date()
        pages = {
            "first page": "",
            "page 1000 (offset 50 000)": "?page=1000",
            "status = failed": "?flt0_status=failed",
            "bot + period": f"?flt0_bot=2&flt1_period={today - timedelta(days=30)}+to+{today}",
            "employee": "?flt0_employee=5",
            "search in preview": "?search=Баумана,+199",
        }
        for name, query in pages.items():
            times = []
            for _ in range(REPEAT):
                started = time.perf_counter()
                response = client.get("/admin/crm-plugin/messages/" + query)
                times.append(time.perf_counter() - started)
                assert response.status_code == 200, response.status_code
            log.info("%-28s median %6.1f ms (min %.1f)", name, statistics.median(times) * 1000, min(times) * 1000)
        state.db.dispose()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000)
