"""A statistics answer with its chart on every platform, through each platform's own flow at its fake: Viber
fetches a signed .png link under 1 MB, Slack gets the files_upload_v2 flow into the person's direct message,
VK the photos.getMessagesUploadServer -> upload -> saveMessagesPhoto flow (once per bot), the web chat shows
the chart inline; and the message log shows, filters and opens the chart of a statistics row. The chart's PNG
is drawn once for the run (a real render) and put in the stored row, so these tests need no render of their own."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask
from sqlalchemy import select

from crm_plugin.core.models import Bot, MessageStatus, Platform
from crm_plugin.host import Role

from .admin_helpers import admin_client, page
from .fakes.slack import FakeSlack
from .fakes.viber import FakeViber
from .fakes.vk import FakeVk
from .flows.slack import slack_bot, slack_fixture  # noqa: F401  (fixture)
from .flows.viber import viber_bot, viber_fixture  # noqa: F401  (fixture)
from .flows.vk import vk_bot, vk_fixture  # noqa: F401  (fixture)
from .flows.world import Flow, flow_fixture  # noqa: F401  (fixture)
from .stats_delivery_helpers import assert_real_chart, enqueue_stats, sample_chart, sample_png, store
from .worker_helpers import rows

TEXT = "📊 Выручка · октябрь 2026\nВсего: 1 234 567 ₽ (+12 %)"


def stored_chart(flow: Flow) -> str:
    return store(flow.state, sample_chart(), drawn=sample_png())


def test_viber_gets_a_picture_by_a_signed_png_link(flow: Flow, viber: FakeViber) -> None:
    bot_id = viber_bot(flow, viber)
    viber.strict_pictures = True
    key = stored_chart(flow)
    long_text = TEXT + "\n" + "\n".join(f"Менеджер {i}: {i * 10_000} ₽" for i in range(60))
    enqueue_stats(flow.state, bot_id, ["vb-1=="], TEXT, key)
    enqueue_stats(flow.state, bot_id, ["vb-2=="], long_text, key)
    flow.run()

    [short] = [m for m in viber.sent if m["receiver"] == "vb-1=="]
    assert short["type"] == "picture" and short["text"] == TEXT and short["keyboard"]["Buttons"]
    url = urlsplit(short["media"])
    assert url.netloc == "crm.example" and url.path.endswith(".png")
    fetched = flow.client.get(url.path)  # what Viber does with the link
    assert fetched.status_code == 200 and fetched.content_type == "image/png"
    assert len(fetched.data) < 1024 * 1024
    assert_real_chart(fetched.data, sample_chart())
    assert flow.client.get(url.path.replace(".png", "x.png")).status_code == 404  # a forged link

    picture, rest = [m for m in viber.sent if m["receiver"] == "vb-2=="]
    assert picture["type"] == "picture" and len(picture["text"]) <= 768 and "keyboard" not in picture
    assert rest["type"] == "text" and f"{picture['text']}\n{rest['text']}" == long_text and rest["keyboard"]


def test_slack_uploads_the_chart_into_the_direct_message(flow: Flow, slack: FakeSlack) -> None:
    bot_id = slack_bot(flow, slack, leads_enabled=False)
    key = stored_chart(flow)
    ids = enqueue_stats(flow.state, bot_id, ["U0PERSON1"], TEXT, key)
    flow.run()

    [share] = slack.shares  # getUploadURLExternal, the POST of the bytes, completeUploadExternal
    assert share["channel"] == "D0PERSON1"  # conversations.open of the person
    [file] = share["files"]
    assert_real_chart(slack.uploads[file["id"]]["data"], sample_chart())
    [message] = slack.messages  # the text with its buttons follows the picture
    assert message["channel"] == "D0PERSON1" and "1 234 567" in message["text"]
    assert any(block["type"] == "actions" for block in message["blocks"])
    assert rows(flow.state, ids)[0].status is MessageStatus.SENT


def test_vk_uploads_the_chart_once_and_attaches_it(flow: Flow, vk: FakeVk) -> None:
    bot_id = vk_bot(flow, vk)
    key = stored_chart(flow)
    enqueue_stats(flow.state, bot_id, ["1001", "1002"], TEXT, key)
    flow.run()

    first, second = (next(m for m in vk.sent if m.peer_id == peer) for peer in ("1001", "1002"))
    assert first.attachments == second.attachments and len(first.attachments) == 1  # uploaded once per bot
    [attachment] = first.attachments
    assert attachment.startswith(f"photo-{vk.group_id}_")
    assert_real_chart(vk.uploads[attachment].content, sample_chart())
    assert first.text == TEXT and first.keyboard is not None


def test_the_web_chat_shows_the_chart_inline_and_the_log_opens_it(app: Flask, flow: Flow) -> None:
    admin = admin_client(app)
    measurer = flow.user("meas", Role.MEASURER)
    assert admin.post("/crm-plugin/webchat/session", json={"user_id": measurer}).status_code == 200
    with flow.state.db.session() as session:
        web_bot = session.scalars(select(Bot).where(Bot.platform == Platform.WEB)).one()
    key = stored_chart(flow)
    [row_id] = enqueue_stats(flow.state, web_bot.id, [f"web-{measurer}"], TEXT, key)
    flow.run()

    page_ = admin.get("/crm-plugin/webchat/messages", query_string={"user": measurer, "after": 0}).json
    [shown] = [m for m in page_["messages"] if m["id"] == row_id]
    assert shown["text"] == TEXT and shown["buttons"] and shown["files"][0]["image"]
    image = admin.get(shown["files"][0]["url"])
    assert image.status_code == 200 and image.content_type == "image/png" and image.data == sample_png()

    html = page(admin, "/messages/?flt0_kind=stats")
    assert "chart/?id=" in html and TEXT.split("\n")[0] in html
    assert TEXT.split("\n")[0] not in page(admin, "/messages/?flt0_kind=text")
    chart = admin.get(f"/admin/crm-plugin/messages/chart/?id={row_id}")
    assert chart.status_code == 200 and chart.data == sample_png()
    assert app.test_client().get(f"/admin/crm-plugin/messages/chart/?id={row_id}").status_code in (302, 403)

