"""The plugin in a CRM written from scratch (not the demo), mounted as README says and nothing more.

The host: its own Flask-SQLAlchemy model (a users table), Flask-Login, Flask-Admin with its own ModelView,
Flask-Migrate, a global ``CSRFProtect(app)`` with default settings, no Flask-Babel, and a gateway that reads
its users. It saves a bot through the plugin's admin form with nothing exempted, keeps serving its own pages
while the plugin's tables are missing, gets an empty autogenerate with the shipped filter, and uninstalls
the plugin with its own data untouched.

"No Flask-Babel" means not installed: when Flask-Babel is importable, Flask-Admin itself needs ``Babel(app)``
on every host. This Python has it for the demo, so ``test_in_a_python_without_flask_babel`` runs this module
again in a Python that cannot import it; there the shared conftest (it boots the demo, which uses Flask-Babel)
is left out, and the database fixture below stands in for its ``database_url``.
"""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import flask_login
import flask_migrate
import pytest
from alembic.autogenerate import produce_migrations
from alembic.operations import ops
from alembic.runtime.migration import MigrationContext
from flask import Flask, has_request_context, redirect, render_template_string, request, url_for
from flask.testing import FlaskClient
from flask_admin import Admin, AdminIndexView
from flask_admin.contrib.sqla import ModelView
from flask_login import LoginManager, UserMixin, login_user
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy import String, create_engine, inspect, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from werkzeug.security import check_password_hash, generate_password_hash

from crm_plugin import CrmPlugin, PluginStartupError, get_state
from crm_plugin.alembic_filter import include_name, include_object
from crm_plugin.core.db import normalise_url
from crm_plugin.core.models import AccessGrant, Bot
from crm_plugin.extension import stop
from crm_plugin.host import Role, User
from crm_plugin.loader import PluginRegistry
from crm_plugin.testing import InMemoryGateway
from tests.fakes.telegram import FakeTelegram


def _importable(name: str) -> bool:
    try:
        __import__(name)
    except ImportError:
        return False
    return True


BABEL_INSTALLED = _importable("flask_babel")
without_babel = pytest.mark.skipif(BABEL_INSTALLED, reason="Flask-Babel is installed here (the demo's extra); "
                                   "test_in_a_python_without_flask_babel runs these in a Python without it")
REPO = Path(__file__).resolve().parents[1]
POSTGRES_URL = os.environ.get("CRM_PLUGIN_TEST_DATABASE_URL")
PASSWORD = "host-secret-pw"
PLUGIN_ADMIN = "/admin/crm-plugin"


# --- the host CRM -----------------------------------------------------------------------------------------

class Base(DeclarativeBase):
    pass


db = SQLAlchemy(model_class=Base)


class Account(UserMixin, db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    login: Mapped[str] = mapped_column(String(80), unique=True)
    full_name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(300))
    is_admin: Mapped[bool] = mapped_column(default=False)
    active: Mapped[bool] = mapped_column(default=True)


class HostGateway(InMemoryGateway):
    """Jobs and leads in memory; the users are the host's own rows, the current one from Flask-Login."""

    def current_user(self) -> User | None:
        if not has_request_context() or not flask_login.current_user.is_authenticated:
            return None
        return _as_user(flask_login.current_user)

    def get_user(self, user_id: int) -> User | None:
        account = db.session.get(Account, user_id)
        return _as_user(account) if account is not None else None

    def list_users(self, *, active_only: bool = True, role: Role | None = None) -> list[User]:
        users = [_as_user(a) for a in db.session.scalars(select(Account).order_by(Account.full_name))]
        return [u for u in users if (u.active or not active_only) and (role is None or u.has_role(role))]


def _as_user(account: Account) -> User:
    return User(id=account.id, login=account.login, full_name=account.full_name, active=account.active,
                is_admin=account.is_admin)


class AdminsOnly:
    def is_accessible(self) -> bool:
        return bool(flask_login.current_user.is_authenticated and flask_login.current_user.is_admin)

    def inaccessible_callback(self, name: str, **kwargs: Any) -> Any:
        return redirect(url_for("login", next=request.full_path))


class HostIndex(AdminsOnly, AdminIndexView):
    pass


class AccountAdmin(AdminsOnly, ModelView):
    column_list = ("login", "full_name", "is_admin")


LOGIN_PAGE = """<form method="post">
<input type="hidden" name="csrf_token" value="{{ csrf_token() }}">
<input name="login"><input name="password" type="password"><button>Войти</button>
</form>"""


def create_host(database_url: str, **config: Any) -> Flask:
    app = Flask(__name__)
    app.config.update(SECRET_KEY="host-secret-key", SQLALCHEMY_DATABASE_URI=database_url, **config)
    db.init_app(app)
    login_manager = LoginManager(app)
    login_manager.login_view = "login"
    login_manager.user_loader(lambda user_id: db.session.get(Account, int(user_id)))
    CSRFProtect(app)
    Migrate(app, db, include_name=include_name)  # README: the one line that keeps the plugin's tables out

    @app.route("/login", methods=["GET", "POST"])
    def login() -> Any:
        if request.method == "POST":
            account = db.session.scalar(select(Account).where(Account.login == request.form["login"]))
            if account is None or not check_password_hash(account.password_hash, request.form["password"]):
                return render_template_string(LOGIN_PAGE), 401
            login_user(account)
            return redirect(request.args.get("next") or "/admin/")
        return render_template_string(LOGIN_PAGE)

    admin = Admin(app, name="Своя CRM", url="/admin", index_view=HostIndex(url="/admin"))
    admin.add_view(AccountAdmin(Account, db, name="Пользователи", endpoint="accounts"))
    CrmPlugin(app, gateway=HostGateway())
    return app


def add_account(app: Flask, login: str, *, admin: bool = True) -> int:
    with app.app_context():
        account = Account(login=login, full_name=login.title(), password_hash=generate_password_hash(PASSWORD),
                          is_admin=admin)
        db.session.add(account)
        db.session.commit()
        return account.id


def tokens(html: str) -> list[str]:
    return re.findall(r'<input[^>]*name="csrf_token"[^>]*value="([^"]+)"', html)


def log_in(client: FlaskClient, login: str) -> None:
    (token,) = tokens(client.get("/login").get_data(as_text=True))
    response = client.post("/login", data={"login": login, "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 302, response.get_data(as_text=True)[:300]


def cli(app: Flask, *args: str) -> str:
    result = app.test_cli_runner().invoke(args=list(args))
    assert result.exit_code == 0, result.output
    return result.output


# --- its database: SQLite, and PostgreSQL when CRM_PLUGIN_TEST_DATABASE_URL names one -----------------------

@pytest.fixture(params=["sqlite"] + (["postgresql"] if POSTGRES_URL else []))
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """As tests/conftest.py's ``database_url`` (which cannot load without Flask-Babel): a file, or a schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'host.db'}"
        return
    schema = f"h_{uuid.uuid4().hex[:16]}"
    server = create_engine(normalise_url(POSTGRES_URL or ""))
    with server.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        url = make_url(normalise_url(POSTGRES_URL or "")).update_query_dict({"options": f"-csearch_path={schema}"})
        yield url.render_as_string(hide_password=False)
    finally:
        with server.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        server.dispose()


@pytest.fixture
def fake() -> Iterator[FakeTelegram]:
    with FakeTelegram() as fake:
        yield fake


def _close(app: Flask) -> None:
    stop(app)
    with app.app_context():
        db.engine.dispose()


# --- the tests ----------------------------------------------------------------------------------------------

@without_babel
def test_an_admin_saves_a_telegram_bot_through_the_plugins_form(database: str, fake: FakeTelegram) -> None:
    app = create_host(database, CRM_PLUGIN_TELEGRAM_API_URL=fake.url, CRM_PLUGIN_PUBLIC_URL="https://crm.example.com")
    try:
        with app.app_context():
            db.create_all()
        cli(app, "crm-plugin", "db", "upgrade")
        add_account(app, "boss")
        client = app.test_client()
        log_in(client, "boss")

        form = client.get(f"{PLUGIN_ADMIN}/bots/new/").get_data(as_text=True)
        assert len(tokens(form)) == 1  # the plugin's form carries one token: Flask-WTF's
        (token,) = tokens(form)
        fields = {"platform": "telegram", "telegram_token": fake.token}
        checked = client.post(f"{PLUGIN_ADMIN}/bots/check/", data={"csrf_token": token, **fields})  # «Проверить»
        assert checked.status_code == 200 and checked.json == {"ok": True, "id": "123456", "name": "CRM Бот",
                                                                "username": "crm_test_bot"}
        refused = client.post(f"{PLUGIN_ADMIN}/bots/new/", data={**fields, "name": "", "active": "y"})
        assert refused.status_code == 400  # the host's CSRFProtect checks the plugin's forms too
        saved = client.post(f"{PLUGIN_ADMIN}/bots/new/", data={"csrf_token": token, **fields, "name": "",
                                                               "active": "y"})
        assert saved.status_code == 302, saved.get_data(as_text=True)[:500]

        with get_state(app).db.session() as session:
            bot = session.scalars(select(Bot)).one()
            assert (bot.name, bot.platform_bot_id, bot.username) == ("CRM Бот", "123456", "crm_test_bot")
        assert fake.webhook()["url"] == f"https://crm.example.com/crm-plugin/webhook/{bot.id}"
        assert "CRM Бот" in client.get(f"{PLUGIN_ADMIN}/bots/").get_data(as_text=True)
    finally:
        _close(app)


@without_babel
def test_the_hosts_pages_work_while_the_plugins_tables_are_missing(database: str,
                                                                    caplog: pytest.LogCaptureFixture) -> None:
    app = create_host(database)  # the default thread worker, and no `flask crm-plugin db upgrade`
    try:
        with app.app_context():
            db.create_all()
        add_account(app, "boss")
        client = app.test_client()
        with caplog.at_level(logging.INFO):
            assert client.get("/login").status_code == 200
            log_in(client, "boss")
            index = client.get("/admin/")
            assert index.status_code == 200 and "Боты, Пользователи" in index.get_data(as_text=True)
            assert client.get("/admin/accounts/").status_code == 200

            for path in ("/", "/bots/", "/bots/new/", "/access/", "/messages/"):
                page = client.get(PLUGIN_ADMIN + path)
                assert page.status_code == 503, path
                assert "Боты CRM временно недоступны" in page.get_data(as_text=True)
                assert "flask crm-plugin db upgrade" in page.get_data(as_text=True)
            webhook = client.post("/crm-plugin/webhook/1", json={"update_id": 1})
            assert webhook.status_code == 503 and "Retry-After" in webhook.headers

        problems = [r for r in caplog.records if r.levelno >= logging.WARNING]
        assert problems and all(r.exc_info is None and "\n" not in r.getMessage() for r in problems)
        assert all("flask crm-plugin db upgrade" in r.getMessage() for r in problems)
        refusals = [r for r in problems if r.name == "crm_plugin.web.readiness"]
        assert len(refusals) == 1, [r.getMessage() for r in refusals]  # one line, not one per request
    finally:
        _close(app)


@without_babel
def test_the_hosts_autogenerate_leaves_the_plugins_tables_alone(database: str, tmp_path: Path) -> None:
    # One database for both, as on PostgreSQL by default (a SQLite host would keep the plugin in a file of its
    # own, where the host's autogenerate never looks).
    app = create_host(database, CRM_PLUGIN_DATABASE_URL=database, CRM_PLUGIN_WORKER="external")
    directory = str(tmp_path / "host_migrations")
    try:
        with app.app_context():
            flask_migrate.init(directory)
            flask_migrate.migrate(directory, message="users")
            flask_migrate.upgrade(directory)
        cli(app, "crm-plugin", "db", "upgrade")
        versions = Path(directory, "versions")
        first = set(versions.glob("*.py"))
        assert len(first) == 1

        with app.app_context():
            flask_migrate.migrate(directory, message="after the plugin")  # the host's `flask db migrate`
            assert set(versions.glob("*.py")) == first  # nothing to migrate: no revision written

            with db.engine.connect() as connection:
                def changes(**hooks: Any) -> list[str]:
                    context = MigrationContext.configure(connection, opts={"compare_type": True, **hooks})
                    return _tables_touched(produce_migrations(context, db.metadata).upgrade_ops)

                unfiltered = changes()
                assert {"crm_plugin_bots", "crm_plugin_alembic_version", "crm_plugins"} <= set(unfiltered)
                assert changes(include_name=include_name) == []
                assert changes(include_object=include_object) == []
    finally:
        _close(app)


def _tables_touched(operations: ops.UpgradeOps | None) -> list[str]:
    found = []
    for op in operations.ops if operations is not None else []:
        name = getattr(op, "table_name", None)
        found.append(name if name is not None else type(op).__name__)
    return found


@without_babel
def test_uninstall_leaves_the_hosts_tables_and_data(database: str) -> None:
    app = create_host(database, CRM_PLUGIN_DATABASE_URL=database, CRM_PLUGIN_WORKER="external")
    try:
        with app.app_context():
            db.create_all()
        boss = add_account(app, "boss")
        cli(app, "crm-plugin", "db", "upgrade")
        state = get_state(app)
        with state.db.session() as session:
            session.add(AccessGrant(crm_user_id=boss))
        PluginRegistry(state.db.engine).set_active("crm_plugin", True)
        assert "crm_plugins" in inspect(state.db.engine).get_table_names()

        cli(app, "crm-plugin", "db", "downgrade", "base")

        assert inspect(state.db.engine).get_table_names() == ["users"]  # nothing of the plugin, not even its version table
        with app.app_context():
            assert [a.login for a in db.session.scalars(select(Account))] == ["boss"]
        with pytest.raises(PluginStartupError, match=r"crm_plugins is missing .*flask crm-plugin db upgrade"):
            PluginRegistry(state.db.engine)
    finally:
        _close(app)


GUARDED_SIGNAL_CODE = """
try:
    from crm_plugin import host as crm_plugin_host
except ImportError:
    crm_plugin_host = None


def measurement_requested(app, job_id):
    if crm_plugin_host is not None:
        crm_plugin_host.measurement_requested.send(app, job_id=job_id)
"""


def test_the_hosts_signal_code_runs_without_the_plugin_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    """README's guard: with the package gone, the host's code that sends the plugin's signals still runs."""
    app = Flask(__name__)
    monkeypatch.setitem(sys.modules, "crm_plugin", None)  # as if `pip uninstall crm_plugin` had run
    without: dict[str, Any] = {}
    exec(GUARDED_SIGNAL_CODE, without)  # noqa: S102 - README's snippet, run as the host runs it
    assert without["crm_plugin_host"] is None
    without["measurement_requested"](app, job_id=7)  # does nothing, raises nothing
    monkeypatch.undo()

    from crm_plugin import host

    received: list[dict[str, Any]] = []
    with_plugin: dict[str, Any] = {}
    exec(GUARDED_SIGNAL_CODE, with_plugin)  # noqa: S102
    with host.measurement_requested.connected_to(lambda sender, **kw: received.append(kw), sender=app):
        with_plugin["measurement_requested"](app, job_id=7)
    assert received == [{"job_id": 7}]


def test_redis_url_without_the_redis_package_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    from crm_plugin.delivery.ratelimit import limiter_from_url

    monkeypatch.setitem(sys.modules, "redis", None)
    with pytest.raises(PluginStartupError, match=r"pip install crm_plugin\[redis\]"):
        limiter_from_url("redis://127.0.0.1:6379/0")


def test_the_filter_covers_the_manifests_version_table() -> None:
    from crm_plugin.core.manifest import load_manifest

    assert not include_name(load_manifest().version_table, "table", {})
    assert not include_name("crm_plugins", "table", {}) and include_name("users", "table", {})


@pytest.mark.skipif(not BABEL_INSTALLED, reason="this Python has no Flask-Babel: the tests above ran here")
def test_in_a_python_without_flask_babel() -> None:
    """The tests above, in a Python where ``import flask_babel`` fails (both backends when PostgreSQL is set)."""
    block = "import sys; sys.modules['flask_babel'] = None; import pytest; sys.exit(pytest.main(sys.argv[1:]))"
    result = subprocess.run(
        [sys.executable, "-c", block, str(Path(__file__).relative_to(REPO)), "--noconftest", "-p", "no:cacheprovider",
         "-q", "-W", "ignore::DeprecationWarning"],
        check=False, cwd=REPO, capture_output=True, text=True, timeout=600, env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    summary = result.stdout.strip().splitlines()[-1]
    counts = {word: int(n) for n, word in re.findall(r"(\d+) (passed|skipped|failed|error)", summary)}
    assert counts.get("passed", 0) >= 4 and counts.get("skipped") == 1, summary  # only this test is skipped there
