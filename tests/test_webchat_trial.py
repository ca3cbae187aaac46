"""The web chat is a test bench: an employee picked there is bound on trial, gets none of the company's
notifications in the chat and is not «привязан» in the employee list, until the admin says otherwise."""

from __future__ import annotations

from sqlalchemy import select

from crm_plugin import host
from crm_plugin.core.models import Direction, EmployeeLink, Message
from crm_plugin.host import JobKind, Role

from .admin_helpers import admin_client, page, post
from .flows.world import (
    Flow,
    flow_fixture,  # noqa: F401  (fixture)
    local_moment,
)

API = "/crm-plugin/webchat"


def web_replies(flow: Flow) -> list[str]:
    with flow.state.db.session() as session:
        return [m.preview for m in session.scalars(select(Message).where(
            Message.chat_id.like("web-%"), Message.direction == Direction.OUT).order_by(Message.id))]


def test_a_web_chat_binding_is_a_trial_until_the_admin_makes_it_real(flow: Flow) -> None:
    measurer = flow.user("volkov", Role.MEASURER, name="Волков Сергей Андреевич")
    admin = admin_client(flow.app)
    session = admin.post(f"{API}/session", json={"user_id": measurer}).json
    assert (session["status"], session["trial"]) == ("bound", True)
    assert session["notice"].startswith("Проба: уведомления компании сюда не приходят")

    job_id = flow.job(JobKind.MEASUREMENT, local_moment(flow, 1, 11, 0), measurer)
    host.measurement_requested.send(flow.app, job_id=job_id)
    flow.run()
    assert web_replies(flow) == []  # no company notification lands in the test bench

    listing = page(admin, "/employees/")
    row = listing.split("Волков Сергей Андреевич", 1)[1].split("</tr>", 1)[0]
    assert "проба (без уведомлений)" in row and ">привязан<" not in row
    dashboard = page(admin, "/")
    assert "1 проба" in dashboard

    with flow.state.db.session() as db:
        link = db.scalars(select(EmployeeLink).where(EmployeeLink.crm_user_id == measurer)).one()
        form = {"bot_id": link.bot_id, "crm_user_id": measurer, "platform_user_id": link.platform_user_id,
                "role_override": ""}  # «Только проба» left unticked
    edit = f"/employees/edit/?id={link.id}"
    assert post(admin, edit, form).status_code == 302
    again = admin.post(f"{API}/session", json={"user_id": measurer}).json
    assert again["trial"] is False and again["notice"] is None  # the admin's choice stays
    host.measurement_requested.send(flow.app, job_id=job_id)
    flow.run()
    assert [text.split("\n", 1)[0] for text in web_replies(flow)] == ["Новый замер для вас:"]
    assert ">привязан<" in page(admin, "/employees/").split("Волков Сергей Андреевич", 1)[1].split("</tr>", 1)[0]
