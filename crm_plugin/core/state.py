"""Everything the plugin keeps for one host app: its settings, database, gateway, secrets and worker.

It imports nothing of Flask: the layers below the Flask edge (channels, delivery, inbound, bot) take a
``PluginState`` and never look it up in ``current_app``. ``crm_plugin.extension`` builds one per app and
keeps it in ``app.extensions["crm_plugin"]``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..host import CrmGateway
from .crypto import SecretBox
from .db import Database
from .in_flight import InFlight
from .manifest import Manifest
from .migrate import ensure_migrated
from .settings import Settings


class WorkerHandle(Protocol):
    """What the rest of the plugin needs of a running delivery worker."""

    def wake(self) -> None: ...
    def stop(self, timeout: float = 10.0) -> bool: ...


@dataclass
class PluginState:
    manifest: Manifest
    settings: Settings
    gateway: CrmGateway
    db: Database
    secrets: SecretBox
    signing_key: str  # signs media links: CRM_PLUGIN_SECRET_KEY or the app's SECRET_KEY
    upload_dir: str  # files people send in the web chat: <the app's instance folder>/crm_plugin_web_uploads
    # The host's context for gateway calls made off a request (worker threads, signals): the app context.
    host_context: Callable[[], AbstractContextManager[Any]] = nullcontext
    worker: WorkerHandle | None = None
    worker_retry_at: float = 0.0  # monotonic time before which a refused embedded worker is not tried again
    webhooks: InFlight = field(default_factory=InFlight)  # requests being answered: bot turns let them go first
    _ready: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def ensure_ready(self) -> None:
        """Check the database (once it passed, never again); PluginStartupError with the fix when the
        plugin's tables are missing or behind."""
        if not self._ready:
            ensure_migrated(self.db.engine, self.manifest)
            self._ready = True

    def is_ready(self) -> bool:
        try:
            self.ensure_ready()
        except Exception:  # noqa: BLE001 - a missing table, an unreachable database: not ready, said elsewhere
            return False
        return True

    def wake_worker(self) -> None:
        """New rows were committed: the worker in this process looks at once (others get told by the database)."""
        if self.worker is not None:
            self.worker.wake()
