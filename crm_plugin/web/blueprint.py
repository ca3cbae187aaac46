"""The plugin's blueprint: its templates (templates/crm_plugin/...) and static files.

Routes are added by the modules that own them (webhooks, web chat); the extension imports them.
"""

from __future__ import annotations

from flask import Blueprint

from .._version import bundle_path

blueprint = Blueprint(
    "crm_plugin",
    __name__,
    template_folder=str(bundle_path("templates")),
    static_folder=str(bundle_path("static")),
    static_url_path="/static",
)


@blueprint.get("/health")
def health() -> dict[str, str]:
    return {"status": "ok"}
