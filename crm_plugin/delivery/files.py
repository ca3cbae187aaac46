"""The FileStore a channel uses while sending: CRM file bytes from the gateway, platform file ids cached.

Once a CRM file is uploaded to a platform, its platform file id (Telegram ``file_id``, ...) is kept in
crm_plugin_file_cache per bot, so the same measurement sheet sent again goes by id, not as bytes.
"""

from __future__ import annotations

import logging

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ..core.db import Database
from ..core.models import FileCache
from ..host import CrmGateway

log = logging.getLogger(__name__)


class CachedFileStore:
    """A ``crm_plugin.channels.base.FileStore`` for one bot. Call it inside an app context (the gateway
    may need one)."""

    def __init__(self, db: Database, gateway: CrmGateway, bot_id: int) -> None:
        self.db = db
        self.gateway = gateway
        self.bot_id = bot_id

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
