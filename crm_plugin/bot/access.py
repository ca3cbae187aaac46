"""Who may see and change which job. Every job id that arrives in a button payload passes through here
before anything is shown or changed: a forged or outdated payload gets the same plain refusal as a job that
does not exist, so nobody learns which ids are real."""

from __future__ import annotations

from dataclasses import dataclass

from ..host import DONE_STATUSES, Job, JobKind, JobStatus, Role, User

KIND_OF_ROLE = {Role.MEASURER: JobKind.MEASUREMENT, Role.INSTALLER: JobKind.INSTALLATION}
TAKEABLE_STATUSES = frozenset({JobStatus.NEW, JobStatus.SCHEDULED})


@dataclass(frozen=True)
class Employee:
    """A bound CRM user with the roles the bot gives them (an admin may override them per binding)."""

    user: User
    roles: frozenset[Role]
    is_admin: bool

    @classmethod
    def of(cls, user: User, role_override: str | None = None) -> Employee:
        if role_override:
            try:
                role = Role(role_override)
            except ValueError:
                role = None
            if role is not None:
                return cls(user, frozenset({role}), role is Role.ADMIN)
        return cls(user, frozenset(user.roles), user.is_admin)

    @property
    def id(self) -> int:
        return self.user.id

    @property
    def kinds(self) -> tuple[JobKind, ...]:
        """The kinds of jobs this person works with, measurements first."""
        if self.is_admin:
            return (JobKind.MEASUREMENT, JobKind.INSTALLATION)
        return tuple(k for r, k in KIND_OF_ROLE.items() if r in self.roles)

    @property
    def is_field_worker(self) -> bool:
        return bool(self.kinds)


def can_take(employee: Employee, job: Job) -> bool:
    """An unassigned open measurement request a measurer may take."""
    return (job.kind is JobKind.MEASUREMENT and job.assignee_id is None and job.status in TAKEABLE_STATUSES
            and (Role.MEASURER in employee.roles or employee.is_admin))


def can_view(employee: Employee, job: Job) -> bool:
    if employee.is_admin:
        return True
    if job.kind not in employee.kinds:
        return False
    return job.assignee_id == employee.id or can_take(employee, job)


def can_work_on(employee: Employee, job: Job) -> bool:
    """Send files, mark done: the assignee (or an admin) on a job that is not cancelled."""
    if job.status is JobStatus.CANCELLED:
        return False
    return employee.is_admin or (job.kind in employee.kinds and job.assignee_id == employee.id)


def is_done(job: Job) -> bool:
    return job.status in DONE_STATUSES
