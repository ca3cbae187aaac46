"""GatewayContract: the host contract's test suite, which a host runs against its own gateway.

Subclass it in the host's tests under a ``Test*`` name and provide two function-scoped fixtures: ``gateway``
(the host's CrmGateway, ready to call, e.g. inside an app context) and ``contract_world`` (the data of
crm_plugin.testing.world created in the host's CRM, returned as a ContractWorld). Every ``test_*`` below
then runs against it. When a Flask app context is active, the threaded tests push one in each thread.
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import timedelta, timezone
from functools import partial
from typing import Any

import pytest

from ..host import (
    DONE_STATUSES,
    CrmGateway,
    FileKind,
    JobKind,
    JobQuery,
    JobStatus,
    LeadDraft,
    NewFile,
    Role,
    normalise_phone,
)
from . import world as w
from .checks import job_of, listed, run_at_once
from .contract_metrics import MetricContract
from .world import ContractWorld


class GatewayContract(MetricContract):
    """The suite; the host's subclass provides the ``gateway`` and ``contract_world`` fixtures. The statistics
    tests (``metrics``, ``metric_values``) come from MetricContract."""

    # users

    def test_get_user_returns_the_crm_user(self, gateway: CrmGateway, contract_world: ContractWorld) -> None:
        world = contract_world
        measurer, admin = gateway.get_user(world.measurer_id), gateway.get_user(world.admin_id)
        assert measurer is not None and measurer.id == world.measurer_id and measurer.login == w.MEASURER_LOGIN
        assert (measurer.email or "").casefold() == w.MEASURER_EMAIL.casefold()
        assert normalise_phone(measurer.phone) == normalise_phone(w.MEASURER_PHONE)
        assert measurer.active and not measurer.is_admin and measurer.roles == frozenset({Role.MEASURER})
        assert not measurer.has_role(Role.INSTALLER)
        assert admin is not None and admin.is_admin and Role.ADMIN not in admin.roles
        assert admin.has_role(Role.MEASURER) and admin.has_role(Role.ADMIN)
        inactive = gateway.get_user(world.inactive_id)
        assert inactive is not None and not inactive.active  # inactive users are still found by id
        assert gateway.get_user(world.unknown_id) is None

    def test_list_users_by_activity_and_role(self, gateway: CrmGateway, contract_world: ContractWorld) -> None:
        world = contract_world
        everyone = world.user_ids

        def ids(**kwargs: Any) -> set[int]:
            users = gateway.list_users(**kwargs)
            role, active_only = kwargs.get("role"), kwargs.get("active_only", True)
            assert all(u.active for u in users) or not active_only, "an inactive user in an active-only list"
            if role is Role.ADMIN:
                assert all(u.is_admin for u in users), "a non-admin listed for Role.ADMIN"
            elif role is not None:
                assert all(role in u.roles for u in users), f"a user without {role} listed for it"
            return {u.id for u in users} & everyone

        active = everyone - {world.inactive_id}
        measurers = {world.measurer_id, world.other_measurer_id}
        assert ids() == active
        assert ids(active_only=False) == everyone
        assert ids(role=Role.MEASURER) == measurers  # the admin holds no field role
        assert ids(role=Role.MEASURER, active_only=False) == measurers | {world.inactive_id}
        assert ids(role=Role.INSTALLER) == {world.installer_id}
        assert ids(role=Role.ADMIN) == {world.admin_id}

    @pytest.mark.parametrize("identity", [
        w.MEASURER_LOGIN, w.MEASURER_LOGIN.upper(), f"  {w.MEASURER_LOGIN} ", w.MEASURER_EMAIL,
        w.MEASURER_EMAIL.lower(), w.MEASURER_EMAIL.upper(), "+7 900 555-12-34", "8 (900) 555-12-34",
        "89005551234", "79005551234", "+79005551234", "900 555 12 34"])
    def test_find_users_by_login_email_or_phone(self, gateway: CrmGateway, contract_world: ContractWorld,
                                                identity: str) -> None:
        assert [u.id for u in gateway.find_users(identity)] == [contract_world.measurer_id]

    def test_find_users_returns_inactive_users_marked(self, gateway: CrmGateway,
                                                      contract_world: ContractWorld) -> None:
        found = gateway.find_users(w.INACTIVE_LOGIN)
        assert [(u.id, u.active) for u in found] == [(contract_world.inactive_id, False)]

    @pytest.mark.parametrize("identity", ["", "   ", "contract-meas", "nobody-such@example.com",
                                          "+7 900 555-12-35", "contract-measurer@example.com"])
    def test_find_users_without_a_match(self, gateway: CrmGateway, contract_world: ContractWorld,
                                        identity: str) -> None:
        assert gateway.find_users(identity) == []

    def test_send_login_code(self, gateway: CrmGateway, contract_world: ContractWorld) -> None:
        world = contract_world
        gateway.send_login_code(world.measurer_id, "482913")
        if world.login_codes is not None:
            assert "482913" in world.login_codes(world.measurer_id)
            assert "482913" not in world.login_codes(world.other_measurer_id)
        with pytest.raises(LookupError):
            gateway.send_login_code(world.unknown_id, "111222")

    def test_current_user_outside_a_request_is_none(self, gateway: CrmGateway,
                                                    contract_world: ContractWorld) -> None:
        assert run_at_once([gateway.current_user]) == [None]  # a worker thread: no request

    # jobs

    def test_get_job_returns_the_visit(self, gateway: CrmGateway, contract_world: ContractWorld) -> None:
        world = contract_world
        mine, new = job_of(gateway, world.measurer_job_id), job_of(gateway, world.new_measurement_id)
        done, installation = job_of(gateway, world.done_measurement_id), job_of(gateway, world.installation_id)
        assert (mine.kind, mine.status, mine.assignee_id) == (JobKind.MEASUREMENT, JobStatus.SCHEDULED,
                                                              world.measurer_id)
        assert mine.scheduled_at == w.MEASURER_JOB_AT and mine.scheduled_at.tzinfo is not None
        assert (new.status, new.assignee_id, new.scheduled_at) == (JobStatus.NEW, None, None)
        assert normalise_phone(w.CLIENT_PHONE) in {normalise_phone(p) for p in new.client.phones}
        assert (installation.kind, installation.assignee_id) == (JobKind.INSTALLATION, world.installer_id)
        assert installation.order_id == done.order_id and installation.order_number == done.order_number != ""
        assert mine.order_id != done.order_id and mine.order_number != done.order_number
        assert done.status is JobStatus.MEASURED and installation.scheduled_at == w.INSTALLATION_AT
        assert gateway.get_job(world.unknown_id) is None

    def test_list_jobs_by_date_with_an_exclusive_end(self, gateway: CrmGateway,
                                                     contract_world: ContractWorld) -> None:
        world, day, next_day = contract_world, w.DAY, w.DAY + timedelta(days=1)
        in_day = {world.measurer_job_id, world.cancelled_job_id}
        assert set(listed(gateway, world, scheduled_from=day, scheduled_to=next_day)) == in_day
        assert listed(gateway, world, scheduled_from=next_day) == [world.installation_id]  # the start is inclusive
        assert listed(gateway, world, scheduled_to=w.MEASURER_JOB_AT) == [world.done_measurement_id]
        assert listed(gateway, world, scheduled_from=w.MEASURER_JOB_AT,
                      scheduled_to=w.CANCELLED_JOB_AT) == [world.measurer_job_id]
        moscow = timezone(timedelta(hours=3))  # the same instants written in another zone
        assert set(listed(gateway, world, scheduled_from=day.astimezone(moscow),
                          scheduled_to=next_day.astimezone(moscow))) == in_day

    def test_list_jobs_refuses_naive_bounds(self, gateway: CrmGateway, contract_world: ContractWorld) -> None:
        with pytest.raises(ValueError):
            gateway.list_jobs(JobQuery(scheduled_from=w.DAY.replace(tzinfo=None)))
        with pytest.raises(ValueError):
            gateway.list_jobs(JobQuery(scheduled_to=w.DAY.replace(tzinfo=None)))

    def test_list_jobs_by_assignee_kind_and_status(self, gateway: CrmGateway,
                                                   contract_world: ContractWorld) -> None:
        world = contract_world
        mine = [world.done_measurement_id, world.measurer_job_id]  # by date
        assert listed(gateway, world, assignee_id=world.measurer_id) == mine
        assert listed(gateway, world, kind=JobKind.INSTALLATION) == [world.installation_id]
        assert listed(gateway, world, assignee_id=world.installer_id, kind=JobKind.MEASUREMENT) == []
        assert listed(gateway, world, statuses=frozenset({JobStatus.NEW})) == [world.new_measurement_id]
        assert listed(gateway, world, statuses=frozenset({JobStatus.CANCELLED})) == [world.cancelled_job_id]
        assert listed(gateway, world, statuses=DONE_STATUSES) == [world.done_measurement_id]
        assert listed(gateway, world, assignee_id=world.measurer_id, kind=JobKind.MEASUREMENT,
                      statuses=frozenset({JobStatus.SCHEDULED}), scheduled_from=w.DAY) == [world.measurer_job_id]

    def test_list_jobs_unassigned_only(self, gateway: CrmGateway, contract_world: ContractWorld) -> None:
        world = contract_world
        free = [world.cancelled_job_id, world.new_measurement_id]  # the one with no date last
        assert listed(gateway, world, unassigned_only=True) == free
        takeable = frozenset({JobStatus.NEW, JobStatus.SCHEDULED})
        assert listed(gateway, world, unassigned_only=True, statuses=takeable) == [world.new_measurement_id]

    def test_list_jobs_order(self, gateway: CrmGateway, contract_world: ContractWorld) -> None:
        world = contract_world
        assert listed(gateway, world) == [world.done_measurement_id, world.measurer_job_id, world.cancelled_job_id,
                                          world.installation_id, world.new_measurement_id]

    # assign_job

    def test_assign_job_only_once(self, gateway: CrmGateway, contract_world: ContractWorld) -> None:
        world = contract_world
        assert gateway.assign_job(world.new_measurement_id, world.measurer_id) is True
        taken = job_of(gateway, world.new_measurement_id)
        assert (taken.assignee_id, taken.status) == (world.measurer_id, JobStatus.SCHEDULED)
        assert gateway.assign_job(world.new_measurement_id, world.other_measurer_id) is False
        assert gateway.assign_job(world.new_measurement_id, world.measurer_id) is False  # already theirs
        assert job_of(gateway, world.new_measurement_id).assignee_id == world.measurer_id
        assert listed(gateway, world, assignee_id=world.measurer_id)[-1] == world.new_measurement_id

    def test_assign_job_refuses_taken_cancelled_done_and_unknown(self, gateway: CrmGateway,
                                                                 contract_world: ContractWorld) -> None:
        world = contract_world
        assert gateway.assign_job(world.measurer_job_id, world.other_measurer_id) is False
        assert job_of(gateway, world.measurer_job_id).assignee_id == world.measurer_id
        assert gateway.assign_job(world.cancelled_job_id, world.measurer_id) is False
        cancelled = job_of(gateway, world.cancelled_job_id)
        assert (cancelled.assignee_id, cancelled.status) == (None, JobStatus.CANCELLED)
        assert gateway.assign_job(world.done_measurement_id, world.other_measurer_id) is False
        assert gateway.assign_job(world.unknown_id, world.measurer_id) is False

    def test_assign_job_race_has_one_winner(self, gateway: CrmGateway, contract_world: ContractWorld) -> None:
        world = contract_world
        racers = [world.measurer_id, world.other_measurer_id, world.admin_id, world.installer_id]
        won = run_at_once([partial(gateway.assign_job, world.new_measurement_id, u) for u in racers])
        assert won.count(True) == 1, f"assign_job results of a race: {won}"
        assert job_of(gateway, world.new_measurement_id).assignee_id == racers[won.index(True)]

    # set_job_status

    def test_set_job_status_is_visible(self, gateway: CrmGateway, contract_world: ContractWorld) -> None:
        world = contract_world
        gateway.set_job_status(world.measurer_job_id, JobStatus.MEASURED, world.measurer_id)
        assert job_of(gateway, world.measurer_job_id).status is JobStatus.MEASURED
        assert world.measurer_job_id in listed(gateway, world, statuses=frozenset({JobStatus.MEASURED}))
        gateway.set_job_status(world.measurer_job_id, JobStatus.MEASURED, world.measurer_id)  # again: no-op
        assert job_of(gateway, world.measurer_job_id).status is JobStatus.MEASURED
        gateway.set_job_status(world.installation_id, JobStatus.INSTALLED, world.installer_id)
        assert job_of(gateway, world.installation_id).status is JobStatus.INSTALLED
        gateway.set_job_status(world.new_measurement_id, JobStatus.CANCELLED, world.admin_id)
        assert job_of(gateway, world.new_measurement_id).status is JobStatus.CANCELLED

    def test_set_job_status_refuses_unknown_and_forbidden(self, gateway: CrmGateway,
                                                          contract_world: ContractWorld) -> None:
        world = contract_world
        with pytest.raises(LookupError):
            gateway.set_job_status(world.unknown_id, JobStatus.MEASURED, world.measurer_id)
        refused = [(world.cancelled_job_id, JobStatus.MEASURED), (world.cancelled_job_id, JobStatus.NEW),
                   (world.installation_id, JobStatus.MEASURED), (world.measurer_job_id, JobStatus.INSTALLED)]
        for job_id, status in refused:
            before = job_of(gateway, job_id).status
            with pytest.raises(ValueError):
                gateway.set_job_status(job_id, status, world.admin_id)
            assert job_of(gateway, job_id).status is before, f"job {job_id} changed by a refused {status}"

    # files

    def test_files_of_the_order_include_other_jobs(self, gateway: CrmGateway,
                                                   contract_world: ContractWorld) -> None:
        world = contract_world
        order_id = job_of(gateway, world.installation_id).order_id
        sheet = next(f for f in gateway.list_files(order_id) if f.id == world.sheet_file_id)
        assert (sheet.job_id, sheet.order_id, sheet.kind) == (world.done_measurement_id, order_id, w.SHEET.kind)
        assert (sheet.name, sheet.content_type, sheet.size) == (w.SHEET.name, w.SHEET.content_type,
                                                                len(w.SHEET.data))
        assert gateway.read_file(world.sheet_file_id) == w.SHEET.data
        mine = job_of(gateway, world.measurer_job_id).order_id
        assert world.sheet_file_id not in {f.id for f in gateway.list_files(mine)}

    def test_attach_file_round_trip(self, gateway: CrmGateway, contract_world: ContractWorld) -> None:
        world = contract_world
        job = job_of(gateway, world.installation_id)
        photo = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8
        first = gateway.attach_file(job.id, NewFile(FileKind.INSTALLATION_PHOTO, "okno.png", "image/png", photo),
                                    world.installer_id)
        second = gateway.attach_file(job.id, NewFile(FileKind.INSTALLATION_PHOTO, "b.jpg", "image/jpeg", b"\xff\xd8"),
                                     world.installer_id)
        files = gateway.list_files(job.order_id)
        ids = [f.id for f in files]
        assert ids == sorted(ids) and {world.sheet_file_id, first, second} <= set(ids) and first < second
        new = next(f for f in files if f.id == first)
        assert (new.job_id, new.order_id, new.kind, new.name, new.content_type, new.size) == (
            job.id, job.order_id, FileKind.INSTALLATION_PHOTO, "okno.png", "image/png", len(photo))
        assert gateway.read_file(first) == photo and gateway.read_file(second) == b"\xff\xd8"
        photos = gateway.list_files(job.order_id, frozenset({FileKind.INSTALLATION_PHOTO}))
        assert [f.id for f in photos] == [first, second]
        sheets = gateway.list_files(job.order_id, frozenset({FileKind.MEASUREMENT_SHEET}))
        assert world.sheet_file_id in {f.id for f in sheets} and first not in {f.id for f in sheets}
        other_order = job_of(gateway, world.measurer_job_id).order_id
        assert first not in {f.id for f in gateway.list_files(other_order)}

    def test_files_with_unknown_ids(self, gateway: CrmGateway, contract_world: ContractWorld) -> None:
        world = contract_world
        with pytest.raises(LookupError):
            gateway.read_file(world.unknown_id)
        with pytest.raises(LookupError):
            gateway.attach_file(world.unknown_id, replace(w.SHEET, name="x.pdf"), world.measurer_id)
        assert gateway.list_files(world.unknown_id) == []

    # leads and statistics

    def test_create_lead_is_idempotent_by_external_id(self, gateway: CrmGateway,
                                                      contract_world: ContractWorld) -> None:
        draft = LeadDraft(source="slack:#sales", text="Нужно остеклить балкон", name="Рустам",
                          phone="+7 917 123-45-67", external_id=f"contract-{uuid.uuid4().hex}")
        first = gateway.create_lead(draft)
        assert gateway.create_lead(draft) == first
        assert gateway.create_lead(replace(draft, text="the platform's retry")) == first
        other = gateway.create_lead(replace(draft, external_id=f"contract-{uuid.uuid4().hex}"))
        plain = [gateway.create_lead(LeadDraft(source="vk:club1", text="Москитная сетка?")) for _ in range(2)]
        assert len({first, other, *plain}) == 4

    def test_create_lead_race_stores_one_lead(self, gateway: CrmGateway, contract_world: ContractWorld) -> None:
        draft = LeadDraft(source="vk:club1", text="Окно на дачу", external_id=f"contract-{uuid.uuid4().hex}")
        ids = run_at_once([lambda: gateway.create_lead(draft)] * 4)
        assert len(set(ids)) == 1 and gateway.create_lead(draft) == ids[0]
