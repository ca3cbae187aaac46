"""Fill the demo CRM's tables with a big company: N workers and M jobs, in bulk (COPY on PostgreSQL, executemany
on SQLite), for bench/joblists.py.

    python bench/seed_jobs.py --database-url sqlite:////tmp/big.db --jobs 1000000 --workers 1000

Workers 0..69 % are measurers with measurement jobs, the rest installers with installation jobs; each worker
gets jobs // workers visits spread from 400 days ago to 60 days ahead. Past visits are done (done_at two hours
after the visit) or, one in ten, cancelled; future ones are scheduled. Orders (and their clients) are shared by
100 jobs each. The tables must exist (the demo's create_all, with its indexes) and be empty.
"""

from __future__ import annotations

import argparse
import logging
import random
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import Engine, create_engine, text

from crm_plugin.core.db import normalise_url
from crm_plugin.host import JobKind, JobStatus, Role

log = logging.getLogger("bench.seed_jobs")

PAST_DAYS, AHEAD_DAYS = 400, 60
JOBS_PER_ORDER = 100
PASSWORD_HASH = "scrypt:32768:8:1$bench$0"  # nobody logs in to the web pages in the benchmark
JOB_COLUMNS = ("id", "kind", "order_id", "status", "scheduled_at", "address", "assignee_id", "done_at",
               "cancelled_at", "updated_at")


def worker_kind(index: int, workers: int) -> JobKind:
    return JobKind.MEASUREMENT if index < workers * 7 // 10 else JobKind.INSTALLATION


def _users(workers: int) -> Iterator[tuple[Any, ...]]:
    for i in range(workers):
        role = Role.MEASURER if worker_kind(i, workers) is JobKind.MEASUREMENT else Role.INSTALLER
        yield (i + 1, f"w{i:04d}", PASSWORD_HASH, f"Работник {i:04d}", True, False, role.value)


def _jobs(jobs: int, workers: int, orders: int, now: datetime, rng: random.Random) -> Iterator[tuple[Any, ...]]:
    span = (PAST_DAYS + AHEAD_DAYS) * 86400
    start = now - timedelta(days=PAST_DAYS)
    for i in range(jobs):
        worker = i % workers
        kind = worker_kind(worker, workers)
        at = start + timedelta(seconds=rng.randrange(span) // 1800 * 1800)  # on the half hour
        done_at = cancelled_at = None
        if at >= now:
            status = JobStatus.SCHEDULED
        elif rng.random() < 0.1:
            status, cancelled_at = JobStatus.CANCELLED, at - timedelta(days=1)
        else:
            status = JobStatus.MEASURED if kind is JobKind.MEASUREMENT else JobStatus.INSTALLED
            done_at = at + timedelta(hours=2)
        yield (i + 1, kind.value, i % orders + 1, status.value, at, f"Казань, ул. Баумана, {i % 97 + 1}",
               worker + 1, done_at, cancelled_at, done_at or cancelled_at or at)


def _copy(engine: Engine, table: str, columns: tuple[str, ...], rows: Iterator[tuple[Any, ...]]) -> None:
    raw = engine.raw_connection()
    try:
        cursor = raw.driver_connection.cursor()  # type: ignore[union-attr]
        with cursor, cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        raw.commit()
    finally:
        raw.close()


def _insert_many(engine: Engine, table: str, columns: tuple[str, ...], rows: Iterator[tuple[Any, ...]]) -> None:
    def stored(value: Any) -> Any:  # the demo's UtcDateTime on SQLite: naive UTC text
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f") if isinstance(value, datetime) \
            else value

    sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        batch: list[tuple[Any, ...]] = []
        for row in rows:
            batch.append(tuple(stored(v) for v in row))
            if len(batch) == 50_000:
                cursor.executemany(sql, batch)
                batch.clear()
        cursor.executemany(sql, batch)
        raw.commit()
    finally:
        raw.close()


def seed(url: str, *, jobs: int, workers: int, now: datetime, random_seed: int = 7) -> dict[str, float]:
    """Bulk-load the rows, then ANALYZE (what autovacuum or ``PRAGMA optimize`` does on a live database)."""
    engine = create_engine(normalise_url(url))
    load = _copy if engine.dialect.name == "postgresql" else _insert_many
    rng = random.Random(random_seed)
    orders = max(1, jobs // JOBS_PER_ORDER)
    started = time.perf_counter()
    load(engine, "demo_users", ("id", "login", "password_hash", "full_name", "active", "is_admin", "roles"),
         _users(workers))
    load(engine, "demo_clients", ("id", "name", "phones", "address", "created_at"),
         ((i + 1, f"Клиент {i}", "+7 917 000-00-00", "Казань", now) for i in range(orders)))
    load(engine, "demo_orders", ("id", "number", "client_id", "amount", "status", "created_at"),
         ((i + 1, f"Б-{i + 1:07d}", i + 1, 50000, "installation", now) for i in range(orders)))
    load(engine, "demo_jobs", JOB_COLUMNS, _jobs(jobs, workers, orders, now, rng))
    loaded = time.perf_counter() - started
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":  # the explicit ids: move the sequences past them
            for table in ("demo_users", "demo_clients", "demo_orders", "demo_jobs"):
                connection.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                        f"(SELECT max(id) FROM {table}))"))
        connection.execute(text("ANALYZE"))
    engine.dispose()
    return {"load_s": loaded, "total_s": time.perf_counter() - started}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--jobs", type=int, default=1_000_000)
    parser.add_argument("--workers", type=int, default=1_000)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    from crm_plugin.demo import create_app, init_db

    init_db(create_app({"SECRET_KEY": "bench", "SQLALCHEMY_DATABASE_URI": args.database_url,
                        "CRM_PLUGIN_WORKER": "external"}))
    took = seed(args.database_url, jobs=args.jobs, workers=args.workers, now=datetime.now(UTC))
    log.info("seeded %d jobs / %d workers in %.1f s (bulk load %.1f s)", args.jobs, args.workers,
             took["total_s"], took["load_s"])


if __name__ == "__main__":
    main()

