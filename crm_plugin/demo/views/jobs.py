"""Planning field work: a new measurement request, an installation for a measured order, editing and
cancelling a visit. Each change is committed first, then announced to the plugin with a host signal."""

from __future__ import annotations

from decimal import Decimal

from flask import Blueprint, abort, current_app, flash, redirect, render_template, url_for
from flask_login import current_user
from sqlalchemy import select
from werkzeug.wrappers import Response

from ... import host
from ..auth import manager_required
from ..forms import NO_ONE, CancelForm, JobForm, MeasurementForm
from ..models import Client, Job, Order, OrderStatus, User, db, next_order_number, utcnow
from ..timeutil import from_local, to_local

bp = Blueprint("jobs", __name__)

CLOSED = (host.JobStatus.MEASURED, host.JobStatus.INSTALLED, host.JobStatus.CANCELLED)


def _app() -> object:
    return current_app._get_current_object()  # type: ignore[attr-defined]


def _assignee_choices(role: host.Role) -> list[tuple[int, str]]:
    users = db.session.scalars(select(User).where(User.active.is_(True)).order_by(User.full_name)).all()
    return [(NO_ONE, "— не назначен —")] + [(u.id, u.full_name) for u in users if role in u.roles]


def _role_for(kind: host.JobKind) -> host.Role:
    return host.Role.MEASURER if kind is host.JobKind.MEASUREMENT else host.Role.INSTALLER


def _apply(form: JobForm, job: Job) -> None:
    job.address = form.address.data.strip()
    job.latitude, job.longitude = form.latitude.data, form.longitude.data
    job.scheduled_at = from_local(form.scheduled_at.data) if form.scheduled_at.data else None
    job.assignee_id = form.assignee_id.data or None
    job.manager_comment = (form.manager_comment.data or "").strip() or None
    if job.status in (host.JobStatus.NEW, host.JobStatus.SCHEDULED):
        job.status = host.JobStatus.SCHEDULED if job.assignee_id else host.JobStatus.NEW
    job.updated_at = utcnow()


@bp.route("/measurements/new", methods=["GET", "POST"])
@manager_required
def new_measurement() -> str | Response:
    form = MeasurementForm()
    clients = db.session.scalars(select(Client).order_by(Client.name)).all()
    form.client_id.choices = [(NO_ONE, "— новый клиент —")] + [(c.id, c.name) for c in clients]
    form.assignee_id.choices = _assignee_choices(host.Role.MEASURER)
    if form.validate_on_submit():
        if form.client_id.data == NO_ONE:
            client = Client(name=form.client_name.data.strip(), phones_text=(form.client_phone.data or "").strip(),
                            address=form.address.data.strip())
            db.session.add(client)
        else:
            client = db.get_or_404(Client, form.client_id.data)
        year = to_local(utcnow()).year  # type: ignore[union-attr]
        order = Order(number=next_order_number(db.session, year), client=client, amount=form.amount.data or Decimal(0),
                      status=OrderStatus.MEASUREMENT, manager_id=current_user.id)
        job = Job(kind=host.JobKind.MEASUREMENT, order=order, status=host.JobStatus.NEW)
        _apply(form, job)
        db.session.add_all([order, job])
        db.session.commit()
        host.measurement_requested.send(_app(), job_id=job.id)
        flash(f"Заявка на замер создана: заказ {order.number}.", "success")
        return redirect(url_for("orders.view", order_id=order.id))
    return render_template("demo/job_form.html", form=form, title="Новая заявка на замер", job=None)


@bp.route("/orders/<int:order_id>/installation", methods=["GET", "POST"])
@manager_required
def new_installation(order_id: int) -> str | Response:
    order = db.get_or_404(Order, order_id)
    measurement = next((j for j in order.jobs if j.kind is host.JobKind.MEASUREMENT), None)
    form = JobForm(address=measurement.address if measurement else order.client.address,
                   latitude=measurement.latitude if measurement else None,
                   longitude=measurement.longitude if measurement else None)
    form.assignee_id.choices = _assignee_choices(host.Role.INSTALLER)
    if form.validate_on_submit():
        job = Job(kind=host.JobKind.INSTALLATION, order=order, status=host.JobStatus.NEW)
        _apply(form, job)
        order.status = OrderStatus.INSTALLATION
        db.session.add(job)
        db.session.commit()
        host.installation_scheduled.send(_app(), job_id=job.id)
        flash("Монтаж запланирован.", "success")
        return redirect(url_for("orders.view", order_id=order.id))
    return render_template("demo/job_form.html", form=form, title=f"Монтаж по заказу {order.number}", job=None,
                           order=order)


@bp.route("/jobs/<int:job_id>/edit", methods=["GET", "POST"])
@manager_required
def edit(job_id: int) -> str | Response:
    job = db.get_or_404(Job, job_id)
    if job.status in CLOSED:
        flash("Закрытую работу изменить нельзя.", "warning")
        return redirect(url_for("orders.view", order_id=job.order_id))
    form = JobForm(obj=job)
    if not form.is_submitted():
        local = to_local(job.scheduled_at)
        form.scheduled_at.data = local.replace(tzinfo=None) if local else None
        form.assignee_id.data = job.assignee_id or NO_ONE
    form.assignee_id.choices = _assignee_choices(_role_for(job.kind))
    if form.validate_on_submit():
        before = (job.scheduled_at, job.assignee_id)
        _apply(form, job)
        db.session.commit()
        changes = [change for change, changed in (("rescheduled", job.scheduled_at != before[0]),
                                                  ("reassigned", job.assignee_id != before[1])) if changed]
        for change in changes or ["updated"]:
            host.job_changed.send(_app(), job_id=job.id, change=change)
        flash("Изменения сохранены.", "success")
        return redirect(url_for("orders.view", order_id=job.order_id))
    return render_template("demo/job_form.html", form=form, title=f"Изменить: заказ {job.order.number}", job=job,
                           order=job.order)


@bp.post("/jobs/<int:job_id>/cancel")
@manager_required
def cancel(job_id: int) -> Response:
    job = db.get_or_404(Job, job_id)
    if not CancelForm().validate_on_submit():
        abort(400)
    if job.status not in CLOSED:
        job.status = host.JobStatus.CANCELLED
        job.updated_at = utcnow()
        db.session.commit()
        host.job_cancelled.send(_app(), job_id=job.id)
        flash("Работа отменена.", "success")
    return redirect(url_for("orders.view", order_id=job.order_id))
