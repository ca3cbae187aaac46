"""The statements DemoGateway reads users and jobs with (a bot turn makes one or two of these reads).

Columns go straight into the host's dataclasses: no ORM session, identity map or eager loads. Each statement is
built once per shape of query (which filters are set, the order) with bound parameters, and reused: building a
statement with subqueries costs more CPU than running it (SQLAlchemy makes the subquery's column proxies and
the cache key anew each time), and the bot asks the same few shapes again and again.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any, NamedTuple

from sqlalchemy import Integer, Select, bindparam, func, select, true

from .. import host
from . import models as m

# The columns the host's User and Job are built from, in the order user_of and job_of read them.
USER_COLUMNS = (m.User.id, m.User.login, m.User.full_name, m.User.email, m.User.phone, m.User.active,
                m.User.is_admin, m.User.roles_text)


def user_of(row: Sequence[Any]) -> host.User:
    user_id, login, full_name, email, phone, active, is_admin, roles = row
    return host.User(id=user_id, login=login, full_name=full_name, email=email, phone=phone, active=active,
                     is_admin=is_admin, roles=m.parse_roles(roles))


def job_of(row: Sequence[Any]) -> host.Job:
    (job_id, kind, order_id, status, scheduled_at, address, latitude, longitude, comment, assignee_id, updated_at,
     done_at, number, client_id, client_name, phones, client_address) = row[:17]
    return host.Job(
        id=job_id, kind=kind, order_id=order_id, order_number=number, status=status, scheduled_at=scheduled_at,
        address=address,
        client=host.Client(id=client_id, name=client_name, phones=m.parse_phones(phones), address=client_address),
        latitude=latitude, longitude=longitude, manager_comment=comment, assignee_id=assignee_id,
        updated_at=updated_at, done_at=done_at,
    )


def _job_columns(jobs: Any) -> tuple[Any, ...]:
    """``jobs``: the Job model, or a subquery's columns (a page of jobs)."""
    return (jobs.id, jobs.kind, jobs.order_id, jobs.status, jobs.scheduled_at, jobs.address, jobs.latitude,
            jobs.longitude, jobs.manager_comment, jobs.assignee_id, jobs.updated_at, jobs.done_at,
            m.Order.number, m.Client.id, m.Client.name, m.Client.phones_text, m.Client.address)


def _jobs_with_orders(jobs: Any, source: Any, *extra: Any) -> Select[Any]:
    """The job columns (``jobs`` as in _job_columns) from ``source``, each job's order and client joined."""
    return (select(*_job_columns(jobs), *extra).select_from(source)
            .outerjoin(m.Order, m.Order.id == jobs.order_id)
            .outerjoin(m.Client, m.Client.id == m.Order.client_id))


def _job_order(jobs: Any, order: host.JobOrder) -> tuple[Any, ...]:
    """ORDER BY in the index's own order: NULLS LAST spelled out (SQLite sorts NULL first by default)."""
    if order is host.JobOrder.DONE_DESC:
        return jobs.done_at.desc().nulls_last(), jobs.id.desc()
    return jobs.scheduled_at.asc().nulls_last(), jobs.id


USER_BY_ID = select(*USER_COLUMNS).where(m.User.id == bindparam("user_id"))
JOB_BY_ID = _jobs_with_orders(m.Job, m.Job).where(m.Job.id == bindparam("job_id"))


class Shape(NamedTuple):
    """What a JobQuery's statement depends on: which filters it sets and its order, not their values."""

    assignee: bool
    unassigned_only: bool
    kind: bool
    scheduled_from: bool
    scheduled_to: bool
    statuses: bool
    order: host.JobOrder
    limit: bool


def shape_and_params(query: host.JobQuery) -> tuple[Shape, dict[str, Any]]:
    """The query's shape and the values of its parameters; ``ValueError`` for what the contract refuses."""
    for bound in (query.scheduled_from, query.scheduled_to):
        if bound is not None and bound.tzinfo is None:
            raise ValueError(f"naive datetime bound {bound!r}: the contract takes aware datetimes")
    if query.offset < 0 or (query.limit is not None and query.limit < 0):
        raise ValueError(f"negative limit or offset: {query.limit!r}, {query.offset!r}")
    shape = Shape(query.assignee_id is not None, query.unassigned_only, query.kind is not None,
                  query.scheduled_from is not None, query.scheduled_to is not None, query.statuses is not None,
                  query.order, query.limit is not None)
    params: dict[str, Any] = {"assignee_id": query.assignee_id, "kind": query.kind,
                              "scheduled_from": query.scheduled_from, "scheduled_to": query.scheduled_to,
                              "statuses": None if query.statuses is None else list(query.statuses),
                              "page_offset": query.offset,
                              "page_limit": query.limit}
    return shape, {name: value for name, value in params.items() if value is not None}


def _where(shape: Shape) -> list[Any]:
    where = []
    if shape.assignee:
        where.append(m.Job.assignee_id == bindparam("assignee_id"))
    if shape.unassigned_only:
        where.append(m.Job.assignee_id.is_(None))
    if shape.kind:
        where.append(m.Job.kind == bindparam("kind"))
    if shape.scheduled_from:
        where.append(m.Job.scheduled_at >= bindparam("scheduled_from"))
    if shape.scheduled_to:
        where.append(m.Job.scheduled_at < bindparam("scheduled_to"))
    if shape.statuses:
        where.append(m.Job.status.in_(bindparam("statuses", expanding=True)))
    return where


def _paged(stmt: Select[Any], shape: Shape) -> Select[Any]:
    stmt = stmt.offset(bindparam("page_offset", type_=Integer))
    return stmt.limit(bindparam("page_limit", type_=Integer)) if shape.limit else stmt


@cache
def jobs_statement(shape: Shape) -> Select[Any]:
    """list_jobs: the matching jobs in the order, paged."""
    stmt = _jobs_with_orders(m.Job, m.Job).where(*_where(shape))
    return _paged(stmt.order_by(*_job_order(m.Job, shape.order)), shape)


@cache
def page_statement(shape: Shape) -> Select[Any]:
    """list_jobs_page: the COUNT of the matching jobs LEFT JOIN the page, so one statement (one snapshot, one
    round trip) brings both, and a page past the end still brings the total (a row with no job). The order and
    client are joined to the page's rows alone, not to every job counted."""
    where = _where(shape)
    total = select(func.count().label("total")).select_from(m.Job).where(*where).subquery("total")
    page = _paged(select(m.Job).where(*where).order_by(*_job_order(m.Job, shape.order)), shape).subquery("page")
    stmt = _jobs_with_orders(page.c, total.outerjoin(page, true()), total.c.total)
    return stmt.order_by(*_job_order(page.c, shape.order))
