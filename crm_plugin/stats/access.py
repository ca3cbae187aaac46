"""Who sees which statistics: the one place the bot, the admin's instant send and the schedules ask.

The rule: admins and managers see the company's figures; measurers and installers see «Мои показатели», only
the metrics a CRM can count for one person who did the work (``MetricSpec.owner`` is ``Breakdown.EMPLOYEE``),
each over their own rows (``employee_id``), never company totals such as revenue. On top of the rule, the
admin may take metrics away from a role (table ``crm_plugin_stats_access``, one row per role and metric
taken away): a metric the CRM adds later is visible to every role the rule lets see it.

A person with several roles gets the widest scope (a manager who also measures sees the company) and every
metric any of their roles of that scope may see. A person with none of these roles sees no statistics.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from ..core.models import StatsAccess
from ..host import Breakdown, MetricSpec, Role, User

COMPANY_ROLES = (Role.ADMIN, Role.MANAGER)  # see the company's figures
OWN_ROLES = (Role.MEASURER, Role.INSTALLER)  # see their own rows
ROLES = (*COMPANY_ROLES, *OWN_ROLES)  # the order the admin's page lists them in
KEY_LENGTH = 100  # StatsAccess.metric_key


@dataclass(frozen=True)
class Viewer:
    """A CRM user as the statistics see them: ``roles`` hold ``Role.ADMIN`` for an admin."""

    crm_user_id: int
    roles: frozenset[Role]

    @classmethod
    def of(cls, user: User, role_override: str | None = None) -> Viewer:
        """The user with the roles the bot gives them (``EmployeeLink.role_override`` replaces the CRM's, the
        way crm_plugin.bot.access.Employee reads it)."""
        if role_override:
            try:
                return cls(user.id, frozenset({Role(role_override)}))
            except ValueError:
                pass
        return cls(user.id, frozenset(user.roles) | ({Role.ADMIN} if user.is_admin else set()))

    @property
    def company(self) -> bool:
        """Sees the company's figures (an admin or a manager)."""
        return any(role in self.roles for role in COMPANY_ROLES)

    @property
    def employee_id(self) -> int | None:
        """The scope of every figure this person gets: None for the company's, else their own CRM id."""
        return None if self.company else self.crm_user_id

    @property
    def rights_roles(self) -> tuple[Role, ...]:
        """The roles whose rights apply: those of the person's scope."""
        return tuple(r for r in (COMPANY_ROLES if self.company else OWN_ROLES) if r in self.roles)


def allowed_by_rule(spec: MetricSpec, role: Role) -> bool:
    """Whether ``role`` may ever see ``spec`` (before the admin's choices): company roles every metric, field
    roles only the metrics counted per person who did the work."""
    return role in COMPANY_ROLES or spec.owner is Breakdown.EMPLOYEE


def taken_away(session: Session) -> set[tuple[str, str]]:
    """(role, metric key) pairs the admin has taken away."""
    return {(role, key) for role, key in session.execute(select(StatsAccess.role, StatsAccess.metric_key))}


def role_may_see(spec: MetricSpec, role: Role, denied: set[tuple[str, str]]) -> bool:
    return allowed_by_rule(spec, role) and (role.value, spec.key) not in denied


def visible_metrics(session: Session, specs: Iterable[MetricSpec], viewer: Viewer) -> list[MetricSpec]:
    """The metrics of ``specs`` (the gateway's ``metrics()``, in its order) this person may see; ask
    ``viewer.employee_id`` for the scope to build each report with."""
    denied = taken_away(session)
    roles = viewer.rights_roles
    return [spec for spec in specs if any(role_may_see(spec, role, denied) for role in roles)]


def rights(session: Session, specs: Sequence[MetricSpec]) -> dict[tuple[Role, str], bool | None]:
    """The admin's grid: (role, metric key) -> allowed, or None where the rule forbids it whatever is chosen."""
    denied = taken_away(session)
    return {(role, spec.key): (role_may_see(spec, role, denied) if allowed_by_rule(spec, role) else None)
            for role in ROLES for spec in specs}


def set_rights(session: Session, specs: Sequence[MetricSpec], allowed: set[tuple[Role, str]]) -> None:
    """Store the admin's grid: every pair the rule permits and ``allowed`` leaves out is taken away. Rows of
    metrics not in ``specs`` (the CRM no longer lists them) are left as they are."""
    kept = [spec for spec in specs if len(spec.key) <= KEY_LENGTH]  # a longer key cannot be restricted
    session.execute(delete(StatsAccess).where(StatsAccess.metric_key.in_([spec.key for spec in kept])))
    session.add_all(StatsAccess(role=role.value, metric_key=spec.key)
                    for role in ROLES for spec in kept
                    if allowed_by_rule(spec, role) and (role, spec.key) not in allowed)
    session.flush()


__all__ = ["COMPANY_ROLES", "OWN_ROLES", "ROLES", "Viewer", "allowed_by_rule", "rights", "role_may_see",
           "set_rights", "taken_away", "visible_metrics"]
