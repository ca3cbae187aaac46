"""What an admin page takes from a URL or a form, cleaned before it reaches the database.

Anyone can type anything into an address bar: an id of ``abc``, ``2**63`` or ``²``, a page of ``10**30``, a NUL
character (PostgreSQL refuses NUL in text). A value the database would refuse is read here as "no such row"
(None) or left out: a record page then says "Record does not exist" and a list ignores it, never a 500.
"""

from __future__ import annotations

from typing import Any

from flask import request
from sqlalchemy import BigInteger

INT_MAX = 2**31 - 1  # PostgreSQL's integer
BIGINT_MAX = 2**63 - 1  # PostgreSQL's bigint, SQLite's integer
MAX_PAGE = 1_000_000  # pages of a list: 50 million rows deep is far past any real log


def id_limit(column: Any = None) -> int:
    """The largest value ``column`` (a model attribute or a Column) holds on every supported database."""
    return BIGINT_MAX if isinstance(getattr(column, "type", None), BigInteger) else INT_MAX


def parse_id(value: Any, column: Any = None, *, limit: int | None = None) -> int | None:
    """A row id typed into a URL or a form: ASCII digits within the column's range (or ``limit``), else
    None."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        return None
    text = value.strip()
    if not text or len(text) > 19 or not text.isascii() or not text.isdigit():
        return None
    number = int(text)
    return number if number <= (id_limit(column) if limit is None else limit) else None


def parse_ids(values: Any, column: Any = None) -> list[int]:
    """The ids of a bulk action (``rowid`` inputs): the readable ones, each once, in order."""
    ids = (parse_id(value, column) for value in values or ())
    return list(dict.fromkeys(i for i in ids if i is not None))


def form_id(name: str, column: Any = None) -> int | None:
    return parse_id(request.form.get(name), column)


def arg_id(name: str, column: Any = None) -> int | None:
    return parse_id(request.args.get(name), column)


def parse_page(value: Any) -> int:
    """A list page number: 0 (the first page) unless it is a sane non-negative number."""
    return parse_id(value, limit=MAX_PAGE) or 0


def storable(text: str | None) -> bool:
    """Whether every database can compare ``text`` with a column: no NUL, no lone surrogate."""
    if text is None:
        return True
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def clean_text(text: str | None) -> str | None:
    """A free-text argument (the search box) with what no database stores taken out; None when nothing
    is left."""
    if text is None:
        return None
    text = text.replace("\x00", "").encode("utf-8", "ignore").decode("utf-8")
    return text if text.strip() else None
