"""The admin tab's texts: Russian by default, English when the host runs Flask-Babel and picks "en".

Message ids are the Russian texts; crm_plugin/admin/translations/en/LC_MESSAGES/crm_plugin_admin.po holds
the English ones, read with the standard library's gettext: the plugin needs no Flask-Babel. When the host
set up Flask-Babel (``Babel(app)``), its locale selector decides the language; otherwise the tab stays
Russian. To update the catalogue::

    pybabel extract -k t -k lazy_t -k N_ --no-location --sort-output -F crm_plugin/admin/babel.cfg \\
        -o /tmp/crm_plugin_admin.pot .
    pybabel update -i /tmp/crm_plugin_admin.pot -d crm_plugin/admin/translations -D crm_plugin_admin
    pybabel compile -d crm_plugin/admin/translations -D crm_plugin_admin
"""

from __future__ import annotations

import gettext
from functools import cache
from pathlib import Path
from typing import Any

from flask import current_app, has_request_context
from markupsafe import Markup, escape

DOMAIN = "crm_plugin_admin"
LOCALE_DIR = Path(__file__).parent / "translations"
DEFAULT_LANGUAGE = "ru"  # the message ids themselves


@cache
def _catalogue(language: str) -> gettext.NullTranslations:
    return gettext.translation(DOMAIN, str(LOCALE_DIR), languages=[language], fallback=True)


def language() -> str:
    """The request's language: the host's Flask-Babel locale when it set Babel up, else Russian."""
    if not has_request_context() or "babel" not in current_app.extensions:
        return DEFAULT_LANGUAGE
    from flask_babel import get_locale  # present: the host set it up

    locale = get_locale()
    return locale.language if locale is not None else DEFAULT_LANGUAGE


def t(text: str, **params: Any) -> str:
    """``text`` in the request's language, with ``%(name)s`` placeholders filled."""
    current = language()
    if current != DEFAULT_LANGUAGE:
        text = _catalogue(current).gettext(text)
    return text % params if params else text


class LazyText:
    """A text translated each time it is shown: labels declared at import time (column labels, menu
    names) follow the language of the request that renders them. Flask-Admin, WTForms and Jinja treat
    it as a string (str(), escaping, comparison, hashing, concatenation, % formatting)."""

    __slots__ = ("_params", "_text")

    def __init__(self, text: str, params: dict[str, Any]) -> None:
        self._text = text
        self._params = params

    def __str__(self) -> str:
        return t(self._text, **self._params)

    def __repr__(self) -> str:
        return f"lazy_t({self._text!r})"

    def __html__(self) -> Markup:
        return escape(str(self))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, (str, LazyText)):
            return NotImplemented
        return str(self) == str(other)

    def __lt__(self, other: object) -> bool:
        return str(self) < str(other)

    def __hash__(self) -> int:
        return hash(str(self))

    def __len__(self) -> int:
        return len(str(self))

    def __bool__(self) -> bool:
        return bool(self._text)

    def __contains__(self, item: str) -> bool:
        return item in str(self)

    def __add__(self, other: str) -> str:
        return str(self) + str(other)

    def __radd__(self, other: str) -> str:
        return str(other) + str(self)

    def __mod__(self, values: Any) -> str:
        return str(self) % values

    def __getattr__(self, name: str) -> Any:
        # str's methods (lower, format, startswith, ...) on the translated text
        if name.startswith("__") or name in LazyText.__slots__:  # copy and pickle probe these
            raise AttributeError(name)
        return getattr(str(self), name)


def lazy_t(text: str, **params: Any) -> LazyText:
    """For labels declared at import time (column labels, menu names): translated when shown."""
    return LazyText(text, params)
