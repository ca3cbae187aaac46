"""crm_plugin: messenger bots for a Flask CRM, as an installable plugin."""

from __future__ import annotations

from ._version import __version__
from .core.errors import PluginStartupError
from .core.state import PluginState
from .extension import CrmPlugin
from .host import CrmGateway
from .web.current import get_state

__all__ = ["CrmGateway", "CrmPlugin", "PluginStartupError", "PluginState", "__version__", "get_state"]
