"""Values from outside (a platform's body, a page's JSON) made safe to read and to store.

``load_json`` is ``json.loads`` with the limits a stranger's body needs: no NaN or Infinity (not JSON, and
PostgreSQL refuses them), no float that overflows to infinity (``1e400``), no nesting deeper than any
platform sends (a deep body otherwise crashes the parser, or the encoder when the raw body is stored).
Every failure is a ValueError, so a caller answers 400 for all of them.

The ``clean_*`` functions make what is stored storable on every database: PostgreSQL refuses NUL in text,
neither backend encodes a lone surrogate (``"\\ud800"``), a column has a length. ``bounded_id`` keeps an id
or a dedupe key that does not fit as ``sha256:`` and its hash, so the same long id always maps to the same
stored key (a retried update is still recognised) and two different ones do not collide; a hashed id read
back from a row and stored again stays the same.
"""

from __future__ import annotations

import hashlib
import json
import math
from typing import Any

MAX_JSON_DEPTH = 64  # the platforms' bodies nest about 10 deep (a Slack block_actions payload the most)
HASH_PREFIX = "sha256:"
CUT_MARK = "…"


class UntrustedJsonError(ValueError):
    """A body that is not JSON, or not JSON any platform sends."""


def _no_constant(name: str) -> Any:
    raise UntrustedJsonError(f"{name} is not JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise UntrustedJsonError(f"the number {text[:40]} does not fit a float")
    return value


def load_json(data: bytes | str) -> Any:
    """The JSON value of ``data``; UntrustedJsonError (a ValueError) for anything a platform never sends."""
    try:
        value = json.loads(data, parse_constant=_no_constant, parse_float=_finite_float)
    except UntrustedJsonError:
        raise
    except RecursionError as exc:  # the C scanner's own guard, far below a 1 MB body of "["
        raise UntrustedJsonError("the JSON nests too deep") from exc
    except ValueError as exc:  # bad syntax, bad UTF-8 (UnicodeDecodeError), an int over 4300 digits
        raise UntrustedJsonError(f"not JSON: {exc}") from exc
    if json_depth(value) > MAX_JSON_DEPTH:
        raise UntrustedJsonError(f"the JSON nests deeper than {MAX_JSON_DEPTH}")
    return value


def json_depth(value: Any) -> int:
    """How deep lists and objects nest in ``value`` (a scalar: 0); iterative, so any depth is measured."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, (list, tuple)):
            children = item
        else:
            continue
        deepest = max(deepest, depth + 1)
        stack.extend((child, depth + 1) for child in children)
    return deepest


def clean_text(value: str, length: int | None = None) -> str:
    """``value`` without NUL, with lone surrogates replaced (U+FFFD), cut to ``length`` characters."""
    if "\x00" in value:
        value = value.replace("\x00", "")
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            # A pair split in two code points is joined again; a lone half becomes U+FFFD.
            value = value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    if length is not None and len(value) > length:
        value = value[:length - len(CUT_MARK)] + CUT_MARK
    return value


def bounded_id(value: str, length: int) -> str:
    """An id or key as it is when it fits ``length`` and is plain text, else ``sha256:<hex>`` cut to ``length``."""
    if len(value) <= length and "\x00" not in value and _encodable(value):
        return value  # an id hashed before (read back from a row) stays as it is
    digest = hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()
    return (HASH_PREFIX + digest)[:length]


def _encodable(value: str) -> bool:
    if value.isascii():
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def clean_json(value: Any, depth: int = 0) -> Any:
    """A copy of a JSON-like value that every database stores: strings and keys through ``clean_text``,
    NaN and infinities as the strings "NaN", "Infinity", "-Infinity", tuples as lists, nesting below
    ``MAX_JSON_DEPTH`` cut (replaced by the string "…"). Other values are kept as they are."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, dict):
        if depth >= MAX_JSON_DEPTH:
            return CUT_MARK
        return {clean_text(key) if isinstance(key, str) else key: clean_json(item, depth + 1)
                for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        if depth >= MAX_JSON_DEPTH:
            return CUT_MARK
        return [clean_json(item, depth + 1) for item in value]
    return value
