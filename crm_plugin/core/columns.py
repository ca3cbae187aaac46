"""Column types that make every value storable on SQLite and PostgreSQL alike.

What a stored row holds comes partly from strangers (a platform's body, a page): with these types a row never
fails on a length, a NUL or a lone surrogate. Lengths follow the platforms' documented limits (see
migrations/versions/0004_column_lengths.py): ids fit 64 characters (Telegram and VK ids are int64, Viber's
base64 ids about 24, Slack's about 11), dedupe keys and message ids 128.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, String, Text
from sqlalchemy.types import TypeDecorator

from .untrusted import bounded_id, clean_json, clean_text


class CleanString(TypeDecorator[str]):
    """Free text: NUL removed, lone surrogates replaced, cut to the column's length (the end marked "…")."""

    impl = String
    cache_ok = True

    def __init__(self, length: int | None = None) -> None:
        super().__init__(length)
        self.length = length

    def process_bind_param(self, value: str | None, dialect: Any) -> str | None:
        return clean_text(value, self.length) if isinstance(value, str) else value


class CleanText(CleanString):
    """Unbounded free text (error messages): NUL removed, lone surrogates replaced."""

    impl = Text
    cache_ok = True


class PlatformId(TypeDecorator[str]):
    """A platform's id or dedupe key: kept as it is when it fits, else ``sha256:`` and its hash, the same for
    the same id (crm_plugin.core.untrusted.bounded_id). Comparisons hash their value alike."""

    impl = String
    cache_ok = True

    def __init__(self, length: int) -> None:
        super().__init__(length)
        self.length = length

    def process_bind_param(self, value: str | None, dialect: Any) -> str | None:
        return bounded_id(value, self.length) if isinstance(value, str) else value


class CleanJSON(TypeDecorator[Any]):
    """JSON stored as every backend accepts it: no NaN or infinity (PostgreSQL refuses them), no NUL or lone
    surrogate in strings, nesting capped (crm_plugin.core.untrusted.clean_json)."""

    impl = JSON
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> Any:
        return clean_json(value)
