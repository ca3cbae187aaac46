"""The demo CRM's pages, one blueprint per area."""

from __future__ import annotations

from flask import Blueprint, Flask

from . import codes, jobs, leads, orders

BLUEPRINTS: tuple[Blueprint, ...] = (orders.bp, jobs.bp, leads.bp, codes.bp)


def register_views(app: Flask) -> None:
    for blueprint in BLUEPRINTS:
        app.register_blueprint(blueprint)
