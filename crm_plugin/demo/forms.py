"""The demo's forms (flask-wtf: each carries a CSRF token) and the Russian labels its pages show."""

from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm
from wtforms import DateTimeLocalField, DecimalField, FloatField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, NumberRange, Optional, ValidationError

from ..host import FileKind, JobKind, JobStatus, Role
from ..phones import normalise_phone
from .models import OrderStatus

JOB_KIND_LABELS = {JobKind.MEASUREMENT: "Замер", JobKind.INSTALLATION: "Монтаж"}
JOB_STATUS_LABELS = {
    JobStatus.NEW: "Новая", JobStatus.SCHEDULED: "Назначена", JobStatus.MEASURED: "Замер выполнен",
    JobStatus.INSTALLED: "Смонтировано", JobStatus.CANCELLED: "Отменена",
}
ORDER_STATUS_LABELS = {
    OrderStatus.NEW: "Новый", OrderStatus.MEASUREMENT: "Замер", OrderStatus.CALCULATION: "Расчёт",
    OrderStatus.INSTALLATION: "Монтаж", OrderStatus.DONE: "Выполнен", OrderStatus.CANCELLED: "Отменён",
}
FILE_KIND_LABELS = {
    FileKind.OBJECT_PHOTO: "Фото объекта", FileKind.MEASUREMENT_SHEET: "Замерный лист",
    FileKind.INSTALLATION_PHOTO: "Фото монтажа",
}
ROLE_LABELS = {Role.MEASURER: "замерщик", Role.INSTALLER: "монтажник", Role.MANAGER: "менеджер",
               Role.ADMIN: "администратор"}

NO_ONE = 0  # the "not assigned" / "new client" choice of a select


class JobForm(FlaskForm):
    """A visit: where, when, who, and what the manager wants the field worker to know."""

    address = StringField("Адрес", validators=[DataRequired("Укажите адрес"), Length(max=300)])
    latitude = FloatField("Широта", validators=[Optional(), NumberRange(-90, 90, "Широта от -90 до 90")])
    longitude = FloatField("Долгота", validators=[Optional(), NumberRange(-180, 180, "Долгота от -180 до 180")])
    scheduled_at = DateTimeLocalField("Время (местное)", format="%Y-%m-%dT%H:%M", validators=[Optional()])
    assignee_id = SelectField("Исполнитель", coerce=int, default=NO_ONE)
    manager_comment = TextAreaField("Комментарий менеджера", validators=[Optional(), Length(max=2000)])

    def validate(self, extra_validators: Any = None) -> bool:
        valid = super().validate(extra_validators)
        # A form-level check: Optional() ends a blank field's own validation before a per-field check could run.
        if valid and (self.latitude.data is None) != (self.longitude.data is None):
            self.longitude.errors = [*self.longitude.errors, "Укажите обе координаты или ни одной"]
            return False
        return valid


class MeasurementForm(JobForm):
    """A measurement request opens a new order, for a known client or a new one."""

    client_id = SelectField("Клиент", coerce=int, default=NO_ONE)
    client_name = StringField("Новый клиент: имя", validators=[Optional(), Length(max=200)])
    client_phone = StringField("Новый клиент: телефон", validators=[Optional(), Length(max=32)])
    amount = DecimalField("Предварительная сумма, ₽", places=2, validators=[Optional(), NumberRange(0)])

    def validate_client_id(self, field: SelectField) -> None:
        if field.data == NO_ONE and not (self.client_name.data or "").strip():
            raise ValidationError("Выберите клиента или впишите имя нового")

    def validate_client_phone(self, field: StringField) -> None:
        if field.data and normalise_phone(field.data) is None:
            raise ValidationError("Телефон в виде +7 999 123-45-67")


class CancelForm(FlaskForm):
    """Only the CSRF token: cancelling is a POST button."""


class LeadForm(FlaskForm):
    source = StringField("Источник", default="телефон", validators=[DataRequired(), Length(max=100)])
    name = StringField("Имя", validators=[Optional(), Length(max=200)])
    phone = StringField("Телефон", validators=[Optional(), Length(max=32)])
    text = TextAreaField("Текст заявки", validators=[DataRequired("Опишите заявку"), Length(max=4000)])
