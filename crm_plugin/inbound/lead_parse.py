"""What a lead says, read from its free text: phone numbers, e-mails, and the fields a CRM lead is made of.

Pure: no Flask, no platform SDK, no database. The capture (crm_plugin.inbound.leads) stores what the platform
sent; this module turns it, with the author's profile when the platform gave one, into a ``ParsedLead``.

Phones are found with ``phonenumbers.PhoneNumberMatcher`` at leniency POSSIBLE: the default (VALID) drops real
numbers whose range the library's metadata does not know yet. They are stored as E.164 (``+79171112233``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import phonenumbers
from phonenumbers import Leniency, PhoneNumberFormat, PhoneNumberMatcher

DEFAULT_REGION = "RU"
MAX_TEXT = 100_000  # characters of a lead's text searched for phones and e-mails (the matcher is O(n))
# A practical e-mail pattern: something@domain.tld, no spaces or angle brackets (Slack wraps as <mailto:a@b|a@b>).
_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[A-Za-z]{2,24}(?![\w-])")


@dataclass(frozen=True)
class ParsedLead:
    """The fields of one lead, ready for the CRM's LeadDraft (plus what the draft has no field for yet)."""

    text: str
    source: str
    name: str | None = None
    phone: str | None = None  # E.164, the first found
    email: str | None = None  # the first found, lower-cased
    phones: tuple[str, ...] = ()
    emails: tuple[str, ...] = ()
    link: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def find_phones(text: str, region: str = DEFAULT_REGION) -> list[str]:
    """Every phone number in ``text`` as E.164, in order, each once."""
    found: list[str] = []
    for match in PhoneNumberMatcher(text[:MAX_TEXT], region, leniency=Leniency.POSSIBLE):
        number = phonenumbers.format_number(match.number, PhoneNumberFormat.E164)
        if number not in found:
            found.append(number)
    return found


def normalise_one_phone(raw: str | None, region: str = DEFAULT_REGION) -> str | None:
    """One phone as a person typed it into a field (a lead form, a profile), as E.164; None when it is none."""
    if not raw:
        return None
    try:
        number = phonenumbers.parse(raw[:64], region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, PhoneNumberFormat.E164)


def find_emails(text: str) -> list[str]:
    """Every e-mail address in ``text``, lower-cased, in order, each once."""
    found: list[str] = []
    for match in _EMAIL.finditer(text[:MAX_TEXT]):
        email = match.group(0).strip(".").lower()
        if email not in found:
            found.append(email)
    return found


def parse_lead(lead: dict[str, Any], profile: dict[str, Any] | None = None,
               region: str = DEFAULT_REGION) -> ParsedLead:
    """The lead's fields from its stored capture and the author's platform profile (VK users.get, Slack
    users.info), when there is one. What the person wrote wins over their profile: a phone in the text is the
    one they want to be called on."""
    profile = profile or {}
    text = str(lead.get("text") or "")
    given = normalise_one_phone(str(lead["phone"]), region) if lead.get("phone") else None  # a form's field
    phones = list(dict.fromkeys(([given] if given else []) + find_phones(text, region)))
    profile_phone = normalise_one_phone(profile.get("phone"), region)
    if profile_phone and profile_phone not in phones:
        phones.append(profile_phone)
    emails = list(dict.fromkeys([str(e).lower() for e in (lead.get("email"),) if e] + find_emails(text)))
    if profile.get("email") and str(profile["email"]).lower() not in emails:
        emails.append(str(profile["email"]).lower())
    name = lead.get("name") or profile.get("name") or None
    return ParsedLead(text=text, source=str(lead.get("source") or ""), name=str(name) if name else None,
                      phone=phones[0] if phones else None, email=emails[0] if emails else None,
                      phones=tuple(phones), emails=tuple(emails), link=lead.get("link") or None)
