"""Every text of the bot is translated into Russian, and the compiled catalogues match their sources."""

from __future__ import annotations

import gettext
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from crm_plugin.core import i18n

ROOT = Path(__file__).resolve().parent.parent
KEYWORDS = {"t": None, "N_": None, "gettext": None}
SOURCES = [ROOT / "crm_plugin" / "bot"]  # notifications and the crash apology live there too


def msgids_in_code() -> set[str]:
    found: set[str] = set()
    for source in SOURCES:
        directory, only = (source, None) if source.is_dir() else (source.parent, source.name)
        for filename, _line, message, _comments, _context in extract_from_dir(
                str(directory), keywords=KEYWORDS, comment_tags=(), strip_comment_tags=True):
            if only is None or filename == only:
                found.add(message if isinstance(message, str) else message[0])
    return found


def catalogue(language: str):  # type: ignore[no-untyped-def]
    with open(i18n.LOCALE_DIR / language / "LC_MESSAGES" / f"{i18n.DOMAIN}.po", "rb") as f:
        return read_po(f, locale=language)


def test_the_code_has_texts_to_check() -> None:
    assert len(msgids_in_code()) > 100  # the extraction itself works


def test_every_message_of_the_code_is_translated_into_russian() -> None:
    ru = catalogue("ru")
    untranslated = sorted(m for m in msgids_in_code() if not (ru.get(m) and ru.get(m).string
                                                               and not ru.get(m).fuzzy))
    assert untranslated == []


def test_placeholders_survive_translation() -> None:
    import re

    for message in catalogue("ru"):
        if message.id:
            names = lambda s: sorted(re.findall(r"%\((\w+)\)", s))  # noqa: E731
            assert names(message.string) == names(message.id), message.id


@pytest.mark.parametrize("language", i18n.LANGUAGES)
def test_compiled_catalogue_matches_its_source(language: str) -> None:
    source = {m.id: m.string for m in catalogue(language) if m.id and m.string and not m.fuzzy}
    with open(i18n.LOCALE_DIR / language / "LC_MESSAGES" / f"{i18n.DOMAIN}.mo", "rb") as f:
        compiled = gettext.GNUTranslations(f)
    compiled_messages = {k: v for k, v in compiled._catalog.items() if k}  # type: ignore[attr-defined]
    assert compiled_messages == source


def test_language_choice() -> None:
    assert i18n.pick_language(None, None, "ru") == "ru"
    assert i18n.pick_language(None, "en-GB", "ru") == "en"
    assert i18n.pick_language(None, "de", "ru") == "ru"
    assert i18n.pick_language("ru", "en", "ru") == "ru"  # the binding's choice wins
    assert i18n.pick_language(None, None, "en") == "en"
    assert i18n.gettext("ru", "Today") == "Сегодня" and i18n.gettext("en", "Today") == "Today"
