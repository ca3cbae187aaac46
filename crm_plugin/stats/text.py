"""The statistics' messages in Russian and English: a metric report, a «Сводка», period names and the errors
of a typed period. Plain text (no markup), as every channel shows it; numbers and dates by formatting.py.

The words are a small table of both languages here rather than entries of the bot's gettext catalogue:
they are few, they are all in this module, and the catalogue belongs to the bot's conversation.
"""

from __future__ import annotations

from datetime import date

from ..host import Breakdown, Unit
from . import formatting as fmt
from .periods import Period, PeriodError, Preset
from .report import Change, MetricReport, Row, Summary

WORDS: dict[str, tuple[str, str]] = {  # key: (ru, en)
    "stats": ("📊", "📊"),
    "summary": ("Сводка", "Summary"),
    "mine": ("Мои показатели", "My figures"),
    "total": ("Итого", "Total"),
    "previous_total": ("Прошлый период", "Previous period"),
    "change": ("Изменение", "Change"),
    "no_data": ("За период ничего нет.", "Nothing in this period."),
    "nobody": ("не указан", "not set"),
    "others": ("Остальные", "Others"),
    "compared": ("сравнение с", "compared with"),
    "by_employee": ("По сотрудникам", "By employee"),
    "by_manager": ("По менеджерам", "By manager"),
    "by_lead_source": ("По источникам", "By source"),
    "today": ("Сегодня", "Today"),
    "yesterday": ("Вчера", "Yesterday"),
    "this_week": ("Эта неделя", "This week"),
    "last_week": ("Прошлая неделя", "Last week"),
    "this_month": ("Этот месяц", "This month"),
    "last_month": ("Прошлый месяц", "Last month"),
    "quarter": ("Квартал", "Quarter"),
    "year": ("Год", "Year"),
    "period": ("Период", "Period"),
    "previous": ("прошлый период", "previous period"),
    "error_format": ("Не понял период «{text}». Напишите даты так: 01.11–15.11 или 01.11.2026–15.11.2026.",
                     "I could not read the period \"{text}\". Type the dates like 01.11-15.11 or "
                     "01.11.2026-15.11.2026."),
    "error_date": ("Такой даты нет: {value}.", "There is no such date: {value}."),
    "error_order": ("Конец периода раньше начала: {text}.", "The period ends before it starts: {text}."),
    "error_too_long": ("Период длиннее трёх лет: выберите покороче.",
                       "The period is longer than three years: choose a shorter one."),
    "error_future": ("Период ещё не начался: {value}.", "The period has not started yet: {value}."),
}


def word(key: str, lang: str) -> str:
    ru, en = WORDS[key]
    return en if lang == "en" else ru


def preset_name(preset: Preset, lang: str) -> str:
    return word(preset.value, lang)


def breakdown_title(breakdown: Breakdown, lang: str) -> str:
    return word(f"by_{breakdown.value}", lang)


def period_label(period: Period, lang: str) -> str:
    """``Этот месяц: 01.11–15.11.2026``; a typed period: its dates alone."""
    dates = fmt.date_range(period.start, period.end, lang)
    return f"{preset_name(period.preset, lang)}: {dates}" if period.preset else dates


def row_label(row: Row, lang: str) -> str:
    if row.rest:
        return f"{word('others', lang)} ({row.rest})"
    return row.label if row.label is not None else word("nobody", lang)


def change_parts(change: Change, unit: Unit, lang: str) -> tuple[str, str | None]:
    """(``+134 567 ₽``, ``+12,2 %``); the per cent is ``—`` when the previous total was 0. A percentage
    changes by percentage points alone (``+2,5 п. п.``, None): a per cent of a per cent reads as nonsense.
    (``—``, None) when both totals are 0."""
    if change.percent is None and not change.absolute:
        return fmt.EMPTY, None
    relative = None if unit is Unit.PERCENT else fmt.percent(change.percent, lang, sign=True)
    return fmt.signed(change.absolute, unit, lang), relative


def change_text(change: Change, unit: Unit, lang: str) -> str:
    """``+134 567 ₽ (+12,2 %)``, ``+5 (—)``, ``+2,5 п. п.``, ``—``."""
    absolute, relative = change_parts(change, unit, lang)
    return f"{absolute} ({relative})" if relative else absolute


def report_text(report: MetricReport, lang: str) -> str:
    """The message of one metric over a period: title, period, total, the change against the previous
    period, and the top of the breakdown with each row's share."""
    spec, unit = report.spec, report.spec.unit
    title = spec.title(lang)
    heading = f"{word('mine', lang)}: {title}" if report.employee_id is not None else title
    lines = [f"{word('stats', lang)} {heading}", period_label(report.period, lang), ""]
    previous = fmt.date_range(report.previous_period.start, report.previous_period.end, lang)
    lines += [f"{word('total', lang)}: {fmt.amount(report.total, unit, lang)}",
              f"{word('previous_total', lang)} ({previous}): {fmt.amount(report.previous_total, unit, lang)}",
              f"{word('change', lang)}: {change_text(report.change, unit, lang)}"]
    if report.breakdown is not None and report.rows:
        lines += ["", f"{breakdown_title(report.breakdown, lang)}:"]
        for index, row in enumerate(report.rows, start=1):
            share = f" ({fmt.percent(row.share * 100, lang)})" if row.share is not None else ""
            number = "" if row.rest else f"{index}. "
            lines.append(f"{number}{row_label(row, lang)} {fmt.EMPTY} {fmt.amount(row.value, unit, lang)}{share}")
    if report.empty:
        lines += ["", word("no_data", lang)]
    return "\n".join(lines)


def summary_text(summary: Summary, lang: str) -> str:
    """«Сводка»: one line a metric, ``Выручка: 1 234 567 ₽ (+134 567 ₽; +12,2 %)``, against the previous
    period's totals."""
    heading = word("mine", lang) if summary.employee_id is not None else word("summary", lang)
    previous = fmt.date_range(summary.previous_period.start, summary.previous_period.end, lang)
    lines = [f"{word('stats', lang)} {heading}", period_label(summary.period, lang),
             f"({word('compared', lang)} {previous})", ""]
    for line in summary.lines:
        unit = line.spec.unit
        absolute, relative = change_parts(line.change, unit, lang)
        lines.append(f"{line.spec.title(lang)}: {fmt.amount(line.total, unit, lang)} "
                     f"({absolute}{'; ' + relative if relative else ''})")
    if summary.empty:
        lines += ["", word("no_data", lang)]
    return "\n".join(lines)


def period_error_text(error: PeriodError, lang: str) -> str:
    """Why a typed period was refused, in the reader's language."""
    value = error.value
    if error.code == "future" and value:
        value = fmt.day(date.fromisoformat(value), lang)
    return word(f"error_{error.code}", lang).format(text=error.text.strip(), value=value)
