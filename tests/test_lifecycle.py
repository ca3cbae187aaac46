"""Per app: the signal receivers, the worker and the engine belong to the app they were made for; a plugin
problem (tables missing, a failing handler) never takes the host's own pages or requests down."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from crm_plugin import CrmPlugin, get_state, host
from crm_plugin.core import migrate
from crm_plugin.core.models import Message
from crm_plugin.extension import start_worker, stop
from crm_plugin.testing import InMemoryGateway


class CountingGateway(InMemoryGateway):
    """Counts the jobs the plugin looked up: each host event it handles asks for its job once."""

    def __init__(self) -> None:
        super().__init__()
        self.asked: list[int] = []

    def get_job(self, job_id: int) -> Any:
        self.asked.append(job_id)
        return super().get_job(job_id)


def host_app(tmp_path: Path, name: str, *, migrated: bool = True, **config: Any) -> Flask:
    app = Flask(name)
    app.config.update({"SECRET_KEY": "x", "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / name}.db",
                       "CRM_PLUGIN_WORKER": "external", **config})

    @app.get("/own")
    def own_page() -> str:
        return "the CRM's own page"

    CrmPlugin(app, gateway=CountingGateway())
    if migrated:
        state = get_state(app)
        migrate.upgrade(state.db.engine, state.manifest)
    return app


def test_a_host_event_reaches_only_the_app_that_sent_it(tmp_path: Path) -> None:
    first, second = host_app(tmp_path, "first"), host_app(tmp_path, "second")
    host.measurement_requested.send(first, job_id=7)
    assert get_state(first).gateway.asked == [7]  # type: ignore[attr-defined]
    assert get_state(second).gateway.asked == []  # type: ignore[attr-defined]
    for app in (first, second):
        stop(app)


def test_stop_ends_the_worker_and_the_receivers(tmp_path: Path) -> None:
    app = host_app(tmp_path, "crm")
    worker = start_worker(app)
    assert worker.pending() == 0
    stop(app)
    assert get_state(app).worker is None
    assert worker._pool is None  # the sender threads are gone
    host.measurement_requested.send(app, job_id=1)
    assert get_state(app).gateway.asked == []  # type: ignore[attr-defined]


def test_a_failing_handler_is_logged_not_raised_into_the_host(tmp_path: Path, caplog: pytest.LogCaptureFixture,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    app = host_app(tmp_path, "crm")

    def broken(job_id: int) -> None:
        raise RuntimeError("the CRM's database hiccuped")

    monkeypatch.setattr(get_state(app).gateway, "get_job", broken)
    with caplog.at_level(logging.ERROR, logger="crm_plugin.events"):
        host.measurement_requested.send(app, job_id=3)  # returns: the host's save goes on
    assert "host event measurement-requested {'job_id': 3} was not turned into messages" in caplog.text
    stop(app)


def test_missing_plugin_tables_leave_the_host_working(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """The embedded worker cannot start and the plugin's routes refuse, with a Russian page and one log line;
    the CRM's own pages answer as always."""
    app = host_app(tmp_path, "crm", migrated=False, CRM_PLUGIN_WORKER="thread")
    client = app.test_client()
    with caplog.at_level(logging.ERROR, logger="crm_plugin"):
        for _ in range(3):
            assert client.get("/own").data == b"the CRM's own page"
        refused = client.post("/crm-plugin/webhook/1", data=b"{}")
        assert client.post("/crm-plugin/webhook/1", data=b"{}").status_code == 503
    assert refused.status_code == 503 and refused.headers["Retry-After"] == "60"
    page = refused.get_data(as_text=True)
    assert "flask crm-plugin db upgrade" in page and "Остальные разделы CRM работают" in page
    worker_lines = [r for r in caplog.records if "the plugin's worker is not running" in r.getMessage()]
    route_lines = [r for r in caplog.records if "answer 503 until then" in r.getMessage()]
    assert len(worker_lines) == 1 and len(route_lines) == 1  # once, not per request
    assert "run `flask crm-plugin db upgrade`" in worker_lines[0].getMessage()
    assert get_state(app).worker is None
    # once migrated, the same app serves the plugin (the readiness check is not cached as a failure)
    state = get_state(app)
    migrate.upgrade(state.db.engine, state.manifest)
    assert client.post("/crm-plugin/webhook/1", data=b"{}").status_code == 404  # no such bot: served
    with state.db.session() as session:
        assert session.scalars(select(Message)).all() == []
    stop(app)
