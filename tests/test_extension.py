"""Mounting the plugin into a host: extension state, config, blueprint, admin tab, CLI, start-up errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import inspect

from crm_plugin import CrmPlugin, PluginStartupError, get_state
from crm_plugin.alembic_filter import is_plugin_table
from crm_plugin.core.migrate import current_revision, head_revision
from crm_plugin.demo.gateway import DemoGateway
from crm_plugin.demo.models import db as host_db

from .conftest import make_test_app


def test_state_config_and_blueprint(app: Flask) -> None:
    state = get_state(app)
    assert app.extensions["crm_plugin"] is state
    assert app.config["CRM_PLUGIN_URL_PREFIX"] == "/crm-plugin"
    assert app.test_client().get("/crm-plugin/health").json == {"status": "ok"}
    assert "crm_plugin_dashboard.index" in app.view_functions


def test_config_keys_are_overridable_and_prefix_moves_routes(database_url: str) -> None:
    app = make_test_app(database_url, CRM_PLUGIN_URL_PREFIX="/bots", CRM_PLUGIN_LANGUAGE="en")
    assert app.config["CRM_PLUGIN_LANGUAGE"] == "en"
    client = app.test_client()
    assert client.get("/bots/health").status_code == 200
    assert client.get("/crm-plugin/health").status_code == 404
    get_state(app).db.dispose()


def test_missing_gateway_stops_with_one_line() -> None:
    app = Flask("host")
    app.config["SQLALCHEMY_DATABASE_URI"] = "sqlite://"
    with pytest.raises(PluginStartupError) as caught:
        CrmPlugin(app)
    assert "gateway=" in str(caught.value) and "\n" not in str(caught.value)


def test_gateway_missing_methods_is_refused() -> None:
    class Half:
        def get_user(self, user_id: int) -> None: ...

    with pytest.raises(PluginStartupError, match="does not implement crm_plugin.host.CrmGateway"):
        CrmPlugin(Flask("host"), gateway=Half())  # type: ignore[arg-type]


def test_unmigrated_database_stops_start_up(tmp_path: Path) -> None:
    from crm_plugin.demo import create_app

    app = create_app({"TESTING": True, "SECRET_KEY": "x", "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/a.db",
                      "CRM_PLUGIN_WORKER": "external"})
    with pytest.raises(PluginStartupError) as caught:
        get_state(app).ensure_ready()
    message = str(caught.value)
    assert "flask crm-plugin db upgrade" in message and "none" in message and "\n" not in message
    result = app.test_cli_runner().invoke(args=["crm-plugin", "check"])
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [f"Error: {message}"]


def test_db_upgrade_downgrade_with_own_version_table(app: Flask) -> None:
    state = get_state(app)
    runner = app.test_cli_runner()
    engine = state.db.engine
    assert current_revision(engine, state.manifest) == head_revision(state.manifest)
    tables = set(inspect(engine).get_table_names())
    assert {"crm_plugin_messages", "crm_plugin_bots", "crm_plugin_alembic_version"} <= tables
    assert "alembic_version" not in tables  # the host's own Alembic table is never touched

    with app.app_context():  # on PostgreSQL host and plugin share a database; on SQLite not
        host_tables = {t for t in inspect(host_db.engine).get_table_names() if not is_plugin_table(t)}
    result = runner.invoke(args=["crm-plugin", "db", "downgrade"])
    assert result.exit_code == 0, result.output
    left = set(inspect(engine).get_table_names())
    assert not {t for t in left if is_plugin_table(t)}  # the version table and crm_plugins too
    with app.app_context():
        assert "demo_jobs" in host_tables
        assert host_tables <= set(inspect(host_db.engine).get_table_names())  # the host's tables stay

    result = runner.invoke(args=["crm-plugin", "db", "upgrade"])
    assert result.exit_code == 0 and head_revision(state.manifest) in result.output
    assert runner.invoke(args=["crm-plugin", "check"]).exit_code == 0


def test_gateway_is_the_demo_one(app: Flask) -> None:
    assert isinstance(get_state(app).gateway, DemoGateway)


def test_plugin_database_defaults() -> None:
    from crm_plugin.core.db import plugin_database_url

    pg = "postgresql+psycopg://u@h/crm"
    assert plugin_database_url(None, pg) == pg  # row locks: one database serves host and plugin
    assert plugin_database_url("sqlite:////x/p.db", pg) == "sqlite:////x/p.db"
    # SQLite locks the whole file: the plugin gets a file of its own beside the host's
    assert plugin_database_url(None, "sqlite:////srv/crm/crm.db") == "sqlite:////srv/crm/crm-crm_plugin.db"
    assert plugin_database_url(None, None) is None


def test_sqlite_plugin_file_lets_the_crm_write_during_a_turn(app: Flask) -> None:
    """A turn holds the plugin's write lock while the gateway writes to the CRM: that must not wait."""
    state = get_state(app)
    if state.db.engine.dialect.name != "sqlite":
        pytest.skip("SQLite file locking only")
    from crm_plugin.core.models import PluginSetting
    from crm_plugin.host import LeadDraft

    with app.app_context(), state.db.session() as session:
        session.add(PluginSetting(key="x", value={}))
        session.flush()  # the plugin's file is now write-locked by this transaction
        lead_id = state.gateway.create_lead(LeadDraft(source="test", text="окна в дом"))
    assert lead_id > 0


def test_flask_command_prints_one_line_for_a_host_without_gateway(tmp_path: Path) -> None:
    """What an operator sees from the real `flask` command: one line with the fix, no traceback."""
    (tmp_path / "hostapp.py").write_text(
        "from flask import Flask\nfrom crm_plugin import CrmPlugin\n\n"
        "def create_app():\n"
        "    app = Flask(__name__)\n"
        f"    app.config['SQLALCHEMY_DATABASE_URI'] = 'sqlite:///{tmp_path}/crm.db'\n"
        "    CrmPlugin(app)\n"
        "    return app\n", encoding="utf-8")
    flask = Path(sys.executable).with_name("flask")
    result = subprocess.run([str(flask), "--app", "hostapp", "crm-plugin", "check"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [
        "Error: crm_plugin: no gateway to the CRM; create the plugin as CrmPlugin(app, gateway=YourGateway()) "
        "(README, 'Install into an existing CRM')"]
