"""The web chat («Попробовать бота») and the demo CRM together: an admin talks to the bot as a measurer through
the chat page's JSON API, the worker runs the bot, and then the manager sees the report on the order's page."""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

from flask.testing import FlaskClient

from crm_plugin.host import JobKind, JobStatus, Role

from .admin_helpers import admin_client
from .flows.world import (
    PDF,
    PHOTOS,
    Flow,
    flow_fixture,  # noqa: F401  (fixture)
    local_moment,
    manager_client,
)

API = "/crm-plugin/webchat"


class WebChatUser:
    """The admin on the chat page, speaking as one employee; answers are read back as the page polls them."""

    def __init__(self, flow: Flow, admin: FlaskClient, user_id: int) -> None:
        self.flow, self.admin, self.user_id = flow, admin, user_id
        self.after = 0
        self.replies: list[dict[str, Any]] = []
        assert admin.post(f"{API}/session", json={"user_id": user_id}).json["status"] == "bound"

    def _then(self, response: Any) -> None:
        assert response.status_code == 200, response.get_data(as_text=True)
        self.flow.run()
        page = self.admin.get(f"{API}/messages", query_string={"user": self.user_id, "after": self.after}).json
        assert page["busy"] is False
        self.after = page["after"]
        self.replies = [m for m in page["messages"] if m["direction"] == "out"]

    def send(self, **event: Any) -> None:
        self._then(self.admin.post(f"{API}/send", json={"user_id": self.user_id, **event}))

    def tap(self, label: str) -> None:
        buttons = [b for m in self.replies for row in m.get("buttons", []) for b in row if b["label"] == label]
        assert buttons, f"no button {label!r} in {[m.get('buttons') for m in self.replies]}"
        self.send(type="button", payload=buttons[-1]["payload"], label=label)

    def upload(self, *files: tuple[bytes, str]) -> None:
        data = {"user_id": str(self.user_id), "files": [(io.BytesIO(content), name) for content, name in files]}
        self._then(self.admin.post(f"{API}/upload", data=data, content_type="multipart/form-data"))

    def last_text(self) -> str:
        return [m["text"] for m in self.replies if m.get("text")][-1]


def test_report_from_the_web_chat_shows_on_the_managers_order_page(flow: Flow, tmp_path: Path) -> None:
    flow.app.instance_path = str(tmp_path / "instance")  # the chat's uploads stay out of the repository
    measurer = flow.user("volkov", Role.MEASURER, name="Волков Сергей Андреевич")
    job_id = flow.job(JobKind.MEASUREMENT, local_moment(flow, 0, 11, 0), measurer, client="Сафина Лилия Ринатовна")
    job = flow.crm_job(job_id)
    chat = WebChatUser(flow, admin_client(flow.app), measurer)

    chat.send(type="text", text="/start")
    assert chat.last_text().startswith("Меню (замерщик):")
    chat.tap("Сегодня")
    chat.tap(next(b["label"] for m in chat.replies for row in m.get("buttons", []) for b in row
                  if b.get("payload") == f"job:{job_id}"))
    assert chat.replies[0]["text"].startswith(f"Замер № {job.order_number} · назначен")
    assert "openstreetmap.org" in chat.replies[1]["location"]["url"]  # the pin, as a map link on the page
    chat.tap("Отправить фото объекта")
    chat.upload(*((photo, f"окно-{i}.png") for i, photo in enumerate(PHOTOS)))  # several files: one album
    assert chat.last_text().startswith("Получено 3 фото: фото объекта.")
    chat.tap("Отправить замерный лист")
    chat.upload((PDF, "лист.pdf"))
    chat.tap("Замер выполнен")
    chat.tap("Да, замер выполнен")
    assert chat.last_text().startswith(f"Замер № {job.order_number} выполнен. Спасибо!")

    manager = manager_client(flow)
    page = manager.get(f"/orders/{job.order_id}").get_data(as_text=True)
    previews = re.findall(r'<img class="card-img-top preview" src="(/files/\d+)" alt="([^"]+)"', page)
    assert [alt for _, alt in previews] == ["окно-0.png", "окно-1.png", "окно-2.png"]
    assert [manager.get(src).data for src, _ in previews] == PHOTOS  # the images the measurer sent
    assert "лист.pdf" in page and page.count('class="card h-100 file"') == 4
    assert 'id="order-status">Расчёт<' in page  # measured: the manager prices the windows next
    job_card = page.split(f'id="job-{job_id}"', 1)[1].split('class="card-body"', 1)[0]
    assert ">Замер выполнен</span>" in job_card
    assert flow.crm_job(job_id).status is JobStatus.MEASURED
