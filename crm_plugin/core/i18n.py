"""The bot's texts in Russian and English, from gettext catalogues in crm_plugin/translations/.

Message ids are English; the Russian catalogue translates them (the English one is the ids themselves).
Placeholders use the ``%(name)s`` form gettext tools understand. To update the catalogues::

    pybabel extract -k t -k N_ -k gettext --no-location --sort-output -o /tmp/crm_plugin.pot \\
        crm_plugin/bot
    pybabel update -i /tmp/crm_plugin.pot -d crm_plugin/translations -D crm_plugin --no-fuzzy-matching
    # translate the new entries of crm_plugin/translations/ru/LC_MESSAGES/crm_plugin.po, then
    pybabel compile -d crm_plugin/translations -D crm_plugin --statistics

tests/test_bot_i18n.py fails when a message id in the code has no Russian translation or a .mo file is
older than its .po.
"""

from __future__ import annotations

import gettext as _gettext
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path
from typing import Any

DOMAIN = "crm_plugin"
LOCALE_DIR = Path(__file__).parent.parent / "translations"
LANGUAGES = ("ru", "en")
DEFAULT_LANGUAGE = "ru"


def N_(msgid: str) -> str:
    """Marks a message id for extraction where it is translated later (button labels kept as constants)."""
    return msgid


@lru_cache(maxsize=None)
def catalogue(language: str) -> _gettext.NullTranslations:
    return _gettext.translation(DOMAIN, str(LOCALE_DIR), languages=[language], fallback=True)


def gettext(language: str, msgid: str, **params: Any) -> str:
    """The text of ``msgid`` in ``language``, with ``%(name)s`` placeholders filled from ``params``."""
    text = catalogue(language).gettext(msgid)
    return text % params if params else text


def variants(msgid: str) -> set[str]:
    """Every language's text of ``msgid`` (a typed button label is matched against all of them)."""
    return {gettext(language, msgid) for language in LANGUAGES}


def normalise_language(value: str | None) -> str | None:
    """'en-GB' -> 'en'; None for languages the bot does not speak."""
    if not value:
        return None
    short = value.strip().lower().replace("_", "-").split("-")[0]
    return short if short in LANGUAGES else None


def pick_language(link_language: str | None, sender_language: str | None, default: str) -> str:
    """The employee's chosen language, else English for an English-speaking messenger profile, else the
    company's ``default`` (CRM_PLUGIN_LANGUAGE)."""
    chosen = normalise_language(link_language)
    if chosen:
        return chosen
    if normalise_language(sender_language) == "en":
        return "en"
    return normalise_language(default) or DEFAULT_LANGUAGE


def translator(language: str) -> _Translator:
    return _Translator(language)


class _Translator:
    def __init__(self, language: str) -> None:
        self.language = language

    def __call__(self, msgid: str, **params: Any) -> str:
        return gettext(self.language, msgid, **params)

    def all(self, msgids: Iterable[str]) -> list[str]:
        return [self(m) for m in msgids]
