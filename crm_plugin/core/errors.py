"""Errors that stop the plugin from starting: each carries one line that says what to do."""

from __future__ import annotations

import click


class PluginStartupError(click.ClickException, RuntimeError):
    """The plugin cannot start; the message is a single line naming the fix.

    A click exception, so any ``flask`` command (the host's app factory runs inside it) prints that one
    line and exits 1 instead of a traceback.
    """
