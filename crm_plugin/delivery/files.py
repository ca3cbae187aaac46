"""The FileStore a channel uses while sending: CRM file bytes from the gateway, platform file ids cached.

Once a CRM file is uploaded to a platform, its platform file id (Telegram ``file_id``, ...) is kept in
crm_plugin_file_cache per bot, so the same measurement sheet sent again goes by id, not as bytes.
"""

from __future__ import annotations

import logging

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ..core.db import Database
from ..core.media_links import chart_url
from ..core.models import FileCache
from ..core.settings import Settings
from ..host import CrmGateway
from . import charts

log = logging.getLogger(__name__)


class CachedFileStore:
    """A ``crm_plugin.channels.base.FileStore`` for one bot. Call it inside an app context (the gateway
    may need one)."""

    def __init__(self, db: Database, gateway: CrmGateway, bot_id: int, *, settings: Settings | None = None,
                 signing_key: str = "") -> None:
        self.db = db
        self.gateway = gateway
        self.bot_id = bot_id
        self.settings = settings  # for public chart links (Viber); None: none can be made
        self.signing_key = signing_key
        self.chart_note: str | None = None  # why a chart did not go with its text, for the message log

    def cached_id(self, crm_file_id: int) -> str | None:
        with self.db.session() as session:
            return session.scalar(select(FileCache.platform_file_id).where(
                FileCache.bot_id == self.bot_id, FileCache.crm_file_id == crm_file_id))

    def read(self, crm_file_id: int) -> bytes:
        return self.gateway.read_file(crm_file_id)

    def remember(self, crm_file_id: int, platform_file_id: str) -> None:
        try:
            with self.db.session() as session:
                row = session.scalar(select(FileCache).where(
                    FileCache.bot_id == self.bot_id, FileCache.crm_file_id == crm_file_id))
                if row is None:
                    session.add(FileCache(bot_id=self.bot_id, crm_file_id=crm_file_id,
                                          platform_file_id=platform_file_id))
                else:
                    row.platform_file_id = platform_file_id  # the platform forgot the old id
        except IntegrityError:
            # Another sender cached the same file a moment ago: either id works.
            log.debug("file %s of bot %s cached concurrently", crm_file_id, self.bot_id)

    # statistics charts

    def chart_png(self, chart_key: str) -> bytes | None:
        data, why = charts.images_for(self.db).png(chart_key)
        if data is None:
            self.chart_note = f"chart not sent, the text went alone: {why}"
        return data

    def chart_url(self, chart_key: str) -> str | None:
        data = self.chart_png(chart_key)  # drawn here, in the worker: the link's request only reads it
        if data is None:
            return None
        if len(data) >= charts.VIBER_LIMIT:
            self.chart_note = f"chart not sent, the text went alone: {len(data)} bytes, over Viber's 1 MB"
            return None
        if self.settings is None:
            self.chart_note = "chart not sent, the text went alone: no settings to make a public link"
            return None
        try:
            return chart_url(self.settings, self.signing_key, chart_key)
        except LookupError as error:
            self.chart_note = f"chart not sent, the text went alone: {error}"
            return None

    def chart_cached_id(self, chart_key: str) -> str | None:
        with self.db.session() as session:
            return charts.uploaded_id(session, self.bot_id, chart_key)

    def remember_chart(self, chart_key: str, platform_file_id: str) -> None:
        charts.remember_upload(self.db, self.bot_id, chart_key, platform_file_id)
