"""What a bot turn needs from the platform, fetched before the turn's database transaction opens.

A measurer's file (up to 20 MB from Telegram) downloaded inside the turn would hold the turn's transaction
for as long as the download takes, and on SQLite every webhook waits behind that transaction. So the worker
downloads the file first, with no transaction open, only when the chat is waiting for files (the bot stores
nothing else), and the turn reads the bytes from here. Files sent outside an upload step are kept as
references and downloaded here when the person presses the button that saves them (crm_plugin.bot.loose_files).
Answering a pressed button (Telegram's spinner) is a platform call too and happens here as well.

A transient download failure (5xx, time-out, a dropped connection) goes up to the worker, which handles the
row again with back-off; anything else (a file too large, a 4xx) is kept and raised where the turn asks for
the file, so the bot fails that turn as before, with an apology.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from ..bot.loose_files import kept_files
from ..bot.reports import expects_file
from ..channels.base import Channel, SendError
from ..core.chat import ButtonPress, Document, FileRef, Inbound, Photo
from ..core.state import PluginState

log = logging.getLogger(__name__)


@dataclass
class Prefetched:
    """The turn's channel and the files downloaded for it; ``download`` is the turn's download."""

    channel: Channel
    files: dict[str, bytes] = field(default_factory=dict)
    errors: dict[str, Exception] = field(default_factory=dict)

    def download(self, file: FileRef) -> bytes:
        if file.file_id in self.files:
            return self.files[file.file_id]
        if file.file_id in self.errors:
            raise self.errors[file.file_id]
        # Not foreseen (the bot asked for a file its chat was not waiting for): correct, if slower.
        log.warning("file %s was not downloaded before the turn; downloading it inside the turn", file.file_id)
        return self.channel.download(file)


def prefetch(state: PluginState, channel: Channel, bot_id: int, inbound: Inbound, *,
             raise_transient: bool) -> Prefetched:
    """Acknowledge a pressed button and download a file the chat is waiting for, with no transaction open.
    ``raise_transient``: a transient download failure goes up (the worker tries again); on the row's last try
    it is kept instead, so the turn fails with an apology."""
    channel.acknowledge(inbound)  # e.g. stop the spinner on a pressed Telegram button; best effort
    prefetched = Prefetched(channel)
    event = inbound.event
    if isinstance(event, ButtonPress):  # «which job» for files sent outside an upload step: those files
        with state.db.session() as session:
            kept = kept_files(session, bot_id, inbound)
        for ref in kept:
            _fetch(channel, ref, prefetched, raise_transient)
        return prefetched
    if not isinstance(event, (Photo, Document)):
        return prefetched
    with state.db.session() as session:  # a short read, closed before the download starts
        wanted = expects_file(session, bot_id, inbound)
    if wanted:
        _fetch(channel, event.file, prefetched, raise_transient)
    return prefetched


def _fetch(channel: Channel, ref: FileRef, prefetched: Prefetched, raise_transient: bool) -> None:
    try:
        prefetched.files[ref.file_id] = channel.download(ref)
    except SendError as error:
        if raise_transient and not error.permanent:
            raise
        prefetched.errors[ref.file_id] = error
    except Exception as error:  # noqa: BLE001 - the turn meets it where it asks for the file
        prefetched.errors[ref.file_id] = error
