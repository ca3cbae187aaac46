"""Russian names of the plugin's states and roles, as the admin pages show them."""

from __future__ import annotations

from typing import Any

from ..core.models import Direction, LinkStatus, MessageStatus
from ..host import Role
from .i18n import lazy_t

CRM_INACTIVE = "crm_inactive"  # not stored: the CRM says the employee is gone or deactivated

LINK_STATUS_LABELS: dict[Any, Any] = {
    LinkStatus.BOUND: lazy_t("привязан"),
    LinkStatus.PENDING: lazy_t("ожидает"),
    LinkStatus.BLOCKED: lazy_t("заблокирован"),
    LinkStatus.UNREACHABLE: lazy_t("недоступен"),
    CRM_INACTIVE: lazy_t("неактивен в CRM"),
}

ROLE_LABELS: dict[Any, Any] = {
    Role.MEASURER: lazy_t("замерщик"),
    Role.INSTALLER: lazy_t("монтажник"),
    Role.MANAGER: lazy_t("менеджер"),
    Role.ADMIN: lazy_t("администратор"),
}

DIRECTION_LABELS: dict[Any, Any] = {Direction.IN: lazy_t("входящее"), Direction.OUT: lazy_t("исходящее")}

MESSAGE_STATUS_LABELS: dict[Any, Any] = {
    MessageStatus.RECEIVED: lazy_t("получено"),
    MessageStatus.HANDLED: lazy_t("обработано"),
    MessageStatus.QUEUED: lazy_t("в очереди"),
    MessageStatus.SENDING: lazy_t("отправляется"),
    MessageStatus.SENT: lazy_t("отправлено"),
    MessageStatus.FAILED: lazy_t("ошибка"),
}
