"""The admin tab under many generated requests: how many of them answer 5xx (target: 0).

    python bench/fuzz_admin.py [examples per target, default 10000] [database URL, default a new SQLite file]

The targets and their strategies are tests/test_fuzz_admin.py's (list pages with filters, record and other
pages, form posts), logged in as an admin. Unlike the test, a 5xx does not stop the run: each is counted and the
first few are printed. A PostgreSQL URL gets a schema of its own, dropped at the end.
"""

from __future__ import annotations

import logging
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from crm_plugin.core.db import normalise_url  # noqa: E402
from crm_plugin.extension import stop  # noqa: E402
from tests.conftest import make_test_app  # noqa: E402
from tests.test_fuzz_admin import TARGETS, fuzz, prepare  # noqa: E402

SHOWN = 3


def run_target(name: str, url: str, examples: int) -> tuple[int, int, float]:
    app = make_test_app(url)
    app.config["PROPAGATE_EXCEPTIONS"] = False  # an exception is a 500 to count, as in production
    failures: list[str] = []
    sent = 0

    def count(what: str, response: Any) -> None:
        nonlocal sent
        sent += 1
        if response.status_code >= 500:
            failures.append(what)
            if len(failures) <= SHOWN:
                print(f"  {response.status_code}: {what[:300]!r}")

    try:
        target = prepare(app, app.test_client())
        started = time.perf_counter()
        fuzz(name, target, examples, count)
    finally:
        stop(app)
    return sent, len(failures), time.perf_counter() - started


def main() -> None:
    logging.disable(logging.CRITICAL)  # a refused platform or a flashed form error logs; only the answers count
    examples = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    given_url = sys.argv[2] if len(sys.argv) > 2 else None
    for name in sorted(TARGETS):
        with tempfile.TemporaryDirectory() as tmp:
            schema, url = None, given_url or f"sqlite:///{tmp}/crm.db"
            if url.startswith("postgresql"):
                schema = f"fuzz_{uuid.uuid4().hex[:12]}"
                admin = create_engine(normalise_url(url))
                with admin.begin() as connection:
                    connection.execute(text(f'CREATE SCHEMA "{schema}"'))
                url = make_url(normalise_url(url)).update_query_dict(
                    {"options": f"-csearch_path={schema}"}).render_as_string(hide_password=False)
            try:
                sent, failed, seconds = run_target(name, url, examples)
            finally:
                if schema:
                    with admin.begin() as connection:
                        connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
                    admin.dispose()
        print(f"{name}: {failed} answers 5xx out of {sent} ({seconds:.0f} s, {sent / seconds:.0f} requests/s)")


if __name__ == "__main__":
    main()
