"""Orders: the list, one order's page with its visits and files, and file downloads."""

from __future__ import annotations

from io import BytesIO

from flask import Blueprint, abort, redirect, render_template, request, send_file, url_for
from flask_login import login_required
from sqlalchemy import or_, select
from sqlalchemy.orm import selectinload
from werkzeug.wrappers import Response

from ..forms import ORDER_STATUS_LABELS, CancelForm
from ..models import Client, JobFile, Order, OrderStatus, db

bp = Blueprint("orders", __name__)

PER_PAGE = 30


@bp.get("/")
def home() -> Response:
    return redirect(url_for("orders.index"))


@bp.get("/orders")
@login_required
def index() -> str:
    stmt = select(Order).join(Order.client).options(selectinload(Order.jobs)).order_by(Order.created_at.desc(), Order.id.desc())
    status = request.args.get("status", "")
    if status in {s.value for s in OrderStatus}:
        stmt = stmt.where(Order.status == OrderStatus(status))
    query = request.args.get("q", "").strip()
    if query:
        pattern = f"%{query}%"
        stmt = stmt.where(or_(Order.number.ilike(pattern), Client.name.ilike(pattern), Client.phones_text.ilike(pattern)))
    page = db.paginate(stmt, per_page=PER_PAGE, error_out=False)
    return render_template("demo/orders.html", page=page, status=status, query=query,
                           statuses=ORDER_STATUS_LABELS)


@bp.get("/orders/<int:order_id>")
@login_required
def view(order_id: int) -> str:
    order = db.get_or_404(Order, order_id)
    files = db.session.scalars(select(JobFile).where(JobFile.order_id == order.id).order_by(JobFile.id)).all()
    return render_template("demo/order.html", order=order, files=files, cancel_form=CancelForm())


@bp.get("/files/<int:file_id>")
@login_required
def file(file_id: int) -> Response:
    row = db.session.execute(
        select(JobFile.name, JobFile.content_type, JobFile.data).where(JobFile.id == file_id)).first()
    if row is None:
        abort(404)
    return send_file(BytesIO(row.data), mimetype=row.content_type, download_name=row.name,
                     as_attachment=request.args.get("download") == "1")
