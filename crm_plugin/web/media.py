"""The route that serves CRM files behind signed, expiring links (crm_plugin.core.media_links)."""

from __future__ import annotations

from flask import Response, abort

from ..core.media_links import file_id_of
from .blueprint import blueprint
from .current import get_state


@blueprint.get("/media/<token>")
def media(token: str) -> Response:
    state = get_state()
    crm_file_id = file_id_of(state.signing_key, token)
    if crm_file_id is None:
        abort(404)
    try:
        data = state.gateway.read_file(crm_file_id)
    except LookupError:  # the CRM deleted the file since the link was made
        abort(404)
    return Response(data, content_type="application/octet-stream",
                    headers={"Cache-Control": "private, max-age=3600"})
