"""Settings are checked when the plugin starts: a bad value stops start-up and `check` with one line naming the
key, the value and what is allowed; good values of every type (also as strings from the environment) load."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from crm_plugin import CrmPlugin, PluginStartupError
from crm_plugin.core.manifest import load_manifest
from crm_plugin.core.settings import Settings, field_name, load_settings
from crm_plugin.testing import InMemoryGateway

BAD = [
    ("CRM_PLUGIN_WORKER", "threads", "one of thread, external"),
    ("CRM_PLUGIN_TIMEZONE", "Moscow", "an IANA time zone"),
    ("CRM_PLUGIN_WORKER_CONCURRENCY", "eight", "a whole number"),
    ("CRM_PLUGIN_WORKER_CONCURRENCY", 0, "at least 1"),
    ("CRM_PLUGIN_WORKER_POLL", "soon", "a number"),
    ("CRM_PLUGIN_WORKER_LEASE", float("nan"), "a number"),
    ("CRM_PLUGIN_SEND_MAX_ATTEMPTS", True, "a whole number"),
    ("CRM_PLUGIN_LANGUAGE", "de", "one of ru, en"),
    ("CRM_PLUGIN_TRUST_TYPED_IDENTITY", "maybe", "true or false"),
    ("CRM_PLUGIN_MAX_BODY_BYTES", 10, "at least 1024"),
    ("CRM_PLUGIN_URL_PREFIX", "bots", "a path starting with /"),
    ("CRM_PLUGIN_PUBLIC_URL", 42, "a string"),
]


def host_app(tmp_path: Path, **config: Any) -> Flask:
    app = Flask("host")
    app.config.update(SECRET_KEY="x", SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'crm.db'}", **config)
    return app


@pytest.mark.parametrize(("key", "value", "allowed"), BAD)
def test_a_bad_setting_stops_init_app_with_one_line(tmp_path: Path, key: str, value: Any, allowed: str) -> None:
    with pytest.raises(PluginStartupError) as caught:
        CrmPlugin(host_app(tmp_path, **{key: value}), gateway=InMemoryGateway())
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"crm_plugin: {key}={value!r} is not allowed") and allowed in message


def test_environment_strings_are_read_as_their_types() -> None:
    manifest = load_manifest()
    settings = load_settings({"CRM_PLUGIN_WORKER_CONCURRENCY": "3", "CRM_PLUGIN_WORKER_POLL": "0.25",
                              "CRM_PLUGIN_TRUST_TYPED_IDENTITY": "true", "CRM_PLUGIN_TIMEZONE": "Asia/Yekaterinburg",
                              "CRM_PLUGIN_PUBLIC_URL": ""}, manifest)
    assert settings.worker_concurrency == 3 and settings.worker_poll == 0.25
    assert settings.trust_typed_identity is True
    assert settings.tz.key == "Asia/Yekaterinburg"
    assert settings.public_url is None and settings.public_base() is None


def test_defaults_come_from_the_manifest_and_every_key_is_a_field() -> None:
    manifest = load_manifest()
    settings = load_settings({}, manifest)
    for setting in manifest.settings:
        assert getattr(settings, field_name(setting.key)) == setting.default
    assert {field_name(s.key) for s in manifest.settings} == {f.name for f in dataclasses.fields(Settings)}


def test_public_base_joins_url_and_prefix() -> None:
    settings = load_settings({"CRM_PLUGIN_PUBLIC_URL": "https://crm.example/", "CRM_PLUGIN_URL_PREFIX": "/bots/"},
                             load_manifest())
    assert settings.public_base() == "https://crm.example/bots"


@pytest.mark.parametrize(("key", "value", "allowed"), BAD[:3])
def test_check_prints_one_line_for_a_bad_setting(tmp_path: Path, key: str, value: str, allowed: str) -> None:
    """What an operator sees from `flask crm-plugin check` with a bad value in the environment."""
    (tmp_path / "hostapp.py").write_text(
        "from flask import Flask\nfrom crm_plugin import CrmPlugin\nfrom crm_plugin.testing import InMemoryGateway\n\n"
        "def create_app():\n"
        "    app = Flask(__name__)\n"
        f"    app.config.update(SECRET_KEY='x', SQLALCHEMY_DATABASE_URI='sqlite:///{tmp_path}/crm.db')\n"
        "    app.config.from_prefixed_env()\n"
        "    CrmPlugin(app, gateway=InMemoryGateway())\n"
        "    return app\n", encoding="utf-8")
    flask = Path(sys.executable).with_name("flask")
    result = subprocess.run([str(flask), "--app", "hostapp", "crm-plugin", "check"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=120,
                            env={**os.environ, f"FLASK_{key}": value})
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and key in lines[0] and allowed in lines[0], result.stderr


def test_check_against_an_unreachable_database_prints_one_line(tmp_path: Path) -> None:
    (tmp_path / "hostapp.py").write_text(
        "from flask import Flask\nfrom crm_plugin import CrmPlugin\nfrom crm_plugin.testing import InMemoryGateway\n\n"
        "def create_app():\n"
        "    app = Flask(__name__)\n"
        "    app.config.update(SECRET_KEY='x', CRM_PLUGIN_WORKER='external',\n"
        "                      SQLALCHEMY_DATABASE_URI='postgresql://nobody@127.0.0.1:9/none?connect_timeout=2')\n"
        "    CrmPlugin(app, gateway=InMemoryGateway())\n"
        "    return app\n", encoding="utf-8")
    flask = Path(sys.executable).with_name("flask")
    result = subprocess.run([str(flask), "--app", "hostapp", "crm-plugin", "check"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "cannot reach the database" in lines[0], result.stderr
    assert "127.0.0.1:9" in lines[0]
