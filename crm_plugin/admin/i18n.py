"""The admin tab's texts: Russian by default, English when the host runs Flask-Babel and picks "en".

Message ids are the Russian texts; crm_plugin/admin/translations/en/LC_MESSAGES/crm_plugin_admin.po holds
the English ones. The host's own locale selector decides; without Flask-Babel the tab stays Russian. To
update the catalogue::

    pybabel extract -k t -k lazy_t -k N_ --no-location --sort-output -F crm_plugin/admin/babel.cfg \\
        -o /tmp/crm_plugin_admin.pot .
    pybabel update -i /tmp/crm_plugin_admin.pot -d crm_plugin/admin/translations -D crm_plugin_admin
    pybabel compile -d crm_plugin/admin/translations -D crm_plugin_admin
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import current_app, has_request_context

try:
    from flask_babel import Domain
    from flask_babel.speaklater import LazyString
except ImportError:  # the host has no Flask-Babel: Russian only
    Domain = None  # type: ignore[assignment,misc]
    LazyString = None  # type: ignore[assignment,misc]

DOMAIN = "crm_plugin_admin"
_domain = Domain(str(Path(__file__).parent / "translations"), domain=DOMAIN) if Domain is not None else None


def t(text: str, **params: Any) -> str:
    """``text`` in the request's language, with ``%(name)s`` placeholders filled."""
    if _domain is not None and has_request_context() and "babel" in current_app.extensions:
        text = _domain.get_translations().ugettext(text)
    return text % params if params else text


def lazy_t(text: str, **params: Any) -> Any:
    """For labels declared at import time (column labels, menu names): translated when shown."""
    if LazyString is None:
        return text % params if params else text
    return LazyString(t, text, **params)
