"""``flask --app crm_plugin.demo demo ...``: set up, seed and serve the demo CRM."""

from __future__ import annotations

import gc
import logging

import click
from flask import Flask, current_app
from flask.cli import with_appcontext
from sqlalchemy import inspect

from ..extension import start_worker
from ..web.current import get_state
from .database import init_db
from .models import User, db
from .seed import DEFAULT_ORDERS, seed

log = logging.getLogger(__name__)


@click.group("demo", help="The demo CRM: tables, demo data, a development server.")
def demo() -> None:
    pass


def _app() -> Flask:
    return current_app._get_current_object()  # type: ignore[attr-defined,no-any-return]


@demo.command("init-db", help="Create the demo's tables and apply the plugin's migrations.")
@with_appcontext
def init_db_command() -> None:
    init_db(_app())
    click.echo("Demo tables created; crm_plugin tables migrated.")


@demo.command("seed", help="Create the tables and fill them with demo data, once.")
@click.option("--orders", default=DEFAULT_ORDERS, show_default=True, help="How many orders to create.")
@click.option("--random-seed", default=7, show_default=True, help="The same seed gives the same data.")
@with_appcontext
def seed_command(orders: int, random_seed: int) -> None:
    app = _app()
    init_db(app)
    summary = seed(app, random_seed=random_seed, orders=orders)
    if summary.skipped:
        click.echo(f"The database already has data ({summary.users} users, {summary.orders} orders): "
                   "nothing was added.")
    else:
        click.echo(f"Seeded {summary.employees} employees ({summary.inactive} inactive), {summary.clients} clients, "
                   f"{summary.orders} orders, {summary.measurements} measurements, "
                   f"{summary.installations} installations, {summary.files} files, {summary.leads} leads.")
    click.echo(f"Admin login: {summary.admin_login} / {summary.admin_password}; "
               f"employees: their login / {summary.employee_password}")


@demo.command("serve", help="Run the demo CRM with the plugin's delivery thread (HOST, PORT from the environment).")
@click.option("--host", envvar="HOST", default="127.0.0.1", show_default=True)
@click.option("--port", envvar="PORT", default=5000, type=int, show_default=True)
@with_appcontext
def serve(host: str, port: int) -> None:
    from werkzeug.serving import run_simple

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app = _app()
    get_state(app).ensure_ready()  # a PluginStartupError prints its one line and exits 1
    if not inspect(db.engine).has_table(User.__tablename__):
        raise click.ClickException("the demo CRM has no tables yet; run `flask --app crm_plugin.demo demo seed`")
    _start_delivery(app)
    click.echo(f"Demo CRM on http://{host}:{port}/  (admin login: admin / admin after `demo seed`)")
    gc.freeze()  # what the app built at start stays: full collections stop walking it (crm_plugin.demo.wsgi)
    run_simple(host, port, app, threaded=True, use_reloader=False)


def _start_delivery(app: Flask) -> None:
    if get_state(app).settings.worker != "thread":
        log.info("CRM_PLUGIN_WORKER=external: run `flask crm-plugin worker` to deliver messages")
        return
    start_worker(app)
    log.info("crm_plugin delivery thread started")
