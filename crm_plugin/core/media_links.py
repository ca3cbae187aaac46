"""Signed, expiring links to CRM files, for platforms that fetch media by URL (Viber).

The link carries the file id signed with the plugin's key, so nobody can walk the CRM's files by guessing
ids. The route that serves them is crm_plugin.web.media.
"""

from __future__ import annotations

from itsdangerous import BadSignature, URLSafeTimedSerializer

from .settings import Settings

MEDIA_URL_TTL = 7 * 24 * 3600  # Viber may fetch late, when a person opens the chat


def _serializer(signing_key: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(signing_key, salt="crm_plugin/media")


def media_url(settings: Settings, signing_key: str, crm_file_id: int) -> str:
    base = settings.public_base()
    if base is None:
        raise LookupError("CRM_PLUGIN_PUBLIC_URL is not set: platforms cannot fetch files from this CRM")
    return f"{base}/media/{_serializer(signing_key).dumps(crm_file_id)}"


def file_id_of(signing_key: str, token: str) -> int | None:
    """The CRM file id a link names, None when the link is forged, broken or expired."""
    try:
        value = _serializer(signing_key).loads(token, max_age=MEDIA_URL_TTL)
    except BadSignature:
        return None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


# Statistics charts (issue 9): Viber wants the picture URL's last path segment to end in .png.

def _chart_serializer(signing_key: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(signing_key, salt="crm_plugin/chart")


def chart_url(settings: Settings, signing_key: str, chart_key: str) -> str:
    """A public, signed, expiring link to a stored chart's PNG, ending in ``.png``."""
    base = settings.public_base()
    if base is None:
        raise LookupError("CRM_PLUGIN_PUBLIC_URL is not set: platforms cannot fetch charts from this CRM")
    return f"{base}/media/chart/{_chart_serializer(signing_key).dumps(chart_key)}.png"


def chart_key_of(signing_key: str, token: str) -> str | None:
    """The chart key a link names (``token`` without ``.png``), None when forged, broken or expired."""
    try:
        value = _chart_serializer(signing_key).loads(token, max_age=MEDIA_URL_TTL)
    except BadSignature:
        return None
    return value if isinstance(value, str) else None
