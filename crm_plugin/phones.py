"""Phone numbers compared the way people type them: +7 999 123-45-67, 8 (999) 1234567 and 79991234567 are one
number. Russian numbers are the common case (a leading 8 is the domestic trunk prefix of +7); other countries
are accepted when written with their + code."""

from __future__ import annotations

import re

_ALLOWED = re.compile(r"^\+?[\d\s().\-]+$")
_MIN_DIGITS, _MAX_DIGITS = 10, 15  # E.164 allows at most 15 digits


def normalise_phone(raw: str | None) -> str | None:
    """The number as ``+<digits>`` (``+79991234567``), or None when ``raw`` is not a phone number."""
    if not raw:
        return None
    text = raw.strip()
    if not _ALLOWED.match(text):
        return None  # letters or @: a login or an email, not a phone
    digits = re.sub(r"\D", "", text)
    international = text.startswith("+")
    if not international:
        if len(digits) == 11 and digits[0] == "8":
            digits = "7" + digits[1:]
        elif len(digits) == 10 and digits[0] == "9":
            digits = "7" + digits  # a Russian mobile number without its country code
        elif not (len(digits) == 11 and digits[0] == "7"):
            return None
    if not _MIN_DIGITS <= len(digits) <= _MAX_DIGITS or digits[0] == "0":
        return None
    return "+" + digits


def format_phone(raw: str | None) -> str:
    """For display: ``+7 999 123-45-67`` for Russian numbers, the normalised form otherwise."""
    phone = normalise_phone(raw)
    if phone is None:
        return raw or ""
    if phone.startswith("+7") and len(phone) == 12:
        d = phone[2:]
        return f"+7 {d[:3]} {d[3:6]}-{d[6:8]}-{d[8:]}"
    return phone
