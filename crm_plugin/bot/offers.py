"""Who was offered which free measurement request: everyone shown a «Взять» button for it.

Only they learn, when they tap too late, who took the request, and only they are told it is gone; to anyone
else a ``take:<id>`` of someone else's job gets the refusal a job that does not exist gets (crm_plugin.bot.jobs).
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from ..core.models import JobOffer, utcnow


def record(session: Session, job_id: int, crm_user_ids: Iterable[int]) -> None:
    """Remember that these people were offered the job; an offer made before stays as it was."""
    rows = [{"job_id": job_id, "crm_user_id": user_id, "offered_at": utcnow()} for user_id in sorted(set(crm_user_ids))]
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    if dialect not in ("postgresql", "sqlite"):  # no ON CONFLICT: add the missing ones
        known = set(offered_to(session, job_id))
        session.add_all(JobOffer(**row) for row in rows if row["crm_user_id"] not in known)
        return
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    # ON CONFLICT DO NOTHING: two turns offering one job to one person must not fail each other's transaction.
    session.execute(insert(JobOffer).values(rows).on_conflict_do_nothing(index_elements=["job_id", "crm_user_id"]))


def was_offered(session: Session, job_id: int, crm_user_id: int) -> bool:
    return session.scalar(select(JobOffer.id).where(JobOffer.job_id == job_id,
                                                    JobOffer.crm_user_id == crm_user_id)) is not None


def offered_to(session: Session, job_id: int) -> list[int]:
    """The CRM users the job was offered to."""
    return list(session.scalars(select(JobOffer.crm_user_id).where(JobOffer.job_id == job_id)
                                .order_by(JobOffer.crm_user_id)))
