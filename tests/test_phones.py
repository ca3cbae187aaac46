"""crm_plugin.phones: one number however it is typed."""

from __future__ import annotations

import pytest

from crm_plugin.phones import format_phone, normalise_phone


@pytest.mark.parametrize("typed", [
    "+7 999 123-45-67", "8 (999) 1234567", "79991234567", "+79991234567", "89991234567", "9991234567",
    " +7 (999) 123 45 67 ", "8-999-123-45-67", "+7.999.123.45.67",
])
def test_russian_forms_are_one_number(typed: str) -> None:
    assert normalise_phone(typed) == "+79991234567"


def test_other_countries_keep_their_code() -> None:
    assert normalise_phone("+375 29 123-45-67") == "+375291234567"
    assert normalise_phone("+49 30 1234567") == "+49301234567"


@pytest.mark.parametrize("not_a_phone", [
    "", None, "ivanov", "ivanov@example.com", "12345", "+7 999 123", "1234567890123456", "99912345678",
    "+0 123 456 7890", "7999123456a",
])
def test_not_a_phone_is_none(not_a_phone: str | None) -> None:
    assert normalise_phone(not_a_phone) is None


def test_domestic_number_without_plus_must_be_russian() -> None:
    # 11 digits starting with 1 would be a US number only when written with its + code
    assert normalise_phone("12025550123") is None
    assert normalise_phone("+1 202 555 0123") == "+12025550123"


def test_format_for_display() -> None:
    assert format_phone("89991234567") == "+7 999 123-45-67"
    assert format_phone("+375291234567") == "+375291234567"
    assert format_phone("доб. 12") == "доб. 12"
    assert format_phone(None) == ""
