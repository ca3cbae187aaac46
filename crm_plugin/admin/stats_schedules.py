"""«Расписания статистики»: statistics sent by themselves, daily, on chosen weekdays or on a day of the month,
at a time in the company's zone (crm_plugin.bot.stats_schedules sends them from the worker)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import request
from markupsafe import Markup
from wtforms import BooleanField, SelectField, SelectMultipleField, StringField, widgets
from wtforms.validators import DataRequired, Length, ValidationError

from ..bot.stats_schedules import LAST_DAY, PERIODS, latest_due, parse_time
from ..core.models import StatsSchedule
from ..host import Role
from ..stats.text import preset_name
from ..web.current import get_state
from .base import PluginForm, PluginModelView
from .filters import company_tz
from .i18n import language, lazy_t, t
from .labels import ROLE_LABELS

FREQUENCY_LABELS = {"daily": lazy_t("каждый день"), "weekly": lazy_t("по дням недели"),
                    "monthly": lazy_t("раз в месяц")}
WEEKDAYS = (lazy_t("пн"), lazy_t("вт"), lazy_t("ср"), lazy_t("чт"), lazy_t("пт"), lazy_t("сб"), lazy_t("вс"))
AUDIENCE_LABELS = {"subscribers": lazy_t("всем подписчикам"), "roles": lazy_t("ролям"),
                   "people": lazy_t("сотрудникам")}


class Checkboxes(SelectMultipleField):
    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()


def _time(form: Any, field: Any) -> None:
    try:
        parse_time(field.data or "")
    except ValueError:
        raise ValidationError(t("Время в виде ЧЧ:ММ, например 09:00")) from None


class ScheduleForm(PluginForm):
    name = StringField(lazy_t("Название"), validators=[DataRequired(), Length(max=200)])
    enabled = BooleanField(lazy_t("Включено"), default=True)
    frequency = SelectField(lazy_t("Как часто"), choices=list(FREQUENCY_LABELS.items()), default="daily")
    weekday_list = Checkboxes(lazy_t("Дни недели"), coerce=int, choices=list(enumerate(WEEKDAYS)),
                              description=lazy_t("Для «по дням недели»"))
    month_day = SelectField(lazy_t("День месяца"), coerce=int, default=1,
                            choices=[(d, str(d)) for d in range(1, 29)] + [(LAST_DAY, lazy_t("последний день"))],
                            description=lazy_t("Для «раз в месяц»"))
    time = StringField(lazy_t("Время (ЧЧ:ММ)"), default="09:00", validators=[DataRequired(), _time])
    period = SelectField(lazy_t("Период"), default=PERIODS[0].value)
    metric_list = Checkboxes(lazy_t("Показатели"))
    audience = SelectField(lazy_t("Кому"), choices=list(AUDIENCE_LABELS.items()), default="subscribers")
    role_list = Checkboxes(lazy_t("Роли"), choices=[(r.value, ROLE_LABELS[r]) for r in Role])
    people_list = SelectMultipleField(lazy_t("Сотрудники"), coerce=int)
    skip_empty = BooleanField(lazy_t("Не отправлять пустые"), default=True,
                              description=lazy_t("Когда все показатели за период равны нулю, рассылка пропускается"))

    def validate(self, extra_validators: Any = None) -> bool:
        valid = super().validate(extra_validators)
        checks = [
            (self.frequency.data == "weekly" and not self.weekday_list.data, self.weekday_list,
             t("Выберите хотя бы один день недели")),
            (not self.metric_list.data, self.metric_list, t("Выберите хотя бы один показатель")),
            (self.audience.data == "roles" and not self.role_list.data, self.role_list,
             t("Выберите хотя бы одну роль")),
            (self.audience.data == "people" and not self.people_list.data, self.people_list,
             t("Выберите хотя бы одного сотрудника")),
        ]
        for failed, field, message in checks:
            if failed:
                field.errors = [*field.errors, message]
                valid = False
        return valid


def _when(view: Any, context: Any, schedule: StatsSchedule, name: str) -> str:
    if schedule.frequency == "weekly":
        days = [str(WEEKDAYS[int(d)]) for d in schedule.weekdays.split(",") if d.strip().isdigit() and int(d) < 7]
        when = ", ".join(days)
    elif schedule.frequency == "monthly":
        when = t("последний день месяца") if schedule.month_day == LAST_DAY else t(
            "%(day)s-го числа", day=schedule.month_day)
    else:
        when = t("каждый день")
    return f"{when}, {schedule.time}"


def _period(view: Any, context: Any, schedule: StatsSchedule, name: str) -> str:
    try:
        return preset_name(next(p for p in PERIODS if p.value == schedule.period), language())
    except StopIteration:
        return schedule.period


def _metrics(view: Any, context: Any, schedule: StatsSchedule, name: str) -> str:
    titles = {spec.key: spec.title(language()) for spec in get_state().gateway.metrics()}
    return ", ".join(titles.get(key, key) for key in schedule.metrics.split(",") if key)


def _audience(view: Any, context: Any, schedule: StatsSchedule, name: str) -> str:
    label = str(AUDIENCE_LABELS.get(schedule.audience, schedule.audience))
    if schedule.audience == "roles":
        label += ": " + ", ".join(str(ROLE_LABELS[Role(r)]) for r in schedule.roles.split(",") if r)
    return label


def _next(view: Any, context: Any, schedule: StatsSchedule, name: str) -> Markup:
    due = latest_due(schedule, datetime.now(UTC), company_tz())
    return Markup("{}").format(due.astimezone(company_tz()).strftime("%d.%m.%Y %H:%M") if due else "—")


class StatsScheduleView(PluginModelView):
    column_list = ("name", "enabled", "when", "period", "metrics", "audience", "skip_empty", "last_due")
    column_labels = {  # noqa: RUF012 - Flask-Admin's declarative attributes
        "name": lazy_t("Название"), "enabled": lazy_t("Включено"), "when": lazy_t("Когда"),
                     "period": lazy_t("Период"), "metrics": lazy_t("Показатели"), "audience": lazy_t("Кому"),
                     "skip_empty": lazy_t("Не отправлять пустые"), "last_due": lazy_t("Последний срок")}
    column_formatters = {  # noqa: RUF012
        "when": _when, "period": _period, "metrics": _metrics, "audience": _audience,
                         "last_due": _next}
    column_default_sort = ("id", False)
    column_sortable_list = ("name", "enabled")
    form = ScheduleForm
    can_view_details = False

    def __init__(self, session: Any, **kwargs: Any) -> None:
        super().__init__(StatsSchedule, session, **kwargs)

    def _fill_choices(self, form: Any) -> Any:
        state = get_state()
        form.period.choices = [(p.value, preset_name(p, language())) for p in PERIODS]
        form.metric_list.choices = [(spec.key, spec.title(language())) for spec in state.gateway.metrics()]
        form.people_list.choices = [(u.id, u.full_name) for u in state.gateway.list_users()]
        return form

    def create_form(self, obj: Any = None) -> Any:
        return self._fill_choices(super().create_form(obj))

    def edit_form(self, obj: StatsSchedule | None = None) -> Any:
        form = self._fill_choices(super().edit_form(obj))
        if obj is not None and request.method != "POST":  # the stored lists into the checkboxes
            form.weekday_list.data = [int(d) for d in obj.weekdays.split(",") if d.strip().isdigit()]
            form.metric_list.data = [m for m in obj.metrics.split(",") if m]
            form.role_list.data = [r for r in obj.roles.split(",") if r]
            form.people_list.data = [int(p) for p in obj.people.split(",") if p.strip().isdigit()]
        return form

    def on_model_change(self, form: Any, schedule: StatsSchedule, is_created: bool) -> None:
        schedule.weekdays = ",".join(str(d) for d in sorted(form.weekday_list.data or []))
        schedule.metrics = ",".join(form.metric_list.data or [])
        schedule.roles = ",".join(form.role_list.data or [])
        schedule.people = ",".join(str(p) for p in form.people_list.data or [])
        schedule.time = parse_time(schedule.time).strftime("%H:%M")
