"""The plugin installs like a real plugin: a wheel built from the repository carries the manifest,
migrations, templates and static files, and works from a fresh virtual environment."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

CHECK_SCRIPT = """
import sys
from pathlib import Path
import crm_plugin
from crm_plugin.core.manifest import load_manifest
assert Path(crm_plugin.__file__).resolve().is_relative_to(Path(sys.prefix).resolve()), crm_plugin.__file__
manifest = load_manifest()
assert manifest.version == crm_plugin.__version__
print("manifest", manifest.path)
"""


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, "-m", "build", "--wheel", "--outdir", str(out), str(REPO)],
                   check=True, capture_output=True, timeout=600)
    return next(out.glob("crm_plugin-*.whl"))


def test_wheel_carries_the_plugin_assets(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = {
        "crm_plugin/bundle/plugin.toml",
        "crm_plugin/bundle/migrations/env.py",
        "crm_plugin/bundle/migrations/script.py.mako",
        "crm_plugin/bundle/templates/crm_plugin/admin/dashboard.html",
        "crm_plugin/bundle/templates/crm_plugin/not_ready.html",
        "crm_plugin/bundle/static/crm_plugin/plugin.css",
        "crm_plugin/py.typed",
    }
    assert expected <= names, expected - names
    for revision in ("0001", "0002", "0003"):
        assert any(n.startswith(f"crm_plugin/bundle/migrations/versions/{revision}") for n in names), revision
    assert any(n.startswith("crm_plugin/demo/templates/") for n in names)
    assert {"crm_plugin/translations/ru/LC_MESSAGES/crm_plugin.mo",
            "crm_plugin/admin/translations/en/LC_MESSAGES/crm_plugin_admin.mo"} <= names
    # every module of the package is in the wheel (setup.cfg lists the packages one by one)
    sources = {str(p.relative_to(REPO)) for p in (REPO / "crm_plugin").rglob("*.py")}
    assert sources <= names, sorted(sources - names)
    entry_points = zipfile.ZipFile(wheel).read(
        next(n for n in names if n.endswith(".dist-info/entry_points.txt"))).decode()
    assert "[crm.plugins]" in entry_points and "crm_plugin = crm_plugin:CrmPlugin" in entry_points
    # The plugin itself needs no Flask-Babel, Flask-Login or Flask-SQLAlchemy: only the demo does.
    metadata = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    required = [line.split(":", 1)[1].strip().lower() for line in metadata.splitlines()
                if line.startswith("Requires-Dist:") and "extra ==" not in line]
    assert not [r for r in required if r.startswith(("flask-babel", "flask-login", "flask-sqlalchemy"))], required
    assert any(r.startswith("sqlalchemy>=2.0.33") for r in required), required


def test_wheel_works_from_a_fresh_venv(wheel: Path, tmp_path: Path) -> None:
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    # The demo CRM below needs the demo extra (Flask-SQLAlchemy, Flask-Login, Flask-Babel).
    subprocess.run([str(python), "-m", "pip", "install", "-q", f"{wheel}[demo]"], check=True, timeout=900,
                   capture_output=True)
    workdir = tmp_path / "elsewhere"  # not the checkout: nothing may come from the repository
    workdir.mkdir()
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "FLASK_"))}
    run = dict(cwd=workdir, env=environment, capture_output=True, text=True, timeout=300)

    checked = subprocess.run([str(python), "-c", CHECK_SCRIPT], **run)  # type: ignore[call-overload]
    assert checked.returncode == 0, checked.stderr
    assert "site-packages/crm_plugin/bundle/plugin.toml" in checked.stdout

    database = workdir / "crm.db"
    environment["FLASK_SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{database}"
    flask = [str(env_dir / "bin" / "flask"), "--app", "crm_plugin.demo"]
    upgraded = subprocess.run([*flask, "crm-plugin", "db", "upgrade"], **run)  # type: ignore[call-overload]
    assert upgraded.returncode == 0, upgraded.stderr
    plugin_database = workdir / "crm-crm_plugin.db"  # SQLite: the plugin keeps a file of its own
    with sqlite3.connect(plugin_database) as connection:
        tables = {row[0] for row in connection.execute("select name from sqlite_master where type='table'")}
        version = connection.execute("select version_num from crm_plugin_alembic_version").fetchone()
    assert {"crm_plugin_bots", "crm_plugin_messages", "crm_plugin_employee_links"} <= tables
    assert version is not None and version[0] >= "0001"
    checked = subprocess.run([*flask, "crm-plugin", "check"], **run)  # type: ignore[call-overload]
    assert checked.returncode == 0 and "ready" in checked.stdout, checked.stderr
