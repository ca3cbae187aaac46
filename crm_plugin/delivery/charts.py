"""Statistics charts between the one who asks and the one who sends: a chart is stored once under its key
(crm_plugin.stats.charts.chart_key) in the transaction that enqueues the StatsReply naming it, rendered to PNG
once in the worker, and uploaded once per bot where the platform keeps files (Telegram file_id).

Producers (the bot's statistics answers, the admin's instant send, schedules) call ``store_chart``; the
sender and the channels read the PNG through the FileStore the sender hands them.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import weakref
import zlib
from collections import OrderedDict
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..core.db import Database
from ..core.models import StatsChart, StatsChartUpload, utcnow
from ..stats.charts import FONT, FONT_SIZE, SCALE, Chart
from ..stats.renderer import ChartRenderer, shared_renderer

log = logging.getLogger(__name__)

KEY_LENGTH = 200  # crm_plugin_charts.key
VIBER_LIMIT = 1024 * 1024  # Viber fetches pictures under 1 MB
CACHED = 16  # PNGs kept in memory per database: a send to many people reads one chart many times
LOCKS = 64  # striped per-key locks: threads of one process render a key once


def store_chart(session: Session, chart: Chart) -> str:
    """Keep ``chart`` (its figure and size) under ``chart.key`` in this transaction, once however many
    replies name it; returns the key for ``StatsReply.chart_key``."""
    key = stored_key(chart.key)
    row = {"key": key, "kind": chart.kind, "figure": chart.figure, "width": chart.width,
           "height": chart.height, "created_at": utcnow()}
    dialect = session.get_bind().dialect.name
    if dialect in ("postgresql", "sqlite"):
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        # ON CONFLICT DO NOTHING: two turns storing one chart must not fail each other's transaction.
        session.execute(insert(StatsChart).values(row).on_conflict_do_nothing(index_elements=["key"]))
    elif session.scalar(select(StatsChart.id).where(StatsChart.key == key)) is None:
        session.add(StatsChart(**row))
        session.flush()
    return key


def stored_key(key: str) -> str:
    """``key`` as the chart table keeps it: as it is when it fits, else cut and made unique by its hash (a
    CRM may name a metric at any length)."""
    if len(key) <= KEY_LENGTH:
        return key
    return f"{key[:KEY_LENGTH - 41]}-{hashlib.sha256(key.encode('utf-8', 'surrogatepass')).hexdigest()[:40]}"




class ChartImages:
    """The PNGs of stored charts for one database: read from the chart's row, or drawn by the renderer in
    this (worker) process and stored in the row once. Never raises for a chart that cannot be drawn:
    ``png`` answers None and ``why`` says why."""

    def __init__(self, db: Database, renderer: ChartRenderer | None = None) -> None:
        self.db = db
        self.renderer = renderer  # None: the process's shared renderer
        self._cache: OrderedDict[str, bytes] = OrderedDict()
        self._cache_lock = threading.Lock()
        self._locks = [threading.Lock() for _ in range(LOCKS)]

    def png(self, key: str) -> tuple[bytes | None, str | None]:
        """(the PNG, None) or (None, why it is not there)."""
        cached = self._cached(key)
        if cached is not None:
            return cached, None
        with self._locks[zlib.crc32(key.encode()) % LOCKS]:
            cached = self._cached(key)
            if cached is not None:
                return cached, None
            with self.db.session() as session:
                row = session.scalar(select(StatsChart).where(StatsChart.key == key))
                if row is None:
                    return None, f"chart {key} is not stored"
                if row.png is not None:
                    return self._keep(key, row.png), None
                figure, width, height = row.figure, row.width, row.height
            return self._draw(key, figure, width, height)

    def stored_png(self, key: str) -> bytes | None:
        """The PNG already drawn, without drawing it (web request threads)."""
        cached = self._cached(key)
        if cached is not None:
            return cached
        with self.db.session() as session:
            data = session.scalar(select(StatsChart.png).where(StatsChart.key == key))
        return self._keep(key, data) if data is not None else None

    def _draw(self, key: str, figure: dict[str, Any], width: int, height: int) -> tuple[bytes | None, str | None]:
        renderer = self.renderer or shared_renderer()
        data = renderer.render(figure, width=width, height=height, scale=SCALE)
        with self.db.session() as session:
            if data is None:
                why = renderer.last_failure() or "the chart could not be drawn"
                session.execute(update(StatsChart).where(StatsChart.key == key).values(error=why))
                return None, why
            # Only the first drawing is stored: another process may have drawn the same chart meanwhile.
            stored = session.execute(update(StatsChart).where(StatsChart.key == key, StatsChart.png.is_(None))
                                     .values(png=data, error=None, rendered_at=utcnow()))
            if not getattr(stored, "rowcount", 1):
                data = session.scalar(select(StatsChart.png).where(StatsChart.key == key)) or data
        return self._keep(key, data), None

    def _cached(self, key: str) -> bytes | None:
        with self._cache_lock:
            data = self._cache.get(key)
            if data is not None:
                self._cache.move_to_end(key)
            return data

    def _keep(self, key: str, data: bytes) -> bytes:
        with self._cache_lock:
            self._cache[key] = data
            self._cache.move_to_end(key)
            while len(self._cache) > CACHED:
                self._cache.popitem(last=False)
        return data


_images: weakref.WeakKeyDictionary[Database, ChartImages] = weakref.WeakKeyDictionary()
_images_lock = threading.Lock()


def images_for(db: Database) -> ChartImages:
    """The chart images of this database (one per process, so every sender thread shares its cache)."""
    with _images_lock:
        images = _images.get(db)
        if images is None:
            images = _images[db] = ChartImages(db)
        return images


def warm_renderer() -> None:
    """Start the process's chart browser now and draw one small chart (plotly.js's first layouts and the
    fonts are the slow part of the first renders), so a person's first chart does not wait for them."""
    renderer = shared_renderer()
    if not renderer.start():
        log.warning("the chart browser is not available: statistics go out as text")
        return
    figure = {"data": [{"type": "bar", "x": ["пн", "вт", "ср"], "y": [3, 1, 2], "text": ["3", "1", "2"],
                        "textposition": "outside"}],
              "layout": {"title": {"text": "<b>Прогрев</b>"}, "font": {"family": FONT, "size": FONT_SIZE}}}
    if renderer.render(figure, width=320, height=240, scale=1) is None:
        log.warning("the chart browser did not warm up: %s", renderer.last_failure())


def uploaded_id(session: Session, bot_id: int, key: str) -> str | None:
    return session.scalar(select(StatsChartUpload.platform_file_id).where(
        StatsChartUpload.bot_id == bot_id, StatsChartUpload.chart_key == key))


def remember_upload(db: Database, bot_id: int, key: str, platform_file_id: str) -> None:
    """Keep the platform's id of a chart uploaded by ``bot_id``; a concurrent upload's id is as good."""
    try:
        with db.session() as session:
            row = session.scalar(select(StatsChartUpload).where(
                StatsChartUpload.bot_id == bot_id, StatsChartUpload.chart_key == key))
            if row is None:
                session.add(StatsChartUpload(bot_id=bot_id, chart_key=key, platform_file_id=platform_file_id))
            else:
                row.platform_file_id = platform_file_id  # the platform forgot the old id
    except IntegrityError:
        log.debug("chart %s of bot %s remembered concurrently", key, bot_id)
