"""Notification texts the company edits: one template per notification and language, with named placeholders.

A template is ``str.format`` text: ``{client}``, ``{address}`` and so on, ``{{`` for a brace. Only the
placeholders its notification lists are allowed, plain (no ``{a.b}``, ``{a[0]}``, ``{a!r}`` or ``{a:>9}``),
so ``problems`` finds everything rendering could trip on: a template the admin saved always renders. No row
in crm_plugin_notification_templates: the default text (the one the bot always sent).
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..core.models import NotificationTemplate
from ..host import Job, JobKind
from .cards import short_address

LANGUAGES = ("ru", "en")

# What each job placeholder holds, in Russian for the admin page (not in the bot's English-id catalogue).
JOB_PLACEHOLDERS: dict[str, str] = {
    "kind": "Замер или Монтаж",
    "order_number": "номер заказа",
    "client": "имя клиента",
    "phone": "телефон клиента",
    "address": "адрес (без города)",
    "full_address": "адрес полностью",
    "time": "дата и время визита",
    "comment": "комментарий менеджера",
    "links": "ссылка на карту (если у адреса есть координаты)",
}
ROUTE_PLACEHOLDERS: dict[str, str] = {
    "date": "дата маршрута",
    "count": "число визитов",
    "jobs": "визиты по порядку: время, адрес, клиент, телефон",
    "links": "ссылки на весь маршрут (Яндекс Карты, OpenStreetMap)",
}

_SUMMARY_RU = "Заказ № {order_number}\nАдрес: {address}\nВремя: {time}\nКлиент: {client}"
_SUMMARY_EN = "Order No. {order_number}\nAddress: {address}\nTime: {time}\nClient: {client}"


@dataclass(frozen=True)
class Notification:
    title: str  # Russian, as the admin page shows it
    placeholders: Mapping[str, str]
    defaults: Mapping[str, str]  # language -> text


NOTIFICATIONS: dict[str, Notification] = {
    "measurement_assigned": Notification("Новый замер (назначен сотруднику)", JOB_PLACEHOLDERS, {
        "ru": "Новый замер для вас:\n" + _SUMMARY_RU, "en": "New measurement for you:\n" + _SUMMARY_EN}),
    "measurement_offered": Notification("Новая заявка на замер (никто не назначен)", JOB_PLACEHOLDERS, {
        "ru": "Новая заявка на замер, её ещё никто не взял:\n" + _SUMMARY_RU,
        "en": "New measurement request, nobody has taken it yet:\n" + _SUMMARY_EN}),
    "installation_assigned": Notification("Новый монтаж", JOB_PLACEHOLDERS, {
        "ru": "Новый монтаж для вас:\n" + _SUMMARY_RU, "en": "New installation for you:\n" + _SUMMARY_EN}),
    "rescheduled": Notification("Время перенесено", JOB_PLACEHOLDERS, {
        "ru": "Время вашей заявки изменилось:\n" + _SUMMARY_RU,
        "en": "The time of your job has changed:\n" + _SUMMARY_EN}),
    "reassigned": Notification("Заявка передана вам", JOB_PLACEHOLDERS, {
        "ru": "Вам назначена заявка:\n" + _SUMMARY_RU, "en": "A job has been assigned to you:\n" + _SUMMARY_EN}),
    "updated": Notification("Заявка изменена", JOB_PLACEHOLDERS, {
        "ru": "Ваша заявка изменена:\n" + _SUMMARY_RU, "en": "Your job has been updated:\n" + _SUMMARY_EN}),
    "cancelled": Notification("Заявка отменена", JOB_PLACEHOLDERS, {
        "ru": "{kind} отменён:\n" + _SUMMARY_RU, "en": "{kind} cancelled:\n" + _SUMMARY_EN}),
    "morning_route": Notification("Утренний маршрут", ROUTE_PLACEHOLDERS, {
        "ru": "Маршрут на {date}, визитов: {count}\n\n{jobs}\n\n{links}",
        "en": "Your route for {date}, visits: {count}\n\n{jobs}\n\n{links}"}),
}

_KIND = {"ru": {JobKind.MEASUREMENT: "Замер", JobKind.INSTALLATION: "Монтаж"},
         "en": {JobKind.MEASUREMENT: "Measurement", JobKind.INSTALLATION: "Installation"}}
_NO_TIME = {"ru": "время не назначено", "en": "time not set"}


class TemplateError(ValueError):
    """A template that cannot be rendered; the message (Russian) names the problem."""


def problems(event: str, text: str) -> list[str]:
    """What is wrong with ``text`` as the template of ``event`` (Russian, for the admin form); [] when fine."""
    allowed = NOTIFICATIONS[event].placeholders
    if not text.strip():
        return ["Текст не может быть пустым"]
    try:
        parts = list(string.Formatter().parse(text))
    except ValueError:
        return ["Непарная фигурная скобка: для самой скобки пишите {{ или }}"]
    found = []
    for _literal, name, spec, conversion in parts:
        if name is None:
            continue
        if name == "":
            found.append("Пустые скобки {}: впишите имя, например {client}")
        elif name not in allowed:
            found.append(f"Неизвестная подстановка {{{name}}}; можно: " + ", ".join(f"{{{p}}}" for p in allowed))
        elif spec or conversion:
            found.append(f"Только имя в скобках: {{{name}}}")
    return list(dict.fromkeys(found))


def render(event: str, text: str, values: Mapping[str, Any]) -> str:
    """``text`` with the values filled in; TemplateError when the template is not a valid one."""
    found = problems(event, text)
    if found:
        raise TemplateError("; ".join(found))
    return text.format_map({name: str(values.get(name, "") or "") for name in NOTIFICATIONS[event].placeholders})


def saved_text(session: Session, event: str, language: str) -> str | None:
    return session.scalar(select(NotificationTemplate.text).where(NotificationTemplate.event == event,
                                                                  NotificationTemplate.language == language))


def text_for(session: Session, event: str, language: str) -> str:
    """The company's template, or the default; a saved one that no longer renders (the allowed placeholders
    changed in an update) falls back to the default rather than losing the notification."""
    language = language if language in LANGUAGES else LANGUAGES[0]
    saved = saved_text(session, event, language)
    if saved is not None and not problems(event, saved):
        return saved
    return NOTIFICATIONS[event].defaults[language]


def render_for(session: Session, event: str, language: str, values: Mapping[str, Any]) -> str:
    return render(event, text_for(session, event, language), values)


def job_values(job: Job, tz: ZoneInfo, language: str) -> dict[str, str]:
    """A job's placeholders, in ``language`` (time in the company's zone)."""
    language = language if language in LANGUAGES else LANGUAGES[0]
    when = (job.scheduled_at.astimezone(tz).strftime("%d.%m.%Y %H:%M") if job.scheduled_at is not None
            else _NO_TIME[language])
    links = ""
    if job.latitude is not None and job.longitude is not None:
        links = f"https://yandex.ru/maps/?pt={job.longitude:.6f},{job.latitude:.6f}&z=17&l=map"
    return {"kind": _KIND[language][job.kind], "order_number": job.order_number, "client": job.client.name,
            "phone": ", ".join(job.client.phones), "address": short_address(job.address),
            "full_address": job.address, "time": when, "comment": job.manager_comment or "", "links": links}
