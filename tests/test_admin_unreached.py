"""The dashboard warns about coming jobs whose assignee no bot can reach: the manager must tell them."""

from __future__ import annotations

from crm_plugin.host import JobKind, Role

from .admin_helpers import admin_client, page
from .fakes.telegram import FakeTelegram
from .flows.telegram import (
    TelegramUser,
    telegram_bot,
    telegram_fixture,  # noqa: F401  (fixture)
)
from .flows.world import (
    Flow,
    flow_fixture,  # noqa: F401  (fixture)
    local_moment,
)


def warning(admin: object) -> str:
    html = page(admin, "/")  # type: ignore[arg-type]
    return html.split('id="crm-unreached"', 1)[1].split("</div>", 1)[0] if 'id="crm-unreached"' in html else ""


def test_a_job_of_someone_no_bot_reaches_is_listed_until_they_bind(flow: Flow, telegram: FakeTelegram) -> None:
    bot_id = telegram_bot(flow, telegram)
    volkov = flow.user("volkov", Role.MEASURER, name="Волков Сергей Андреевич")
    job_id = flow.job(JobKind.MEASUREMENT, local_moment(flow, 1, 10, 0), volkov)
    number = flow.crm_job(job_id).order_number
    admin = admin_client(flow.app)
    assert admin.post("/crm-plugin/webchat/session", json={"user_id": volkov}).json["trial"] is True
    shown = warning(admin)  # a web-chat try-out reaches nobody
    assert f"Замер № {number}" in shown and "Волков Сергей Андреевич" in shown and "Пригласить" in shown

    TelegramUser(flow, bot_id, telegram, 333_001).open_invite(flow.invite(bot_id, volkov))
    flow.run()
    assert f"№ {number}" not in warning(admin)
