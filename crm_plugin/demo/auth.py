"""Logging in to the demo CRM (a session cookie via flask-login) and the role checks of its pages."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import LoginManager, current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from sqlalchemy import func, select
from werkzeug.wrappers import Response
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired

from ..host import Role
from .models import User, db

bp = Blueprint("auth", __name__)
login_manager = LoginManager()
login_manager.login_view = "auth.login"
login_manager.login_message = "Войдите, чтобы открыть эту страницу."
login_manager.login_message_category = "warning"

F = TypeVar("F", bound=Callable[..., Any])


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    user = db.session.get(User, int(user_id))
    return user if user is not None and user.active else None


def manager_required(view: F) -> F:
    """Managers and admins plan the field work; measurers and installers only look."""

    @wraps(view)
    @login_required
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if not current_user.has_role(Role.MANAGER):
            abort(403)
        return view(*args, **kwargs)

    return wrapped  # type: ignore[return-value]


class LoginForm(FlaskForm):
    login = StringField("Логин", validators=[DataRequired("Введите логин")])
    password = PasswordField("Пароль", validators=[DataRequired("Введите пароль")])


def _safe_next(target: str | None) -> str:
    # Only a path on this site: an absolute URL in ?next= would make the login page an open redirect.
    if target and not urlsplit(target).netloc and target.startswith("/") and not target.startswith("//"):
        return target
    return url_for("orders.index")


@bp.route("/login", methods=["GET", "POST"])
def login() -> str | Response:
    form = LoginForm()
    if form.validate_on_submit():
        user = db.session.scalar(select(User).where(func.lower(User.login) == form.login.data.strip().lower()))
        if user is None or not user.check_password(form.password.data):
            flash("Неверный логин или пароль.", "danger")
        elif not user.active:
            flash("Учётная запись отключена. Обратитесь к администратору.", "danger")
        else:
            login_user(user)
            return redirect(_safe_next(request.args.get("next")))
    status = 401 if request.method == "POST" else 200
    return render_template("demo/login.html", form=form), status  # type: ignore[return-value]


@bp.post("/logout")
@login_required
def logout() -> Response:
    logout_user()
    return redirect(url_for("auth.login"))
