"""What the admin's browser tests share: the demo CRM served on loopback with its worker and the fake
Telegram, and a headless Debian Chromium."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import playwright.sync_api as playwright_api
from flask import Flask
from werkzeug.serving import make_server

from crm_plugin import get_state
from crm_plugin.demo.seed import seed
from crm_plugin.extension import start_worker

from .conftest import make_test_app
from .fakes.telegram import FakeTelegram


@contextmanager
def serve_demo(tmp_path: Path, *, orders: int) -> Iterator[tuple[str, Flask, FakeTelegram]]:
    """The demo CRM with demo data, CSRF on, on a loopback port, its worker, and the fake Telegram."""
    with FakeTelegram() as fake:
        server = make_server("127.0.0.1", 0, None, threaded=True)  # the port first: it is the public URL
        base = f"http://127.0.0.1:{server.server_port}"
        app = make_test_app(f"sqlite:///{tmp_path / 'crm.db'}", WTF_CSRF_ENABLED=True,
                            CRM_PLUGIN_DATABASE_URL=f"sqlite:///{tmp_path / 'plugin.db'}",
                            CRM_PLUGIN_TELEGRAM_API_URL=fake.url, CRM_PLUGIN_PUBLIC_URL=base)
        app.instance_path = str(tmp_path / "instance")
        seed(app, random_seed=7, orders=orders)
        server.app = app
        worker = start_worker(app)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield base, app, fake
        finally:
            server.shutdown()
            thread.join(5)
            worker.stop()
            get_state(app).db.dispose()


@contextmanager
def headless_chromium() -> Iterator[Any]:
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium",
                                             args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        try:
            yield browser
        finally:
            browser.close()
