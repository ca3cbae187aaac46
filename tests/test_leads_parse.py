"""Lead parsing (crm_plugin.inbound.lead_parse and channels.vk_leads.form_answers): pure, no database."""

from __future__ import annotations

import pytest

from crm_plugin.channels.vk_leads import form_answers
from crm_plugin.inbound.lead_parse import find_emails, find_phones, normalise_one_phone, parse_lead


@pytest.mark.parametrize(("text", "expected"), [
    ("Позвоните: +7 (917) 111-22-33", ["+79171112233"]),
    ("мой номер 8 917 111 22 33, жена 89171112234", ["+79171112233", "+79171112234"]),
    ("тел.8(843)211-00-11 после 18", ["+78432110011"]),  # a Kazan landline
    ("+7 917 111-22-33 и ещё раз +7 917 111-22-33", ["+79171112233"]),  # once each
    ("Казахстан: +7 701 123 45 67", ["+77011234567"]),
    ("Минск +375 29 123-45-67", ["+375291234567"]),
    ("3 окна 120x140, 2 шт по 5 000 руб, заказ 2024-05", []),  # sizes, prices and dates are no phones
    ("", []),
])
def test_phones_in_free_text_as_e164(text: str, expected: list[str]) -> None:
    assert find_phones(text) == expected


def test_emails_in_free_text() -> None:
    text = "Пишите на Ivan.Petrov@Mail.ru или <mailto:dacha@yandex.ru|dacha@yandex.ru>; не a@b и не @ok."
    assert find_emails(text) == ["ivan.petrov@mail.ru", "dacha@yandex.ru"]


def test_a_form_phone_and_a_profile_phone_are_normalised() -> None:
    assert normalise_one_phone("8 (917) 333-44-55") == "+79173334455"
    assert normalise_one_phone("нет телефона") is None and normalise_one_phone(None) is None


def test_lead_fields_from_text_and_profile() -> None:
    lead = {"source": "slack:#sales", "text": "Окна в дом. +7 (917) 111-22-33", "user_id": "U1",
            "link": "https://slack.com/archives/C1/p1"}
    parsed = parse_lead(lead, {"name": "Рустам", "email": "Rustam@Okna.ru", "phone": "+7 917 999-00-00"})
    assert (parsed.name, parsed.phone, parsed.email) == ("Рустам", "+79171112233", "rustam@okna.ru")
    assert parsed.phones == ("+79171112233", "+79179990000")  # what the person wrote comes first
    assert (parsed.source, parsed.link, parsed.text) == ("slack:#sales", "https://slack.com/archives/C1/p1", lead["text"])


def test_vk_lead_form_answers() -> None:
    answers = [{"key": "last_name", "question": "Фамилия", "answer": "Хасанова"},
               {"key": "first_name", "question": "Имя", "answer": "Алия"},
               {"key": "phone_number", "question": "Телефон", "answer": "8 917 333-44-55"},
               {"key": "email", "question": "Почта", "answer": "Aliya@Example.ru"},
               {"key": "custom_1", "question": "Что нужно?", "answer": ["Замер", "Монтаж"]},
               {"key": "custom_2", "question": "Пусто", "answer": ""}, "not a dict"]
    name, phone, email, text = form_answers(answers)
    assert (name, phone, email) == ("Алия Хасанова", "8 917 333-44-55", "aliya@example.ru")
    assert text.splitlines() == ["Фамилия: Хасанова", "Имя: Алия", "Телефон: 8 917 333-44-55",
                                 "Почта: Aliya@Example.ru", "Что нужно?: Замер, Монтаж"]  # as typed
    assert parse_lead({"text": text, "phone": phone, "email": email}).phone == "+79173334455"


@pytest.mark.parametrize("text", [
    "окна\x00 +7 917 111-22-33",  # a NUL byte
    "окна \ud800 +7 917 111-22-33",  # a lone surrogate
    "окна " * 30_000 + "+7 917 111-22-33",  # very long: past the searched part, the number is not found
    "9" * 5000,  # one huge digit run
])
def test_edge_texts_never_break_parsing(text: str) -> None:
    parsed = parse_lead({"text": text, "source": "vk:club1"})
    assert parsed.text == text and all(p.startswith("+") for p in parsed.phones)
