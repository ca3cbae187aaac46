"""The demo CRM's tables and the plugin's, made in one step (demo seed, tests)."""

from __future__ import annotations

from flask import Flask

from .. import get_state
from ..core import migrate
from .models import db


def init_db(app: Flask) -> None:
    """Create the demo's tables and bring the plugin's tables to the newest migration."""
    with app.app_context():
        db.create_all()
    state = get_state(app)
    migrate.upgrade(state.db.engine, state.manifest)
