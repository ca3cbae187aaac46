"""Russian names of the plugin's states and roles, as the admin pages show them."""

from __future__ import annotations

from typing import Any

from ..channels import platform_label
from ..core.models import Bot, Direction, LinkStatus, MessageStatus
from ..host import JobKind, Role
from .i18n import lazy_t, t

CRM_INACTIVE = "crm_inactive"  # not stored: the CRM says the employee is gone or deactivated
TRIAL = "trial"  # not a stored status: a bound try-out link (EmployeeLink.trial), e.g. the web chat's

LINK_STATUS_LABELS: dict[Any, Any] = {
    LinkStatus.BOUND: lazy_t("привязан"),
    LinkStatus.PENDING: lazy_t("ожидает"),
    LinkStatus.BLOCKED: lazy_t("заблокирован"),
    LinkStatus.UNREACHABLE: lazy_t("недоступен"),
    CRM_INACTIVE: lazy_t("неактивен в CRM"),
    TRIAL: lazy_t("проба (без уведомлений)"),
}

ROLE_LABELS: dict[Any, Any] = {
    Role.MEASURER: lazy_t("замерщик"),
    Role.INSTALLER: lazy_t("монтажник"),
    Role.MANAGER: lazy_t("менеджер"),
    Role.ADMIN: lazy_t("администратор"),
}

JOB_KIND_LABELS: dict[Any, Any] = {JobKind.MEASUREMENT: lazy_t("Замер"), JobKind.INSTALLATION: lazy_t("Монтаж")}

DIRECTION_LABELS: dict[Any, Any] = {Direction.IN: lazy_t("входящее"), Direction.OUT: lazy_t("исходящее")}

MESSAGE_STATUS_LABELS: dict[Any, Any] = {
    MessageStatus.RECEIVED: lazy_t("получено"),
    MessageStatus.HANDLED: lazy_t("обработано"),
    MessageStatus.QUEUED: lazy_t("в очереди"),
    MessageStatus.SENDING: lazy_t("отправляется"),
    MessageStatus.SENT: lazy_t("отправлено"),
    MessageStatus.FAILED: lazy_t("ошибка"),
}


def bot_label(bot: Bot) -> str:
    """«Telegram: Окна Комфорт»: the platform's name, never its stored value (``telegram``)."""
    return f"{t(platform_label(bot.platform))}: {bot.name or bot.platform_bot_id or bot.id}"
