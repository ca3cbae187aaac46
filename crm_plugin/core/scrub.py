"""Keep credentials out of stored errors and logs.

Client libraries put the request URL in their exceptions, and a Telegram URL holds the bot token
(``/bot123:ABC.../sendMessage``), so every error text is scrubbed before it is logged or stored.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote, quote_plus

MASK = "***"
_TELEGRAM_TOKEN = re.compile(r"bot\d+:[A-Za-z0-9_-]+")
# Credentials that travel as URL query parameters (Telegram's setWebhook secret_token, VK's access_token).
_SECRET_PARAMETER = re.compile(r"\b(secret_token|access_token|token)=[^&\s\"']+")
_MIN_SECRET_LENGTH = 4  # shorter values ("1", "ok") would mangle ordinary text and protect nothing


def scrub(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with every secret value (also URL-encoded) and every ``bot<token>`` replaced by ***."""
    for secret in sorted({s for s in secrets if s and len(s) >= _MIN_SECRET_LENGTH}, key=len, reverse=True):
        for form in {secret, quote(secret, safe=""), quote_plus(secret)}:
            text = text.replace(form, MASK)
    text = _SECRET_PARAMETER.sub(lambda m: f"{m.group(1)}={MASK}", text)
    return _TELEGRAM_TOKEN.sub("bot" + MASK, text)


def secret_values(credentials: Mapping[str, Any], *extra: str | None) -> list[str]:
    """Every string in a bot's decrypted credentials (token, signing secret...), plus ``extra``."""
    values = [v for v in credentials.values() if isinstance(v, str)]
    return values + [v for v in extra if v]


class ScrubTokensFilter:
    """A logging filter for client libraries' loggers (urllib3 logs every request URL at DEBUG, and a
    Telegram URL holds the bot token): the record is kept, its text scrubbed."""

    def filter(self, record: Any) -> bool:
        message = record.getMessage()
        cleaned = scrub(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


def install_log_scrubbing() -> None:
    import logging

    logger = logging.getLogger("urllib3.connectionpool")
    if not any(isinstance(f, ScrubTokensFilter) for f in logger.filters):
        logger.addFilter(ScrubTokensFilter())
