"""GatewayContract: the host contract's test suite, which a host runs against its own gateway.

Subclass it in the host's tests under a ``Test*`` name and provide two function-scoped fixtures: ``gateway``
(the host's CrmGateway, ready to call, e.g. inside an app context) and ``contract_world`` (the data of
crm_plugin.testing.world created in the host's CRM, returned as a ContractWorld). Every ``test_*`` below
then runs against it. When a Flask app context is active, the threaded tests push one in each thread.
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from functools import partial
from typing import Any

import pytest

from ..host import (
    DONE_STATUSES,
    CrmGateway,
    FileKind,
    JobKind,
    JobOrder,
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

    # paging (list_jobs_page): limit, offset, the total, the done order

    def test_list_jobs_page_gives_the_page_and_the_total(self, gateway: CrmGateway,
                                                         contract_world: ContractWorld) -> None:
        world = contract_world
        mine = JobQuery(assignee_id=world.measurer_id)  # by date: the done measurement, then the scheduled one
        pages = [gateway.list_jobs_page(replace(mine, limit=1, offset=offset)) for offset in (0, 1)]
        assert [[j.id for j in p.jobs] for p in pages] == [[world.done_measurement_id], [world.measurer_job_id]]
        assert [p.total for p in pages] == [2, 2]
        assert [j.id for j in gateway.list_jobs(replace(mine, limit=1, offset=1))] == [world.measurer_job_id]
        whole = gateway.list_jobs_page(mine)
        assert ([j.id for j in whole.jobs], whole.total) == ([world.done_measurement_id, world.measurer_job_id], 2)

    def test_list_jobs_page_past_the_end_is_empty_with_the_total(self, gateway: CrmGateway,
                                                                  contract_world: ContractWorld) -> None:
        mine = JobQuery(assignee_id=contract_world.measurer_id)
        for offset, limit in ((2, 8), (50, 8), (0, 0)):
            page = gateway.list_jobs_page(replace(mine, offset=offset, limit=limit))
            assert (page.jobs, page.total) == ((), 2), (offset, limit)
        nobody = gateway.list_jobs_page(JobQuery(assignee_id=contract_world.unknown_id, limit=8))
        assert (nobody.jobs, nobody.total) == ((), 0)

    def test_list_jobs_pages_walk_the_whole_order(self, gateway: CrmGateway, contract_world: ContractWorld) -> None:
        """Pages of 2 put together are the unpaged listing (the host's other rows included), each with its total."""
        full = [j.id for j in gateway.list_jobs(JobQuery())]
        walked: list[int] = []
        for offset in range(0, len(full) + 2, 2):
            page = gateway.list_jobs_page(JobQuery(limit=2, offset=offset))
            assert page.total == len(full) and len(page.jobs) <= 2
            walked += [j.id for j in page.jobs]
        assert walked == full and contract_world.job_ids <= set(full)

    def test_list_jobs_refuses_a_negative_limit_or_offset(self, gateway: CrmGateway,
                                                          contract_world: ContractWorld) -> None:
        for query in (JobQuery(limit=-1), JobQuery(offset=-1)):
            with pytest.raises(ValueError):
                gateway.list_jobs_page(query)

    def test_done_jobs_newest_done_first(self, gateway: CrmGateway, contract_world: ContractWorld) -> None:
        world = contract_world
        assert job_of(gateway, world.measurer_job_id).done_at is None  # open: never done
        gateway.set_job_status(world.measurer_job_id, JobStatus.MEASURED, world.measurer_id)
        finished = job_of(gateway, world.measurer_job_id)
        assert finished.done_at is not None and finished.done_at.tzinfo is not None
        done = JobQuery(assignee_id=world.measurer_id, statuses=frozenset({JobStatus.MEASURED}),
                        order=JobOrder.DONE_DESC)
        page = gateway.list_jobs_page(replace(done, limit=1))
        assert ([j.id for j in page.jobs], page.total) == ([world.measurer_job_id], 2)  # done later, listed first
        rest = gateway.list_jobs_page(replace(done, limit=1, offset=1))
        assert [j.id for j in rest.jobs] == [world.done_measurement_id]
        earlier = rest.jobs[0].done_at  # a host may not know when a job done before it kept the time was done
        assert earlier is None or earlier <= finished.done_at

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

    def test_assign_job_replacing_passes_an_open_job_from_its_holder_only(self, gateway: CrmGateway,
                                                                         contract_world: ContractWorld) -> None:
        world = contract_world
        job = world.measurer_job_id
        assert gateway.assign_job(job, world.admin_id, replacing=world.other_measurer_id) is False  # not theirs
        assert gateway.assign_job(job, world.measurer_id, replacing=world.measurer_id) is False  # no change
        assert gateway.assign_job(job, world.other_measurer_id, replacing=world.measurer_id) is True
        moved = job_of(gateway, job)
        assert (moved.assignee_id, moved.status) == (world.other_measurer_id, JobStatus.SCHEDULED)
        assert gateway.assign_job(job, world.admin_id, replacing=world.measurer_id) is False  # held by another now
        assert gateway.assign_job(world.new_measurement_id, world.measurer_id, replacing=world.admin_id) is False
        assert gateway.assign_job(world.cancelled_job_id, world.measurer_id, replacing=None) is False

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

    # leads from channels (issue 10): find by contact, append, assign

    def test_find_recent_lead_by_phone_or_email_within_the_window(self, gateway: CrmGateway,
                                                                   contract_world: ContractWorld) -> None:
        digits = f"{uuid.uuid4().int % 10**7:07d}"
        phone, email = f"+7917{digits}", f"lead-{uuid.uuid4().hex[:10]}@Example.ru"
        lead_id = gateway.create_lead(LeadDraft(source="vk:club1", text="Окна", phone=phone, email=email.lower(),
                                                external_id=f"contract-{uuid.uuid4().hex}"))
        since = datetime.now(UTC) - timedelta(days=30)
        assert gateway.find_recent_lead(phone=phone, since=since) == lead_id
        assert gateway.find_recent_lead(phone=f"8 (917) {digits[:3]}-{digits[3:5]}-{digits[5:]}", since=since) == lead_id
        assert gateway.find_recent_lead(email=email.upper(), since=since) == lead_id
        assert gateway.find_recent_lead(phone="+70000000000", email=email, since=since) == lead_id
        assert gateway.find_recent_lead(phone="+70000000000", since=since) is None
        assert gateway.find_recent_lead(since=since) is None
        later = datetime.now(UTC) + timedelta(minutes=5)  # the lead is older than the window
        assert gateway.find_recent_lead(phone=phone, since=later) is None

    def test_append_to_lead_is_idempotent_by_external_id(self, gateway: CrmGateway,
                                                         contract_world: ContractWorld) -> None:
        lead_id = gateway.create_lead(LeadDraft(source="vk:club1", text="Окна",
                                                external_id=f"contract-{uuid.uuid4().hex}"))
        key = f"contract-{uuid.uuid4().hex}"
        gateway.append_to_lead(lead_id, "И балкон", "https://vk.com/wall-1_2?reply=3", external_id=key)
        gateway.append_to_lead(lead_id, "И балкон", "https://vk.com/wall-1_2?reply=3", external_id=key)
        gateway.append_to_lead(lead_id, "Без ключа")
        with pytest.raises(LookupError):
            gateway.append_to_lead(contract_world.unknown_id, "x", external_id=f"contract-{uuid.uuid4().hex}")
        # the appended message's key is taken: a lead created with it is the lead it was appended to
        assert gateway.create_lead(LeadDraft(source="vk:club1", text="И балкон", external_id=key)) == lead_id

    def test_assign_lead_first_taker_wins(self, gateway: CrmGateway, contract_world: ContractWorld) -> None:
        world = contract_world
        lead_id = gateway.create_lead(LeadDraft(source="slack:#sales", text="Окна",
                                                external_id=f"contract-{uuid.uuid4().hex}"))
        assert gateway.lead_manager(lead_id) is None
        takers = [world.measurer_id, world.other_measurer_id, world.installer_id, world.admin_id]
        won = run_at_once([partial(gateway.assign_lead, lead_id, user) for user in takers])
        assert won.count(True) == 1
        assert gateway.lead_manager(lead_id) == takers[won.index(True)]
        assert gateway.assign_lead(lead_id, takers[won.index(True)]) is False
        assert gateway.assign_lead(world.unknown_id, world.admin_id) is False
        assert gateway.lead_manager(world.unknown_id) is None

    def test_get_lead_gives_its_fields_and_manager(self, gateway: CrmGateway, contract_world: ContractWorld) -> None:
        draft = LeadDraft(source="vk:club1", text="Окна на дачу", name="Алия", phone="+79173334455",
                          external_id=f"contract-{uuid.uuid4().hex}", email="aliya@example.ru",
                          source_link="https://vk.com/wall-1_2?reply=3")
        lead_id = gateway.create_lead(draft)
        gateway.assign_lead(lead_id, contract_world.admin_id)
        lead = gateway.get_lead(lead_id)
        assert lead is not None and lead.id == lead_id
        assert (lead.source, lead.text, lead.name, lead.email, lead.source_link) == (
            draft.source, draft.text, draft.name, draft.email, draft.source_link)
        assert normalise_phone(lead.phone) == "+79173334455" and lead.manager_id == contract_world.admin_id
        assert gateway.get_lead(contract_world.unknown_id) is None

    def test_a_lead_url_is_none_or_its_own_absolute_page(self, gateway: CrmGateway) -> None:
        """``Lead.url`` is optional; when given it is an absolute http(s) URL of that lead's own page."""
        ids = [gateway.create_lead(LeadDraft(source="vk:club1", text="Окна")) for _ in range(2)]
        urls = [lead.url for lead in map(gateway.get_lead, ids) if lead is not None]
        assert len(urls) == 2
        for url in urls:
            assert url is None or url.startswith(("https://", "http://")) and url.split("://", 1)[1].split("/")[0]
        if None not in urls:
            assert urls[0] != urls[1]
