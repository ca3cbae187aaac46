"""A FileStore over a dict: what the worker hands a channel, without a database."""

from __future__ import annotations


class MemoryFiles:
    """CRM file bytes by id (``MemoryFiles({1: b"..."})``), the platform ids learnt for them, and which
    files were read (a cached id must spare the upload)."""

    def __init__(self, files: dict[int, bytes] | None = None) -> None:
        self.files: dict[int, bytes] = dict(files or {})
        self.remembered: dict[int, str] = {}
        self.reads: list[int] = []
        self.charts: dict[str, bytes] = {}  # chart key -> PNG (crm_plugin.delivery.charts)
        self.chart_ids: dict[str, str] = {}

    def cached_id(self, crm_file_id: int) -> str | None:
        return self.remembered.get(crm_file_id)

    def read(self, crm_file_id: int) -> bytes:
        self.reads.append(crm_file_id)
        return self.files[crm_file_id]

    def remember(self, crm_file_id: int, platform_file_id: str) -> None:
        self.remembered[crm_file_id] = platform_file_id

    def chart_png(self, chart_key: str) -> bytes | None:
        return self.charts.get(chart_key)

    def chart_url(self, chart_key: str) -> str | None:
        return f"https://crm.example/media/chart/{chart_key}.png" if chart_key in self.charts else None

    def chart_cached_id(self, chart_key: str) -> str | None:
        return self.chart_ids.get(chart_key)

    def remember_chart(self, chart_key: str, platform_file_id: str) -> None:
        self.chart_ids[chart_key] = platform_file_id
