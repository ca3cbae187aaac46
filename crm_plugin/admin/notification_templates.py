"""Шаблоны уведомлений: the texts of the bot's notifications, edited per language, with a preview.

A template is checked when it is saved (crm_plugin.bot.templates.problems): a wrong placeholder is refused
here, with the list of allowed ones, and never fails a notification later.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from flask import flash, redirect, request
from flask_admin import expose
from sqlalchemy import select
from werkzeug.wrappers import Response
from wtforms import TextAreaField
from wtforms.validators import ValidationError

from ..bot import templates
from ..core.i18n import N_
from ..core.models import NotificationTemplate
from ..host import Client, Job, JobKind, JobStatus
from ..web.current import get_state
from .base import PluginBaseView, PluginForm
from .filters import company_tz
from .i18n import lazy_t, t

LANGUAGE_LABELS = {"ru": lazy_t("русский"), "en": lazy_t("английский")}

# The Russian titles and placeholder meanings of crm_plugin.bot.templates, listed here so the admin's catalogue
# extraction sees them (the page translates them with t(); tests/test_templates.py keeps the lists equal).
TEMPLATE_TEXTS = (
    N_("Новый замер (назначен сотруднику)"),
    N_("Новая заявка на замер (никто не назначен)"),
    N_("Новый монтаж"),
    N_("Время перенесено"),
    N_("Заявка передана вам"),
    N_("Заявка изменена"),
    N_("Заявка отменена"),
    N_("Утренний маршрут"),
    N_("Замер или Монтаж"),
    N_("номер заказа"),
    N_("имя клиента"),
    N_("телефон клиента"),
    N_("адрес (без города)"),
    N_("адрес полностью"),
    N_("дата и время визита"),
    N_("комментарий менеджера"),
    N_("ссылка на карту (если у адреса есть координаты)"),
    N_("дата маршрута"),
    N_("число визитов"),
    N_("визиты по порядку: время, адрес, клиент, телефон"),
    N_("ссылки на весь маршрут (Яндекс Карты, OpenStreetMap)"),
)


def _template_ok(form: Any, field: Any) -> None:
    found = templates.problems(form.event, field.data or "")
    if found:
        raise ValidationError("; ".join(found))


class TemplateForm(PluginForm):
    text = TextAreaField(lazy_t("Текст уведомления"), validators=[_template_ok], render_kw={"rows": 9})

    def __init__(self, *args: Any, event: str, **kwargs: Any) -> None:
        self.event = event
        super().__init__(*args, **kwargs)


def sample_values(event: str, language: str) -> dict[str, str]:
    """What the preview fills the placeholders with: a made-up job (or route) of tomorrow."""
    when = datetime.now(company_tz()).replace(hour=10, minute=30, second=0, microsecond=0) + timedelta(days=1)
    if event == "morning_route":
        return {"date": when.strftime("%d.%m.%Y"), "count": "2",
                "jobs": "1. 10:30 ул. Баумана, д. 12 — Иванов Иван, +79171112233\n"
                        "2. 14:00 ул. Пушкина, д. 3 — Петрова Анна, +79172223344",
                "links": "https://yandex.ru/maps/?rtext=55.790000,49.110000~55.800000,49.120000&rtt=auto"}
    job = Job(id=1, kind=JobKind.MEASUREMENT, order_id=1, order_number="1024", status=JobStatus.SCHEDULED,
              scheduled_at=when, address="г. Казань, ул. Баумана, д. 12, кв. 5",
              client=Client(id=1, name="Иванов Иван Петрович", phones=("+79171112233",)),
              latitude=55.79, longitude=49.11, manager_comment="Позвонить за час")
    return templates.job_values(job, company_tz(), language)


class NotificationTemplateView(PluginBaseView):
    @expose("/")
    def index_view(self) -> Any:
        with get_state().db.session() as session:
            saved = {(row.event, row.language): row for row in session.scalars(select(NotificationTemplate))}
            rows = [(event, spec, [(language, saved.get((event, language)),
                                    templates.text_for(session, event, language)) for language in templates.LANGUAGES])
                    for event, spec in templates.NOTIFICATIONS.items()]
        return self.render("crm_plugin/admin/notification_templates.html", rows=rows,
                           language_labels=LANGUAGE_LABELS)

    @expose("/edit/", methods=("GET", "POST"))
    def edit_view(self) -> Any:
        event, language = request.args.get("event", ""), request.args.get("language", "")
        if event not in templates.NOTIFICATIONS or language not in templates.LANGUAGES:
            flash(t("Нет такого уведомления"), "error")
            return redirect(self.get_url(".index_view"))
        state = get_state()
        with state.db.session() as session:
            current = templates.text_for(session, event, language)
            row = session.scalar(select(NotificationTemplate).where(NotificationTemplate.event == event,
                                                                    NotificationTemplate.language == language))
            form = TemplateForm(request.form if request.method == "POST" else None, event=event,
                                data={"text": current})
            action = request.form.get("action", "preview")
            if request.method == "POST" and action == "default" and form.csrf_token.validate(form):
                if row is not None:
                    session.delete(row)
                flash(t("Возвращён текст по умолчанию"), "success")
                return redirect(self.get_url(".index_view"))
            preview = None
            if request.method == "POST" and form.validate():
                if action == "save":
                    return self._save(session, row, event, language, form.text.data)
                preview = templates.render(event, form.text.data, sample_values(event, language))
            elif request.method == "GET":
                preview = templates.render(event, current, sample_values(event, language))
        spec = templates.NOTIFICATIONS[event]
        return self.render("crm_plugin/admin/notification_template_form.html", form=form, event=event,
                           language=language, spec=spec, preview=preview, customised=row is not None,
                           language_label=LANGUAGE_LABELS[language], default=spec.defaults[language])

    def _save(self, session: Any, row: NotificationTemplate | None, event: str, language: str,
              text: str) -> Response:
        if text == templates.NOTIFICATIONS[event].defaults[language]:
            if row is not None:
                session.delete(row)
        elif row is None:
            session.add(NotificationTemplate(event=event, language=language, text=text))
        else:
            row.text = text
        flash(t("Шаблон сохранён"), "success")
        return redirect(self.get_url(".index_view"))
