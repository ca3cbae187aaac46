"""crm_plugin.stats.periods: the named periods in the company's days, the previous period, typed ranges."""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest

from crm_plugin.stats.periods import MAX_DAYS, Period, PeriodError, Preset, company_today, parse_period, preset_period
from crm_plugin.stats.text import period_error_text

UTC = timezone.utc
MOSCOW = "Europe/Moscow"


def named(now: datetime, tz: str = MOSCOW) -> dict[Preset, tuple[date, date]]:
    return {preset: (p.start, p.end) for preset in Preset for p in [preset_period(preset, now, tz)]}


def test_new_years_night_in_moscow_is_already_the_new_year() -> None:
    # 21:30 UTC on 31 December is 00:30 on 1 January in Moscow (UTC+3, no daylight saving).
    periods = named(datetime(2025, 12, 31, 21, 30, tzinfo=UTC))
    assert periods == {
        Preset.TODAY: (date(2026, 1, 1), date(2026, 1, 1)),
        Preset.YESTERDAY: (date(2025, 12, 31), date(2025, 12, 31)),
        Preset.THIS_WEEK: (date(2025, 12, 29), date(2026, 1, 1)),  # Monday 29 December to Thursday
        Preset.LAST_WEEK: (date(2025, 12, 22), date(2025, 12, 28)),
        Preset.THIS_MONTH: (date(2026, 1, 1), date(2026, 1, 1)),
        Preset.LAST_MONTH: (date(2025, 12, 1), date(2025, 12, 31)),
        Preset.QUARTER: (date(2026, 1, 1), date(2026, 1, 1)),
        Preset.YEAR: (date(2026, 1, 1), date(2026, 1, 1)),
    }
    # the same instant is still 2025 on the server's UTC clock and in New York
    assert company_today(datetime(2025, 12, 31, 21, 30, tzinfo=UTC), "America/New_York") == date(2025, 12, 31)


def test_month_and_quarter_edges() -> None:
    march_first = named(datetime(2026, 2, 28, 22, 0, tzinfo=UTC))  # 01:00 on 1 March in Moscow
    assert march_first[Preset.TODAY] == (date(2026, 3, 1), date(2026, 3, 1))
    assert march_first[Preset.LAST_MONTH] == (date(2026, 2, 1), date(2026, 2, 28))
    assert march_first[Preset.QUARTER] == (date(2026, 1, 1), date(2026, 3, 1))
    assert march_first[Preset.THIS_WEEK] == (date(2026, 2, 23), date(2026, 3, 1))  # a Sunday ends its week
    leap = named(datetime(2028, 3, 10, 12, 0, tzinfo=UTC))
    assert leap[Preset.LAST_MONTH] == (date(2028, 2, 1), date(2028, 2, 29))
    assert named(datetime(2026, 10, 1, 9, 0, tzinfo=UTC))[Preset.QUARTER] == (date(2026, 10, 1), date(2026, 10, 1))
    assert named(datetime(2026, 9, 30, 20, 59, tzinfo=UTC))[Preset.QUARTER] == (date(2026, 7, 1), date(2026, 9, 30))


def test_a_zone_with_daylight_saving() -> None:
    # Berlin moves its clocks forward on 29 March 2026: 23:30 UTC on the 28th is already 00:30 on the 29th
    # (UTC+1), 22:30 UTC on the 29th is 00:30 on the 30th (UTC+2).
    berlin = "Europe/Berlin"
    assert preset_period(Preset.TODAY, datetime(2026, 3, 28, 23, 30, tzinfo=UTC), berlin).start == date(2026, 3, 29)
    assert preset_period(Preset.TODAY, datetime(2026, 3, 29, 22, 30, tzinfo=UTC), berlin).start == date(2026, 3, 30)
    week = preset_period(Preset.LAST_WEEK, datetime(2026, 3, 29, 22, 30, tzinfo=UTC), berlin)
    assert (week.start, week.end, week.days) == (date(2026, 3, 23), date(2026, 3, 29), 7)
    with pytest.raises(ValueError):
        company_today(datetime(2026, 3, 29, 12, 0), berlin)  # naive


@pytest.mark.parametrize(("period", "previous"), [
    (Period(date(2026, 11, 15), date(2026, 11, 15), Preset.TODAY), (date(2026, 11, 14), date(2026, 11, 14))),
    (Period(date(2026, 11, 9), date(2026, 11, 11), Preset.THIS_WEEK), (date(2026, 11, 2), date(2026, 11, 4))),
    (Period(date(2026, 11, 2), date(2026, 11, 8), Preset.LAST_WEEK), (date(2026, 10, 26), date(2026, 11, 1))),
    (Period(date(2026, 11, 1), date(2026, 11, 15), Preset.THIS_MONTH), (date(2026, 10, 1), date(2026, 10, 15))),
    (Period(date(2026, 3, 1), date(2026, 3, 31), Preset.LAST_MONTH), (date(2026, 2, 1), date(2026, 2, 28))),
    (Period(date(2026, 1, 1), date(2026, 1, 31), Preset.THIS_MONTH), (date(2025, 12, 1), date(2025, 12, 31))),
    (Period(date(2026, 4, 1), date(2026, 5, 31), Preset.QUARTER), (date(2026, 1, 1), date(2026, 2, 28))),
    (Period(date(2028, 1, 1), date(2028, 2, 29), Preset.YEAR), (date(2027, 1, 1), date(2027, 2, 28))),
    (Period(date(2026, 11, 1), date(2026, 11, 15)), (date(2026, 10, 17), date(2026, 10, 31))),  # typed: right before
])
def test_the_previous_period(period: Period, previous: tuple[date, date]) -> None:
    before = period.previous()
    assert (before.start, before.end) == previous and before.end < period.start


def test_a_period_token_round_trips() -> None:
    period = Period(date(2026, 11, 1), date(2026, 11, 15), Preset.THIS_MONTH)
    assert period.token() == "20261101-20261115-this_month" and Period.from_token(period.token()) == period
    assert Period.from_token("20261101-20261115") == Period(date(2026, 11, 1), date(2026, 11, 15))
    for bad in ("", "20261301-20261315", "2026-11-01", "20261101-20261115-someday"):
        with pytest.raises(ValueError):
            Period.from_token(bad)
    with pytest.raises(ValueError):
        Period(date(2026, 11, 2), date(2026, 11, 1))


TODAY = date(2026, 11, 20)


@pytest.mark.parametrize(("typed", "start", "end"), [
    ("01.11–15.11", date(2026, 11, 1), date(2026, 11, 15)),
    ("01.11-15.11", date(2026, 11, 1), date(2026, 11, 15)),
    ("01.11.2026-15.11.2026", date(2026, 11, 1), date(2026, 11, 15)),
    ("1.11.26 - 15.11.26", date(2026, 11, 1), date(2026, 11, 15)),
    (" с 1.11 по 15.11 ", date(2026, 11, 1), date(2026, 11, 15)),
    ("01.11 — 30.11", date(2026, 11, 1), date(2026, 11, 30)),  # the end may be ahead of today
    ("1/11-15/11", date(2026, 11, 1), date(2026, 11, 15)),
    ("01.11", date(2026, 11, 1), date(2026, 11, 1)),  # one day
    ("01.12–15.12", date(2025, 12, 1), date(2025, 12, 15)),  # December is not yet this year: last year's
    ("15.12–10.01", date(2025, 12, 15), date(2026, 1, 10)),  # over the new year
    ("15.12.2025–10.01", date(2025, 12, 15), date(2026, 1, 10)),
    ("15.12–10.01.2026", date(2025, 12, 15), date(2026, 1, 10)),
    ("29.02.2024-01.03.2024", date(2024, 2, 29), date(2024, 3, 1)),
    ("01.01.2024–31.12.2026", date(2024, 1, 1), date(2026, 12, 31)),  # three years: allowed
])
def test_typed_ranges(typed: str, start: date, end: date) -> None:
    period = parse_period(typed, TODAY)
    assert (period.start, period.end, period.preset) == (start, end, None)


@pytest.mark.parametrize(("typed", "code"), [
    ("", "format"), ("вчера", "format"), ("1-15", "format"), ("01.11-15.11-20.11", "format"),
    ("01.11.2026 15.11.2026", "format"), ("32.01-05.02", "date"), ("31.02.2026", "date"),
    ("29.02.2026", "date"), ("01.13-05.13", "date"), ("15.11.2026-01.11.2026", "order"),
    ("01.01.2020-01.01.2026", "too_long"), ("01.12.2026-05.12.2026", "future"),
])
def test_typed_nonsense_is_refused_with_a_reason(typed: str, code: str) -> None:
    with pytest.raises(PeriodError) as caught:
        parse_period(typed, TODAY)
    assert caught.value.code == code
    russian, english = period_error_text(caught.value, "ru"), period_error_text(caught.value, "en")
    assert russian != english and russian.endswith(".") and "{" not in russian + english


def test_error_texts_say_what_to_type() -> None:
    with pytest.raises(PeriodError) as caught:
        parse_period("вчера и позавчера", TODAY)
    assert period_error_text(caught.value, "ru") == (
        "Не понял период «вчера и позавчера». Напишите даты так: 01.11–15.11 или 01.11.2026–15.11.2026.")
    with pytest.raises(PeriodError) as caught:
        parse_period("01.12.2026-05.12.2026", TODAY)
    assert period_error_text(caught.value, "ru") == "Период ещё не начался: 01.12.2026."
    assert period_error_text(caught.value, "en") == "The period has not started yet: Dec 1, 2026."
    assert MAX_DAYS > 3 * 365
