"""The host CRM's own Flask-Admin at /admin. It is created before the plugin, so the plugin's tab
"Боты, Пользователи" lands in this same menu, beside the CRM's tables."""

from __future__ import annotations

from typing import Any

from flask import Flask, abort, redirect, request, url_for
from flask_admin import Admin, AdminIndexView, expose
from flask_admin.contrib.sqla import ModelView
from flask_admin.theme import Bootstrap4Theme
from flask_login import current_user
from wtforms import PasswordField
from wtforms.validators import ValidationError

from ..admin.base import PluginForm
from .models import Client, Lead, Order, User, db


class AdminOnly:
    """Mixin: CRM admins only; a stranger is sent to log in, a logged-in non-admin gets 403."""

    def is_accessible(self) -> bool:
        return bool(current_user.is_authenticated and current_user.is_admin)

    def inaccessible_callback(self, name: str, **kwargs: Any) -> Any:
        if not current_user.is_authenticated:
            return redirect(url_for("auth.login", next=request.full_path))
        abort(403)


class HomeView(AdminOnly, AdminIndexView):
    @expose("/")
    def index(self) -> Any:
        return self.render("demo/admin_index.html")


class CrmModelView(AdminOnly, ModelView):
    form_base_class = PluginForm  # one CSRF token per form, Flask-WTF's: CSRFProtect accepts it
    can_view_details = True
    page_size = 50


class OrderAdmin(CrmModelView):
    column_list = ("number", "client", "amount", "status", "created_at", "manager")
    column_searchable_list = ("number",)
    column_filters = ("status",)
    column_default_sort = ("created_at", True)
    column_labels = {"number": "Номер", "client": "Клиент", "amount": "Сумма, ₽", "status": "Статус",
                     "created_at": "Создан", "manager": "Менеджер"}
    form_columns = ("number", "client", "amount", "status", "manager")


class ClientAdmin(CrmModelView):
    column_list = ("name", "phones_text", "address")
    column_searchable_list = ("name", "phones_text", "address")
    column_labels = {"name": "Имя", "phones_text": "Телефоны", "address": "Адрес"}
    form_columns = ("name", "phones_text", "address")


class LeadAdmin(CrmModelView):
    column_list = ("created_at", "source", "name", "phone", "text")
    column_searchable_list = ("name", "phone", "text")
    column_default_sort = ("created_at", True)
    column_labels = {"created_at": "Получена", "source": "Источник", "name": "Имя", "phone": "Телефон",
                     "text": "Текст"}
    form_columns = ("source", "name", "phone", "text")


class UserAdmin(CrmModelView):
    can_delete = False  # an employee leaves by being deactivated: their orders and jobs keep the reference
    column_list = ("login", "full_name", "phone", "email", "roles_text", "active", "is_admin")
    column_searchable_list = ("login", "full_name", "email", "phone")
    column_labels = {"login": "Логин", "full_name": "ФИО", "phone": "Телефон", "email": "Email",
                     "roles_text": "Роли", "active": "Активен", "is_admin": "Администратор"}
    form_columns = ("login", "full_name", "phone", "email", "roles_text", "active", "is_admin", "new_password")
    form_extra_fields = {"new_password": PasswordField("Новый пароль")}

    def on_model_change(self, form: Any, model: User, is_created: bool) -> None:
        if form.new_password.data:
            model.set_password(form.new_password.data)
        elif is_created:
            raise ValidationError("Задайте пароль новому сотруднику")


def create_admin(app: Flask) -> Admin:
    admin = Admin(app, name="Окна CRM", url="/admin", theme=Bootstrap4Theme(),
                  index_view=HomeView(name="Главная", url="/admin"))
    admin.add_view(OrderAdmin(Order, db, name="Заказы", category="CRM", endpoint="crm_orders"))
    admin.add_view(ClientAdmin(Client, db, name="Клиенты", category="CRM", endpoint="crm_clients"))
    admin.add_view(LeadAdmin(Lead, db, name="Лиды", category="CRM", endpoint="crm_leads"))
    admin.add_view(UserAdmin(User, db, name="Сотрудники", category="CRM", endpoint="crm_users"))
    return admin
