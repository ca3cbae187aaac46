"""Generated requests at every platform's webhook (validly signed) and at the web chat's JSON API: how many
get a 5xx (target: 0), and how many reached the webhook's last resort (a body no parser foresaw: 400 and an
error logged; target: 0).

    python bench/fuzz.py [examples per target] [--database URL]

The bodies are those of tests/test_fuzz_webhooks.py (random JSON, wrong types, huge numbers, NaN, surrogates,
NUL, long strings, deep nesting, mutated real samples); default 10,000 per target on a fresh SQLite file, or on
the PostgreSQL database given (a schema of its own, dropped afterwards).
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import create_engine, text  # noqa: E402

from crm_plugin import get_state  # noqa: E402
from crm_plugin.core.db import normalise_url  # noqa: E402
from crm_plugin.extension import stop  # noqa: E402
from tests.conftest import make_test_app  # noqa: E402
from tests.test_fuzz_webhooks import TARGETS, World, assert_still_working, fuzz  # noqa: E402


def run(database_url: str, examples: int) -> dict[str, Counter[str]]:
    app = make_test_app(database_url)
    app.config["PROPAGATE_EXCEPTIONS"] = False  # an unhandled error is a 500 to count, not a crash of the run
    logging.getLogger("crm_plugin").setLevel(logging.CRITICAL)  # the 400s log warnings: keep the output short
    logging.getLogger("crm_plugin.demo").setLevel(logging.CRITICAL)
    app.logger.setLevel(logging.CRITICAL)
    results: dict[str, Counter[str]] = {}
    try:
        world = World.build(app, get_state(app))
        for target in TARGETS:
            counts: Counter[str] = Counter()

            def count(request: Any, status: int, net: list[logging.LogRecord], counts: Counter[str] = counts) -> None:
                counts[f"{status // 100}xx"] += 1
                counts["last resort"] += bool(net)

            started = time.perf_counter()
            fuzz(world, target, examples, count)
            counts["seconds"] = round(time.perf_counter() - started)
            results[target] = counts
            print(f"{target:9} {_line(counts)}", flush=True)
        assert_still_working(world)
        print("after the fuzz: a normal update on every platform and a web chat text are stored as usual")
    finally:
        stop(app)
    return results


def _line(counts: Counter[str]) -> str:
    total = sum(counts[k] for k in ("2xx", "3xx", "4xx", "5xx"))
    return (f"{total:6} requests: 5xx {counts['5xx']}, last resort {counts['last resort']} "
            f"(2xx {counts['2xx']}, 4xx {counts['4xx']}) in {counts['seconds']} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("examples", type=int, nargs="?", default=10_000, help="examples per target")
    parser.add_argument("--database", help="a PostgreSQL URL (default: a fresh SQLite file)")
    args = parser.parse_args()
    print(f"{args.examples} examples per target on {'PostgreSQL' if args.database else 'SQLite'}")
    if not args.database:
        with tempfile.TemporaryDirectory() as folder:
            results = run(f"sqlite:///{folder}/crm.db", args.examples)
    else:
        schema = f"fuzz_{uuid.uuid4().hex[:12]}"
        admin = create_engine(normalise_url(args.database))
        with admin.begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        try:
            import tests.conftest as conftest
            from tests.conftest import _postgres_schema_url

            conftest.POSTGRES_URL = args.database
            results = run(_postgres_schema_url(schema), args.examples)
        finally:
            with admin.begin() as connection:
                connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.dispose()
    failures = sum(c["5xx"] + c["last resort"] for c in results.values())
    print(f"total 5xx: {sum(c['5xx'] for c in results.values())}")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
