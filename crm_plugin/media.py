"""Signed, expiring URLs for CRM files, for platforms that fetch media by URL (Viber).

The URL carries the file id signed with the plugin's key, so nobody can walk the CRM's files by guessing ids.
"""

from __future__ import annotations

from flask import Response, abort
from itsdangerous import BadSignature, URLSafeTimedSerializer

from .blueprint import blueprint
from .extension import PluginState, get_state

MEDIA_URL_TTL = 7 * 24 * 3600  # Viber may fetch late, when a person opens the chat


def _serializer(state: PluginState) -> URLSafeTimedSerializer:
    key = str(state.setting("SECRET_KEY") or state.config.get("SECRET_KEY"))
    return URLSafeTimedSerializer(key, salt="crm_plugin/media")


def media_url(state: PluginState, crm_file_id: int) -> str:
    public = state.setting("PUBLIC_URL")
    if not public:
        raise LookupError("CRM_PLUGIN_PUBLIC_URL is not set: platforms cannot fetch files from this CRM")
    token = _serializer(state).dumps(crm_file_id)
    return f"{public.rstrip('/')}{state.setting('URL_PREFIX')}/media/{token}"


@blueprint.get("/media/<token>")
def media(token: str) -> Response:
    state = get_state()
    try:
        crm_file_id = int(_serializer(state).loads(token, max_age=MEDIA_URL_TTL))
    except (BadSignature, ValueError):
        abort(404)
    data = state.gateway.read_file(crm_file_id)
    return Response(data, content_type="application/octet-stream",
                    headers={"Cache-Control": "private, max-age=3600"})
