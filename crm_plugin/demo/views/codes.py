"""The "Коды входа" page: the CRM inbox where employees read the bot's one-time binding codes."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import current_user, login_required
from sqlalchemy import select

from ..models import LoginCode, db

bp = Blueprint("codes", __name__)

SHOWN = 100


@bp.get("/codes")
@login_required
def index() -> str:
    stmt = select(LoginCode).order_by(LoginCode.created_at.desc(), LoginCode.id.desc()).limit(SHOWN)
    if not current_user.is_admin:
        stmt = stmt.where(LoginCode.user_id == current_user.id)  # an employee sees only their own codes
    return render_template("demo/codes.html", codes=db.session.scalars(stmt).all())
