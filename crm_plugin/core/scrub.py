"""Keep credentials out of stored errors and logs.

Client libraries put the request URL in their exceptions, and a Telegram URL holds the bot token
(``/bot123:ABC.../sendMessage``), so every error text is scrubbed before it is logged or stored.

Client libraries also log secrets themselves at DEBUG: urllib3 the request URL, viberbot (logger
``viber.bot.api``) every payload with its ``auth_token``, telebot the setWebhook parameters with the
``secret_token``. ``install_log_scrubbing`` puts ``ScrubTokensFilter`` on every logger of the libraries the
plugin pulls in (and on the plugin's own), never on the host's loggers or handlers. A logger filter applies only
to records logged on that very logger, so the filter goes on each one: the loggers that exist, and, made ahead
of time, one per module of each library plus the names libraries choose themselves (``TeleBot``,
``viber.bot.api``): a logger a library creates later by one of those names is the one already filtered.

The filter masks what the patterns recognise (a ``bot<token>`` path, ``token=`` parameters, ``"auth_token":
"..."`` fields, ``Bearer`` headers, Slack ``xox.-``/``xapp-`` tokens) and every secret value the process has
seen (``remember_secrets``: the channels register their bots' secrets when they open them).
"""

from __future__ import annotations

import importlib.util
import logging
import os
import re
import threading
import traceback
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote, quote_plus

MASK = "***"
_TELEGRAM_TOKEN = re.compile(r"bot\d+:[A-Za-z0-9_-]+")
# Credentials that travel as URL query parameters (Telegram's setWebhook secret_token, VK's access_token).
_SECRET_PARAMETER = re.compile(r"\b(secret_token|access_token|token)=[^&\s\"']+")
_SECRET_KEYS = (r"auth_token|secret_token|access_token|token|bot_token|app_token|signing_secret|secret|secret_key"
                r"|client_secret|x-viber-auth-token|x-telegram-bot-api-secret-token|authorization")
# The same keys in a logged dict or JSON object: 'auth_token': '...', "secret": "...".
_SECRET_FIELD = re.compile(r"""(?P<key>(?P<q>['"])(?:""" + _SECRET_KEYS + r""")(?P=q)\s*:\s*)"""
                           r"""(?P<v>['"])(?:\\.|(?!(?P=v)).)*(?P=v)""", re.IGNORECASE)
_BEARER = re.compile(r"\b(Bearer\s+)[A-Za-z0-9._~+/=-]+")
_SLACK_TOKEN = re.compile(r"\bx(?:ox[a-z]|app)-[A-Za-z0-9-]+")
_MIN_SECRET_LENGTH = 4  # shorter values ("1", "ok") would mangle ordinary text and protect nothing
_MIN_KNOWN_LENGTH = 8  # a value remembered process-wide is masked in every line of every library: no words
_MAX_KNOWN = 20_000

# Loggers of the libraries the plugin pulls in: every module of these packages, and the names libraries pick
# themselves. The plugin's own loggers are scrubbed too (defence in depth: its code scrubs its texts already).
# Not the chart renderer's (kaleido, choreographer, logistro): they never see a secret, and logistro gives its
# loggers a class of its own, which a logger made here first would not have ('Logger' has no 'debug2').
LIBRARY_PACKAGES = ("crm_plugin", "telebot", "vk_api", "jconfig", "viberbot", "slack_sdk", "requests", "urllib3",
                    "websocket", "websockets", "charset_normalizer", "idna", "certifi")
LIBRARY_LOGGERS = ("TeleBot", "vk_api", "viber", "viber.bot", "viber.bot.api", "slack_sdk", "slack_bolt",
                   "urllib3", "requests", "websocket", "websockets")


def scrub(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with every secret value (also URL-encoded) and every ``bot<token>`` replaced by ***."""
    for secret in sorted({s for s in secrets if s and len(s) >= _MIN_SECRET_LENGTH}, key=len, reverse=True):
        for form in {secret, quote(secret, safe=""), quote_plus(secret)}:
            text = text.replace(form, MASK)
    text = _SECRET_PARAMETER.sub(lambda m: f"{m.group(1)}={MASK}", text)
    return _TELEGRAM_TOKEN.sub("bot" + MASK, text)


def scrub_log_text(text: str) -> str:
    """A log line without any secret the process knows or the patterns recognise."""
    text = _known.scrub(text)
    text = _SECRET_FIELD.sub(lambda m: f"{m.group('key')}{m.group('v')}{MASK}{m.group('v')}", text)
    text = _BEARER.sub(lambda m: m.group(1) + MASK, text)
    text = _SLACK_TOKEN.sub(MASK, text)
    return scrub(text)


def secret_values(credentials: Mapping[str, Any], *extra: str | None) -> list[str]:
    """Every string in a bot's decrypted credentials (token, signing secret...), plus ``extra``."""
    values = [v for v in credentials.values() if isinstance(v, str)]
    return values + [v for v in extra if v]


class _KnownSecrets:
    """Secret values seen by this process (bots' tokens, webhook secrets), as one regular expression."""

    def __init__(self) -> None:
        self._values: dict[str, None] = {}  # insertion-ordered: the oldest go first past _MAX_KNOWN
        self._pattern: re.Pattern[str] | None = None
        self._lock = threading.Lock()

    def add(self, values: Iterable[object]) -> None:
        new = [v for v in values if isinstance(v, str) and len(v) >= _MIN_KNOWN_LENGTH and v not in self._values]
        if not new:
            return
        with self._lock:
            for value in new:
                self._values[value] = None
            while len(self._values) > _MAX_KNOWN:
                del self._values[next(iter(self._values))]
            forms = {form for value in self._values for form in (value, quote(value, safe=""), quote_plus(value))}
            self._pattern = re.compile("|".join(map(re.escape, sorted(forms, key=len, reverse=True))))

    def scrub(self, text: str) -> str:
        pattern = self._pattern
        return pattern.sub(MASK, text) if pattern is not None else text


_known = _KnownSecrets()


def remember_secrets(values: Iterable[object]) -> None:
    """Mask these values (strings of 8 characters or more) in every scrubbed log line from now on."""
    _known.add(values)


class ScrubTokensFilter(logging.Filter):
    """A logging filter for client libraries' loggers: the record is kept, its text (message, traceback,
    stack) scrubbed."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a broken format is logging's own error to report, not ours
            return True
        cleaned = scrub_log_text(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:
            # Formatters print exc_text when it is set: the traceback is formatted (and scrubbed) here, once.
            record.exc_text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
        if record.exc_text:
            record.exc_text = scrub_log_text(record.exc_text)
        if record.stack_info:
            record.stack_info = scrub_log_text(record.stack_info)
        return True


_install_lock = threading.Lock()
_walked: set[str] = set()
_seen_loggers = -1


def install_log_scrubbing() -> None:
    """Put ScrubTokensFilter on every library logger (see the module's docstring). Cheap to call again: it
    looks again only when loggers were added since."""
    global _seen_loggers
    manager = logging.Logger.manager
    if len(manager.loggerDict) == _seen_loggers and _walked.issuperset(LIBRARY_PACKAGES):
        return
    with _install_lock:
        names = list(LIBRARY_LOGGERS)
        for package in LIBRARY_PACKAGES:
            if package not in _walked:
                names += _module_names(package)
                _walked.add(package)
        for name in names:
            _add_filter(logging.getLogger(name))
        for name, logger in list(manager.loggerDict.items()):
            if isinstance(logger, logging.Logger) and is_library_logger(name):
                _add_filter(logger)
        _seen_loggers = len(manager.loggerDict)


def is_library_logger(name: str) -> bool:
    """Whether the logger ``name`` belongs to the plugin or a library it pulls in (not to the host)."""
    roots = LIBRARY_PACKAGES + LIBRARY_LOGGERS
    return any(name == root or name.startswith(root + ".") for root in roots)


def _add_filter(logger: logging.Logger) -> None:
    if not any(isinstance(f, ScrubTokensFilter) for f in logger.filters):
        logger.addFilter(ScrubTokensFilter())


def _module_names(package: str) -> list[str]:
    """Every module name of an installed package, found on disk without importing anything."""
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return []
    if spec is None:
        return []
    names = [package]
    for location in spec.submodule_search_locations or ():
        for folder, dirs, files in os.walk(location):
            dirs[:] = [d for d in dirs if d.isidentifier()]
            relative = os.path.relpath(folder, location)
            prefix = package if relative == "." else package + "." + relative.replace(os.sep, ".")
            names += [f"{prefix}.{f[:-3]}" for f in files if f.endswith(".py") and f != "__init__.py"]
            if relative != ".":
                names.append(prefix)
    return names
