"""Shared fixtures: a database per test (SQLite, and PostgreSQL when CRM_PLUGIN_TEST_DATABASE_URL is set),
the demo CRM app with the plugin mounted and migrated, its test client and CLI runner, and the bot tests' world
(tests.bot_helpers.World with one bot)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from crm_plugin import PluginState, get_state
from crm_plugin.core.db import normalise_url


def _redis_database_per_worker() -> None:
    """Under pytest-xdist (`make test` runs two processes) each process gets a Redis database of its own, so
    the rate-limit keys of one test never pace another's. Set before the test modules read the variable."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    url = os.environ.get("CRM_PLUGIN_TEST_REDIS_URL")
    if url and worker.startswith("gw"):
        parsed = make_url(url)
        base = int(parsed.database or 0)
        os.environ["CRM_PLUGIN_TEST_REDIS_URL"] = parsed.set(database=str(base - int(worker[2:]))).render_as_string(
            hide_password=False)


_redis_database_per_worker()
from crm_plugin.extension import stop
from tests.bot_helpers import World


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "browser: drives a real headless Chromium (Playwright); "
                                       "deselect with -m 'not browser'")


POSTGRES_URL = os.environ.get("CRM_PLUGIN_TEST_DATABASE_URL")
BACKENDS = ["sqlite"] + (["postgresql"] if POSTGRES_URL else [])


def pytest_sessionstart(session: pytest.Session) -> None:
    """A database named for the run must be reachable: fail the run rather than skip its tests."""
    if POSTGRES_URL:
        engine = create_engine(normalise_url(POSTGRES_URL))
        try:
            with engine.connect() as connection:
                connection.execute(text("select 1"))
        except Exception as error:  # noqa: BLE001
            pytest.exit(f"CRM_PLUGIN_TEST_DATABASE_URL={POSTGRES_URL} is unreachable: {error}", returncode=3)
        finally:
            engine.dispose()


def _postgres_schema_url(schema: str) -> str:
    # Each test gets a schema of its own, so parallel runs and sessions never see each other's rows.
    url = make_url(normalise_url(POSTGRES_URL or ""))
    return url.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(hide_password=False)


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'crm.db'}"
        return
    schema = f"t_{uuid.uuid4().hex[:16]}"
    admin = create_engine(normalise_url(POSTGRES_URL or ""))
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield _postgres_schema_url(schema)
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def make_test_app(database_url: str, **config: object) -> Flask:
    from crm_plugin.demo import create_app, init_db

    app = create_app({
        "TESTING": True,
        "SECRET_KEY": "test-secret",
        "SQLALCHEMY_DATABASE_URI": database_url,
        "CRM_PLUGIN_WORKER": "external",  # tests start workers themselves
        "WTF_CSRF_ENABLED": False,
        **config,
    })
    init_db(app)
    _APPS.append(app)
    return app


_APPS: list[Flask] = []  # every app a test made: their connections are closed after the test


@pytest.fixture(autouse=True)
def _close_connections() -> Iterator[None]:
    """Close the pooled connections of the apps this test made (the demo CRM's engine and the plugin's):
    an app lives on in reference cycles until the garbage collector runs, and meanwhile its idle connections
    would count against PostgreSQL's max_connections. Disposed engines stay usable: a module-scoped app just
    opens new connections."""
    yield
    from crm_plugin.demo.models import db

    while _APPS:
        app = _APPS.pop()
        with app.app_context():
            for engine in db.engines.values():
                engine.dispose()
        get_state(app).db.dispose()


@pytest.fixture
def app(database_url: str) -> Iterator[Flask]:
    app = make_test_app(database_url)
    yield app
    stop(app)


@pytest.fixture
def state(app: Flask) -> PluginState:
    return get_state(app)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> FlaskCliRunner:
    return app.test_cli_runner()


@pytest.fixture
def world(app: Flask) -> World:
    """The bot tests' world: the demo CRM with one Telegram bot, turns run as the worker runs them."""
    world = World(app)
    world.add_bot()
    return world
