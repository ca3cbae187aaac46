"""Errors that stop the plugin from starting: each carries one line that says what to do."""

from __future__ import annotations


class PluginStartupError(RuntimeError):
    """The plugin cannot start; the message is a single line naming the fix."""
