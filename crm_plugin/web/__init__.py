"""The Flask edge of the plugin: its blueprint with the webhooks, the web chat's API and signed media links."""

from . import media, webchat, webhooks  # noqa: F401  (each adds its routes to the blueprint)
from .blueprint import blueprint
from .readiness import refuse_unless_ready

blueprint.before_request(refuse_unless_ready)

__all__ = ["blueprint"]
