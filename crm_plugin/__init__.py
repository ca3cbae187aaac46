"""crm_plugin: messenger bots for a Flask CRM, as an installable plugin."""

from __future__ import annotations

from . import events as _events  # noqa: F401  (connects the host signals)
from . import notifications as _notifications  # noqa: F401  (host events -> messages to field staff)
from ._version import __version__
from .errors import PluginStartupError
from .extension import CrmPlugin, PluginState, get_state
from .host import CrmGateway

__all__ = ["CrmGateway", "CrmPlugin", "PluginStartupError", "PluginState", "__version__", "get_state"]
