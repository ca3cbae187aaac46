"""Incoming updates: stored the moment they arrive (webhook, polling, web chat), then run through the bot."""

from .receive import accept, handle_received

__all__ = ["accept", "handle_received"]
