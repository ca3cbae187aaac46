"""The host contract suite (crm_plugin.testing) against both gateways the project ships: the in-memory one and
the demo CRM's, on SQLite and (when CRM_PLUGIN_TEST_DATABASE_URL is set) PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import pytest
from flask import Flask
from sqlalchemy import select

from crm_plugin import CrmGateway, get_state, host
from crm_plugin.demo import models as m
from crm_plugin.demo.gateway import DemoGateway
from crm_plugin.testing import ContractWorld, GatewayContract, InMemoryGateway, build_memory_world
from crm_plugin.testing import world as w


def test_in_memory_gateway_implements_the_protocol() -> None:
    assert isinstance(InMemoryGateway(), CrmGateway)


def test_in_memory_metrics_are_the_demo_crms() -> None:
    """The bot's unit tests ask the in-memory gateway for the metrics the demo CRM has."""
    assert InMemoryGateway().metrics() == DemoGateway.metrics(None)  # type: ignore[arg-type]


class TestInMemoryGateway(GatewayContract):
    @pytest.fixture
    def gateway(self) -> InMemoryGateway:
        return InMemoryGateway()

    @pytest.fixture
    def contract_world(self, gateway: InMemoryGateway) -> ContractWorld:
        return build_memory_world(gateway)


class TestDemoGateway(GatewayContract):
    @pytest.fixture
    def gateway(self, app: Flask) -> Iterator[CrmGateway]:
        with app.app_context():
            yield get_state(app).gateway

    @pytest.fixture
    def contract_world(self, gateway: CrmGateway) -> ContractWorld:
        return build_demo_world()


def build_demo_world() -> ContractWorld:
    """The contract's world in the demo CRM's tables (inside the app context)."""
    session = m.db.session

    def user(login: str, *, roles: tuple[host.Role, ...] = (), **fields: object) -> m.User:
        row = m.User(login=login, full_name=login.title(), roles=frozenset(roles), **fields)
        row.set_password("contract")
        session.add(row)
        return row

    def job(kind: host.JobKind, status: host.JobStatus, at: datetime | None, *, order: m.Order | None = None,
            assignee: m.User | None = None) -> m.Job:
        if order is None:
            client = m.Client(name="Иванов Пётр", phones_text=w.CLIENT_PHONE, address="Казань, ул. Баумана, 5")
            order = m.Order(number=f"К-{session.query(m.Order).count() + 1:04d}", client=client)
            session.add(order)
            session.flush()
        row = m.Job(kind=kind, order=order, status=status, scheduled_at=at, address="Казань, ул. Баумана, 5",
                    assignee=assignee)
        session.add(row)
        session.flush()
        return row

    admin = user("contract-admin", is_admin=True)
    measurer = user(w.MEASURER_LOGIN, email=w.MEASURER_EMAIL, phone="8 (900) 555 12 34", roles=(host.Role.MEASURER,))
    other = user("contract-other", email="other@example.com", phone="+7 900 555-00-00", roles=(host.Role.MEASURER,))
    installer = user("contract-installer", roles=(host.Role.INSTALLER,))
    inactive = user(w.INACTIVE_LOGIN, active=False, roles=(host.Role.MEASURER,))
    status = host.JobStatus
    new = job(host.JobKind.MEASUREMENT, status.NEW, None)
    mine = job(host.JobKind.MEASUREMENT, status.SCHEDULED, w.MEASURER_JOB_AT, assignee=measurer)
    cancelled = job(host.JobKind.MEASUREMENT, status.CANCELLED, w.CANCELLED_JOB_AT)
    done = job(host.JobKind.MEASUREMENT, status.MEASURED, w.DONE_MEASUREMENT_AT, assignee=measurer)
    installation = job(host.JobKind.INSTALLATION, status.SCHEDULED, w.INSTALLATION_AT, order=done.order,
                       assignee=installer)
    sheet = m.JobFile(job=done, order=done.order, kind=w.SHEET.kind, name=w.SHEET.name,
                      content_type=w.SHEET.content_type, size=len(w.SHEET.data), data=w.SHEET.data,
                      uploaded_by_id=measurer.id)
    session.add(sheet)
    session.commit()

    def login_codes(user_id: int) -> list[str]:
        return list(session.scalars(select(m.LoginCode.code).where(m.LoginCode.user_id == user_id)))

    return ContractWorld(
        admin_id=admin.id, measurer_id=measurer.id, other_measurer_id=other.id, installer_id=installer.id,
        inactive_id=inactive.id, new_measurement_id=new.id, measurer_job_id=mine.id, cancelled_job_id=cancelled.id,
        done_measurement_id=done.id, installation_id=installation.id, sheet_file_id=sheet.id,
        login_codes=login_codes, measurements_metric="measurements_done", leads_metric="leads")
