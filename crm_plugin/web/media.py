"""The route that serves CRM files behind signed, expiring links (crm_plugin.core.media_links)."""

from __future__ import annotations

from flask import Response, abort

from ..core.media_links import chart_key_of, file_id_of
from ..delivery.charts import images_for
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


@blueprint.get("/media/chart/<token>.png")
def chart(token: str) -> Response:
    """A statistics chart for a platform that fetches pictures by URL (Viber): only one the worker has drawn
    already; a web request never draws one."""
    state = get_state()
    key = chart_key_of(state.signing_key, token)
    data = images_for(state.db).stored_png(key) if key is not None else None
    if data is None:
        abort(404)
    return Response(data, content_type="image/png", headers={"Cache-Control": "private, max-age=3600"})
