"""Leads: the list (channel messages land here through the plugin) and a form to add one by hand."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, url_for
from flask_login import login_required
from sqlalchemy import select
from werkzeug.wrappers import Response

from ...host import lead_created
from ..auth import manager_required
from ..forms import LeadForm
from ..models import Lead, db

bp = Blueprint("leads", __name__)

PER_PAGE = 50


@bp.get("/leads")
@login_required
def index() -> str:
    page = db.paginate(select(Lead).order_by(Lead.created_at.desc(), Lead.id.desc()), per_page=PER_PAGE,
                       error_out=False)
    return render_template("demo/leads.html", page=page, form=LeadForm())


@bp.post("/leads")
@manager_required
def create() -> str | Response:
    form = LeadForm()
    if not form.validate_on_submit():
        page = db.paginate(select(Lead).order_by(Lead.created_at.desc(), Lead.id.desc()), per_page=PER_PAGE,
                           error_out=False)
        return render_template("demo/leads.html", page=page, form=form), 400  # type: ignore[return-value]
    lead = Lead(source=form.source.data.strip(), name=(form.name.data or "").strip() or None,
                phone=(form.phone.data or "").strip() or None, text=form.text.data.strip())
    db.session.add(lead)
    db.session.commit()
    lead_created.send(current_app._get_current_object(), lead_id=lead.id)  # type: ignore[attr-defined]
    flash("Заявка добавлена.", "success")
    return redirect(url_for("leads.index"))
