"""Numbers and dates the way each language writes them.

Russian: digits grouped by threes with a narrow no-break space (U+202F) from five digits up (``1234``,
``12 345``, ``1 234 567``), as Russian typography and CLDR's ``ru`` do; a decimal comma; a no-break space
(U+00A0) before ``₽`` and ``%``; a true minus sign (U+2212). ``1 234 567 ₽``, ``12,5 %``,
``01.11–15.11.2026``. English: ``₽1,234,567``, ``12.5%``, ``Nov 1–15, 2026``.
"""

from __future__ import annotations

import math
from datetime import date

from ..host import Unit

NNBSP = "\u202f"  # narrow no-break space: between groups of digits
NBSP = "\u00a0"  # no-break space: before a unit sign
MINUS = "\u2212"
DASH = "\u2013"  # en dash: ranges
EMPTY = "\u2014"  # em dash: no figure (a change against zero)

MONTHS_RU = ("январь", "февраль", "март", "апрель", "май", "июнь", "июль", "август", "сентябрь", "октябрь",
             "ноябрь", "декабрь")
MONTHS_RU_SHORT = ("янв", "фев", "мар", "апр", "мая", "июн", "июл", "авг", "сен", "окт", "ноя", "дек")  # 1 мая
MONTHS_RU_ABBR = ("янв", "фев", "мар", "апр", "май", "июн", "июл", "авг", "сен", "окт", "ноя", "дек")  # май
MONTHS_EN = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
             "November", "December")
MONTHS_EN_SHORT = tuple(name[:3] for name in MONTHS_EN)


def _is_en(lang: str) -> bool:
    return lang == "en"


def number(value: float, lang: str, decimals: int = 0) -> str:
    """``value`` rounded to at most ``decimals`` places (trailing zeros dropped), grouped and signed as the
    language writes it: ``1 234 567``, ``12,5``, ``−3``; English ``1,234,567``, ``12.5``, ``-3``."""
    rounded = round(value, decimals)
    if rounded == 0:
        rounded = 0.0  # no "-0"
    whole, _, fraction = f"{abs(rounded):.{decimals}f}".partition(".")
    fraction = fraction.rstrip("0")
    if _is_en(lang):
        digits = f"{int(whole):,}"
    else:
        digits = whole if len(whole) < 5 else f"{int(whole):,}".replace(",", NNBSP)
    text = digits + (("." if _is_en(lang) else ",") + fraction if fraction else "")
    return ((MINUS if not _is_en(lang) else "-") + text) if rounded < 0 else text


def _decimals(unit: Unit, value: float) -> int:
    if unit is Unit.ROUBLES:
        return 0
    if unit is Unit.PERCENT:
        return 1
    return 0 if float(value).is_integer() else 1  # pieces: an average of pieces keeps one place


def amount(value: float, unit: Unit, lang: str) -> str:
    """A metric's figure with its unit: ``42``, ``1 234 567 ₽``, ``12,5 %`` (``₽1,234,567``, ``12.5%``)."""
    text = number(value, lang, _decimals(unit, value))
    if unit is Unit.ROUBLES:
        if _is_en(lang):
            return f"-₽{text[1:]}" if text.startswith("-") else f"₽{text}"
        return f"{text}{NBSP}₽"
    if unit is Unit.PERCENT:
        return f"{text}%" if _is_en(lang) else f"{text}{NBSP}%"
    return text


def signed(value: float, unit: Unit, lang: str) -> str:
    """A change in the metric's unit, always signed: ``+1 234 ₽``, ``−5``. A change of a percentage is in
    percentage points: ``+2,5 п. п.`` (``+2.5 pp``)."""
    if unit is Unit.PERCENT:
        text = number(abs(value), lang, 1) + (" pp" if _is_en(lang) else f"{NBSP}п.{NBSP}п.")
    else:
        text = amount(abs(value), unit, lang)
    if round(value, 1 if unit is Unit.PERCENT else _decimals(unit, value)) == 0:
        return text  # no change: "0", with no sign
    return ("+" if value > 0 else (MINUS if not _is_en(lang) else "-")) + text


def percent(value: float | None, lang: str, *, sign: bool = False) -> str:
    """A share or a relative change in per cent (``12,5 %``, ``+12,5 %``); ``—`` for None (nothing to
    compare with)."""
    if value is None or math.isnan(value):
        return EMPTY
    text = number(abs(value) if sign else value, lang, 1)
    text = f"{text}%" if _is_en(lang) else f"{text}{NBSP}%"
    if sign:
        if round(value, 1) == 0:
            return text
        return ("+" if value > 0 else (MINUS if not _is_en(lang) else "-")) + text
    return text


def compact(value: float, unit: Unit, lang: str) -> str:
    """A short axis label: ``250 тыс. ₽``, ``1,2 млн ₽`` (``₽250K``, ``₽1.2M``); small numbers in full."""
    size = abs(value)
    if size >= 1_000_000:
        short, suffix = value / 1_000_000, ("M" if _is_en(lang) else f"{NBSP}млн")
    elif size >= 10_000:
        short, suffix = value / 1_000, ("K" if _is_en(lang) else f"{NBSP}тыс.")
    else:
        return amount(value, unit, lang)
    text = number(short, lang, 1) + suffix
    if unit is Unit.ROUBLES:
        return f"₽{text}" if _is_en(lang) else f"{text}{NBSP}₽"
    return text


def day(value: date, lang: str, *, year: bool = True) -> str:
    """``01.11.2026`` (``Nov 1, 2026``); without the year ``01.11`` (``Nov 1``)."""
    if _is_en(lang):
        text = f"{MONTHS_EN_SHORT[value.month - 1]} {value.day}"
        return f"{text}, {value.year}" if year else text
    text = f"{value:%d.%m}"
    return f"{text}.{value.year}" if year else text


def date_range(start: date, end: date, lang: str) -> str:
    """A period's dates, the year written once when both ends share it: ``01.11–15.11.2026``,
    ``25.12.2025–10.01.2026``, ``01.11.2026`` (``Nov 1–15, 2026``, ``Oct 20 – Nov 3, 2026``)."""
    if start == end:
        return day(start, lang)
    if _is_en(lang):
        if start.year != end.year:
            return f"{day(start, lang)} {DASH} {day(end, lang)}"
        if start.month != end.month:
            return f"{day(start, lang, year=False)} {DASH} {day(end, lang)}"
        return f"{MONTHS_EN_SHORT[start.month - 1]} {start.day}{DASH}{end.day}, {end.year}"
    if start.year != end.year:
        return f"{day(start, lang)}{DASH}{day(end, lang)}"
    return f"{day(start, lang, year=False)}{DASH}{day(end, lang)}"


def short_day(value: date, lang: str) -> str:
    """An axis label of a day: ``1 ноя`` (``Nov 1``)."""
    if _is_en(lang):
        return f"{MONTHS_EN_SHORT[value.month - 1]} {value.day}"
    return f"{value.day}{NBSP}{MONTHS_RU_SHORT[value.month - 1]}"


def short_range(start: date, end: date, lang: str) -> str:
    """An axis label of a week: ``3–9 ноя``, ``28 окт – 3 ноя`` (``Nov 3–9``)."""
    if start == end:
        return short_day(start, lang)
    if start.month == end.month:
        if _is_en(lang):
            return f"{MONTHS_EN_SHORT[start.month - 1]} {start.day}{DASH}{end.day}"
        return f"{start.day}{DASH}{end.day}{NBSP}{MONTHS_RU_SHORT[end.month - 1]}"
    return f"{short_day(start, lang)} {DASH} {short_day(end, lang)}"


def month(value: date, lang: str, *, year: bool = False) -> str:
    """An axis label of a month: ``ноябрь`` or ``ноябрь 2026`` (``November 2026``)."""
    name = MONTHS_EN[value.month - 1] if _is_en(lang) else MONTHS_RU[value.month - 1]
    return f"{name} {value.year}" if year else name


def short_month(value: date, lang: str, *, year: bool = False) -> str:
    """An axis label of a month: ``ноя``, ``май 2027`` (``Nov``, ``May 2027``)."""
    name = MONTHS_EN_SHORT[value.month - 1] if _is_en(lang) else MONTHS_RU_ABBR[value.month - 1]
    return f"{name}{NBSP}{value.year}" if year else name
