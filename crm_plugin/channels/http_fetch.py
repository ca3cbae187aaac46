"""Download a file a person sent by plain HTTP GET (Viber media URLs, Slack url_private), with a size cap."""

from __future__ import annotations

from collections.abc import Mapping

import requests

from .base import SendError

MAX_DOWNLOAD = 20 * 1024 * 1024  # the same cap as Telegram's Bot API: bigger files are refused, not truncated
_CHUNK = 64 * 1024


def fetch_limited(session: requests.Session, url: str, *, timeout: float, limit: int = MAX_DOWNLOAD,
                  headers: Mapping[str, str] | None = None) -> bytes:
    """The body at ``url``; SendError(permanent) when larger than ``limit`` or refused, transient when the
    network or the server fails (the caller may try again)."""
    try:
        with session.get(url, headers=dict(headers or {}), timeout=timeout, stream=True) as response:
            if response.status_code >= 500:
                raise SendError(f"download failed: HTTP {response.status_code}")
            if response.status_code >= 400:
                raise SendError(f"download refused: HTTP {response.status_code}", permanent=True)
            declared = response.headers.get("Content-Length")
            if declared is not None and declared.isdigit() and int(declared) > limit:
                raise SendError(f"file too large: {declared} bytes > {limit}", permanent=True)
            body = bytearray()
            # A missing or lying Content-Length is caught while reading: never hold more than the limit.
            for chunk in response.iter_content(_CHUNK):
                body += chunk
                if len(body) > limit:
                    raise SendError(f"file too large: over {limit} bytes", permanent=True)
            return bytes(body)
    except requests.RequestException as exc:
        raise SendError(f"download failed: {exc.__class__.__name__}: {exc}") from exc
