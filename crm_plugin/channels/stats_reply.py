"""What every channel does alike with a statistics answer (crm_plugin.core.chat.StatsReply): its text cut into
a picture's caption and the rest, which follows as a text message."""

from __future__ import annotations

import threading
import zlib

CAPTION_MIN_CUT = 0.6  # cut at a line break or space no earlier than this share of the limit


def split_caption(text: str, limit: int) -> tuple[str, str]:
    """(caption of at most ``limit`` characters, the rest); cut at a paragraph, line or word break where
    one is near the limit, so a figure is not split across two messages."""
    if len(text) <= limit:
        return text, ""
    floor = int(limit * CAPTION_MIN_CUT)
    for separator in ("\n\n", "\n", " "):
        cut = text.rfind(separator, floor, limit + 1)
        if cut > 0:
            return text[:cut].rstrip(), text[cut:].lstrip()
    return text[:limit], text[limit:]


class ChartLocks:
    """Locks by chart key for one channel (one bot): the sender threads of a broadcast wait for the first
    upload of a chart and reuse its platform id, instead of each uploading the same picture."""

    def __init__(self, stripes: int = 16) -> None:
        self._locks = [threading.Lock() for _ in range(stripes)]

    def __call__(self, key: str) -> threading.Lock:
        return self._locks[zlib.crc32(key.encode()) % len(self._locks)]
