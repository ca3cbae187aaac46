"""The base of every plugin admin view: the access check and the plugin's templates."""

from __future__ import annotations

from typing import Any

from flask import abort
from flask_admin import BaseView

from ..extension import get_state
from .access import can_manage


class ProtectedView:
    """Mixin: a user without plugin access gets 403 and no data."""

    def is_accessible(self) -> bool:
        state = get_state()
        return can_manage(state, state.gateway.current_user())

    def inaccessible_callback(self, name: str, **kwargs: Any) -> Any:
        abort(403)


class PluginBaseView(ProtectedView, BaseView):
    pass
