"""The world the contract suite (contract.py) runs in: what a host creates in its CRM before each test, and
the ids it hands back in a ContractWorld.

Create, fresh for every test (a function-scoped fixture), with the values below:

=====================  ==================================================================================
admin_id               an active user with admin rights (``is_admin``) and no field roles
measurer_id            an active measurer (roles: measurer only), login ``MEASURER_LOGIN``, email
                       ``MEASURER_EMAIL``, phone ``MEASURER_PHONE`` (stored in any written form)
other_measurer_id      another active measurer, with a login, email and phone of its own
installer_id           an active installer (roles: installer only)
inactive_id            an inactive measurer, login ``INACTIVE_LOGIN``
new_measurement_id     a measurement, NEW, unassigned, no date; its client has the phone ``CLIENT_PHONE``
measurer_job_id        a measurement, SCHEDULED, assigned to the measurer, at ``MEASURER_JOB_AT``
cancelled_job_id       a measurement, CANCELLED, unassigned, at ``CANCELLED_JOB_AT``
done_measurement_id    a measurement, MEASURED, assigned to the measurer, at ``DONE_MEASUREMENT_AT``
installation_id        an installation of the same order as done_measurement, SCHEDULED, assigned to
                       the installer, at ``INSTALLATION_AT``
sheet_file_id          the file ``SHEET`` on that order, attached through done_measurement
=====================  ==================================================================================

Every job but the installation has an order of its own. Other rows may exist in the CRM, as long as they
reuse none of these logins, emails or phones. ``unknown_id`` must be the id of no user, job, order or file.
``login_codes``, when given, reads back the codes the CRM delivered to a user, so the suite can check
``send_login_code`` got through.

Statistics: the suite checks every metric ``metrics()`` declares on whatever rows the CRM has. Name two of
them and it also checks they follow what the suite does: ``measurements_metric``, a metric that counts
measurements marked MEASURED on the day they were marked, with the EMPLOYEE breakdown as its owner;
``leads_metric``, one that counts leads on the day they came, with the LEAD_SOURCE breakdown (rows labelled
with ``LeadDraft.source``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from ..host import FileKind, JobKind, JobStatus, NewFile, Role
from .memory import InMemoryGateway

UTC = timezone.utc
DAY = datetime(2030, 3, 4, tzinfo=UTC)  # the suite's day: the instant it starts, 00:00 UTC

MEASURER_LOGIN = "contract-measurer"
MEASURER_EMAIL = "Contract.Measurer@example.com"
MEASURER_PHONE = "+7 900 555-12-34"
INACTIVE_LOGIN = "contract-inactive"
CLIENT_PHONE = "+7 917 000-11-22"

MEASURER_JOB_AT = DAY + timedelta(hours=6)
CANCELLED_JOB_AT = DAY + timedelta(hours=8)
INSTALLATION_AT = DAY + timedelta(days=1)  # exactly the end of DAY: an exclusive bound leaves it out
DONE_MEASUREMENT_AT = DAY - timedelta(days=7) + timedelta(hours=6)

SHEET = NewFile(FileKind.MEASUREMENT_SHEET, "contract-sheet.pdf", "application/pdf",
                b"%PDF-1.4\n\x00\xff\xfe contract sheet\r\n")  # NUL and high bytes: binary-safe storage


@dataclass(frozen=True)
class ContractWorld:
    """The ids of what the host created (see the module's table)."""

    admin_id: int
    measurer_id: int
    other_measurer_id: int
    installer_id: int
    inactive_id: int
    new_measurement_id: int
    measurer_job_id: int
    cancelled_job_id: int
    done_measurement_id: int
    installation_id: int
    sheet_file_id: int
    unknown_id: int = 2_000_000_000  # fits a 32-bit integer key
    login_codes: Callable[[int], Sequence[str]] | None = None
    measurements_metric: str | None = None
    leads_metric: str | None = None

    @property
    def user_ids(self) -> frozenset[int]:
        return frozenset({self.admin_id, self.measurer_id, self.other_measurer_id, self.installer_id,
                          self.inactive_id})

    @property
    def job_ids(self) -> frozenset[int]:
        return frozenset({self.new_measurement_id, self.measurer_job_id, self.cancelled_job_id,
                          self.done_measurement_id, self.installation_id})


def build_memory_world(gateway: InMemoryGateway) -> ContractWorld:
    """The contract's world in an InMemoryGateway; also a ready-made world for the bot's unit tests."""
    add_user, add_job = gateway.add_user, gateway.add_job
    admin = add_user("contract-admin", "Админов Админ", is_admin=True)
    measurer = add_user(MEASURER_LOGIN, "Замеров Иван", email=MEASURER_EMAIL, phone="8 (900) 555 12 34",
                        roles={Role.MEASURER})
    other = add_user("contract-other", "Другой Замерщик", email="other@example.com", phone="+7 900 555-00-00",
                     roles={Role.MEASURER})
    installer = add_user("contract-installer", "Монтажов Пётр", roles={Role.INSTALLER})
    inactive = add_user(INACTIVE_LOGIN, "Уволенный Олег", roles={Role.MEASURER}, active=False)
    client = gateway.add_client("Иванов Пётр", phones=[CLIENT_PHONE], address="Казань, ул. Баумана, 5")
    new = add_job(JobKind.MEASUREMENT, client_id=client.id)
    mine = add_job(JobKind.MEASUREMENT, scheduled_at=MEASURER_JOB_AT, assignee_id=measurer.id)
    cancelled = add_job(JobKind.MEASUREMENT, status=JobStatus.CANCELLED, scheduled_at=CANCELLED_JOB_AT)
    done = add_job(JobKind.MEASUREMENT, status=JobStatus.MEASURED, scheduled_at=DONE_MEASUREMENT_AT,
                   assignee_id=measurer.id)
    installation = add_job(JobKind.INSTALLATION, order_id=done.order_id, scheduled_at=INSTALLATION_AT,
                           assignee_id=installer.id)
    sheet = gateway.attach_file(done.id, SHEET, measurer.id)
    return ContractWorld(
        admin_id=admin.id, measurer_id=measurer.id, other_measurer_id=other.id, installer_id=installer.id,
        inactive_id=inactive.id, new_measurement_id=new.id, measurer_job_id=mine.id, cancelled_job_id=cancelled.id,
        done_measurement_id=done.id, installation_id=installation.id, sheet_file_id=sheet,
        login_codes=gateway.login_codes, measurements_metric="measurements_done", leads_metric="leads")
