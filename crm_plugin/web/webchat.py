"""The web chat's JSON API on the plugin blueprint: choose an employee, send events, poll the log, files.

Thin: every route checks plugin access (403 and no data otherwise) and, for POSTs, the CSRF token in the
X-CSRFToken header; events go through crm_plugin.inbound.accept like a webhook's, and the bot answers in
the worker. What the page shows is rendered by crm_plugin.admin.webchat.conversation.
"""

from __future__ import annotations

import io
import logging
import uuid
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import Response, abort, current_app, jsonify, request, send_file, url_for
from flask_wtf.csrf import CSRFError, validate_csrf
from sqlalchemy import select
from wtforms import ValidationError

from .. import inbound
from ..admin.access import can_manage
from ..admin.webchat import conversation, sniff_type
from ..channels.base import ParsedRequest
from ..channels.web import UploadStore, bind_employee, ensure_web_bot, web_sender
from ..core.chat import ButtonPress, Contact, Document, Event, FileRef, Inbound, Location, Photo, Start, Text
from ..core.models import Bot, Direction, EmployeeLink, LinkStatus, Message, Platform
from ..core.state import PluginState
from ..core.untrusted import load_json
from ..delivery.charts import images_for
from ..host import User
from .blueprint import blueprint
from .current import get_state

log = logging.getLogger(__name__)

MAX_FILES = 10  # an album holds at most ten files on Telegram too
MAX_FILE_BYTES = 20 * 1024 * 1024
MAX_TEXT = 4096
MAX_START_PAYLOAD = 64  # Telegram's limit for a deep-link payload
MAX_USER_ID = 2**31 - 1  # CRM user ids are kept in INTEGER columns (crm_user_id)
MAX_MESSAGE_ID = 2**63 - 1  # crm_plugin_messages.id is a BIGINT

F = TypeVar("F", bound=Callable[..., Any])


class BadInput(Exception):
    """A wrong step on the page; the message (Russian) says what to do. Answered 400."""


def guarded(view: F) -> F:
    """Plugin access for every route; CSRF for POSTs even when the host has no CSRFProtect."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        state = get_state()
        if not can_manage(state, state.gateway.current_user()):
            return jsonify(error="Нет доступа к боту."), 403
        if request.method == "POST" and current_app.config.get("WTF_CSRF_ENABLED", True):
            try:
                validate_csrf(request.headers.get("X-CSRFToken"))
            except (ValidationError, CSRFError):
                return jsonify(error="Страница устарела: обновите её и повторите."), 400
        try:
            return view(*args, **kwargs)
        except BadInput as error:
            return jsonify(error=str(error)), 400

    return wrapper  # type: ignore[return-value]


@blueprint.post("/webchat/session")
@guarded
def webchat_session() -> Response:
    state = get_state()
    user = _employee(state, _json().get("user_id"))
    with state.db.session() as session:
        bot = ensure_web_bot(session, state.secrets.seal({}))
        known = session.scalar(select(EmployeeLink.id).where(EmployeeLink.bot_id == bot.id,
                                                             EmployeeLink.crm_user_id == user.id)) is not None
        link = bind_employee(session, bot, user)
        if not known:  # a try-out: no company notifications here, not "привязан" (the admin may change it)
            link.trial = True
        status, trial = link.status, link.trial
    notice = "Сотрудник заблокирован в боте: бот будет ему отказывать." if status == LinkStatus.BLOCKED else (
        "Проба: уведомления компании сюда не приходят, сотрудник получает их в своём мессенджере. Изменить: "
        "«Сотрудники» → привязка к веб-чату → «Только проба»." if trial else None)
    return jsonify(user={"id": user.id, "name": user.full_name, "phone": user.phone},
                   status=status.value, trial=trial, notice=notice)


@blueprint.get("/webchat/messages")
@guarded
def webchat_messages() -> Response:
    state = get_state()
    user = _employee(state, request.args.get("user"))
    after = min(max(request.args.get("after", default=0, type=int) or 0, 0), MAX_MESSAGE_ID)
    with state.db.session() as session:
        bot = _web_bot(session)
        if bot is None:
            return jsonify(messages=[], after=after, busy=False)
        page = conversation(session, bot.id, web_sender(user).chat_id, after,
                            file_url=lambda message_id, index: url_for(".webchat_file", message_id=message_id,
                                                                       index=index),
                            upload_url=lambda file_id: url_for(".webchat_upload_file", file_id=file_id))
    return jsonify(page)


@blueprint.post("/webchat/send")
@guarded
def webchat_send() -> Response:
    state = get_state()
    body = _json()
    user = _employee(state, body.get("user_id"))
    event, shown = _event_from(body, user)
    _accept(state, user, [event], shown)
    return jsonify(ok=True)


@blueprint.post("/webchat/upload")
@guarded
def webchat_upload() -> Response:
    state = get_state()
    request.max_content_length = MAX_FILES * MAX_FILE_BYTES + 65536
    user = _employee(state, request.form.get("user_id"))
    uploads = [f for f in request.files.getlist("files") if f.filename]
    if not uploads:
        raise BadInput("Выберите фото или PDF-файл.")
    if len(uploads) > MAX_FILES:
        raise BadInput(f"Можно отправить не больше {MAX_FILES} файлов за раз.")
    checked = []
    for upload in uploads:
        data = upload.read(MAX_FILE_BYTES + 1)
        if len(data) > MAX_FILE_BYTES:
            raise BadInput(f"Файл «{upload.filename}» больше 20 МБ.")
        content_type = sniff_type(data)
        if content_type is None:
            raise BadInput(f"Файл «{upload.filename}» не подходит: можно фото (JPEG, PNG, GIF, WebP) или PDF.")
        checked.append((upload.filename or "file", content_type, data))
    store = UploadStore(get_state().upload_dir)
    group = uuid.uuid4().hex if len(checked) > 1 else None  # several files = one album
    caption = (request.form.get("caption") or "").strip()[:1024] or None
    events: list[Event] = []
    for index, (name, content_type, data) in enumerate(checked):
        stored = store.save(data, name=name, content_type=content_type)
        ref = FileRef(stored.file_id, name=name, content_type=content_type, size=stored.size)
        text = caption if index == 0 else None
        events.append(Photo(ref, group, text) if content_type.startswith("image/") else Document(ref, group, text))
    _accept(state, user, events, {})
    return jsonify(ok=True, files=len(events))


@blueprint.get(f"/webchat/file/<int(max={MAX_MESSAGE_ID}):message_id>/<int:index>")
@guarded
def webchat_file(message_id: int, index: int) -> Response:
    """A CRM file the web bot sent, streamed through the gateway; or the chart of a statistics answer."""
    state = get_state()
    with state.db.session() as session:
        message = session.get(Message, message_id)
        bot = session.get(Bot, message.bot_id) if message else None
    if (message is not None and bot is not None and bot.platform == Platform.WEB and index == 0
            and message.payload.get("type") == "stats" and message.payload.get("chart_key")):
        chart = images_for(state.db).stored_png(str(message.payload["chart_key"]))  # drawn by the worker
        if chart is None:
            abort(404)
        return _file_response(chart, "image/png", "chart.png")
    if (message is None or bot is None or bot.platform != Platform.WEB or message.direction != Direction.OUT
            or message.payload.get("type") != "media" or not 0 <= index < len(message.payload.get("files", []))):
        abort(404)
    file = message.payload["files"][index]
    try:
        data = state.gateway.read_file(int(file["crm_file_id"]))
    except LookupError:  # deleted in the CRM since
        abort(404)
    return _file_response(data, file["content_type"], file["name"], document=file.get("kind") == "document")


@blueprint.get("/webchat/upload/<file_id>")
@guarded
def webchat_upload_file(file_id: str) -> Response:
    """A file the admin attached, shown in their own bubble."""
    store = UploadStore(get_state().upload_dir)
    try:
        info = store.info(file_id)
        data = store.read(file_id)
    except (FileNotFoundError, ValueError, KeyError):
        abort(404)
    return _file_response(data, info.content_type, info.name, document=not info.content_type.startswith("image/"))


def _file_response(data: bytes, content_type: str, name: str, *, document: bool = False) -> Response:
    # Photos open in the page; documents (and anything a browser could run, like SVG) are downloaded.
    inline = not document and content_type.startswith("image/") and content_type != "image/svg+xml"
    response = send_file(io.BytesIO(data), mimetype=content_type, download_name=name, as_attachment=not inline)
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def _accept(state: PluginState, user: User, events: list[Event], shown: dict[str, Any]) -> None:
    with state.db.session() as session:
        bot_id = ensure_web_bot(session, state.secrets.seal({})).id
    sender = web_sender(user)
    parsed = ParsedRequest(inbound=[Inbound(sender, event, f"web-{uuid.uuid4().hex}") for event in events])
    inbound.accept(state, bot_id, parsed, raw={"web": shown})
    log.info("web chat: %d event(s) sent as CRM user %s", len(events), user.id)


def _event_from(body: dict[str, Any], user: User) -> tuple[Event, dict[str, Any]]:
    """The event the page describes, and what its bubble shows (a button's label)."""
    kind = body.get("type")
    if kind == "text":
        text = str(body.get("text") or "").strip()
        if not text:
            raise BadInput("Напишите сообщение.")
        if len(text) > MAX_TEXT:
            raise BadInput(f"Сообщение длиннее {MAX_TEXT} символов: сократите его.")
        if text == "/start" or text.startswith("/start "):
            return Start(text[len("/start"):].strip() or None), {}
        return Text(text), {}
    if kind == "start":
        payload = body.get("payload")
        if payload is not None and not isinstance(payload, str) or len(payload or "") > MAX_START_PAYLOAD:
            raise BadInput("Ссылка-приглашение устарела: откройте её заново.")
        return Start(payload or None), {}
    if kind == "button":
        payload = str(body.get("payload") or "")
        if not payload or len(payload) > 500:
            raise BadInput("Кнопка устарела: нажмите другую.")
        return ButtonPress(payload, callback_id=None), {"label": str(body.get("label") or "")[:200]}
    if kind == "contact":
        if not user.phone:
            raise BadInput("У сотрудника нет телефона в CRM: укажите его в карточке сотрудника.")
        return Contact(user.phone, own=True), {}
    if kind == "location":
        try:
            latitude, longitude = float(body["latitude"]), float(body["longitude"])
        except (KeyError, TypeError, ValueError, OverflowError):
            raise BadInput("Укажите широту и долготу числами, например 55.7558 и 37.6173.") from None
        if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
            raise BadInput("Широта должна быть от -90 до 90, долгота от -180 до 180.")
        return Location(latitude, longitude), {}
    raise BadInput("Неизвестное действие: обновите страницу.")


def _employee(state: PluginState, user_id: Any) -> User:
    number = _user_id(user_id)
    user = state.gateway.get_user(number) if number is not None else None
    if user is None or not user.active:
        raise BadInput("Выберите сотрудника из списка.")
    return user


def _user_id(value: Any) -> int | None:
    """A CRM user id from the page: an integer (JSON) or decimal digits (a form or a query), in the range CRM
    ids are stored in; anything else (true, 1.5, Infinity, 2**63, "²") is no user."""
    if isinstance(value, str) and value.isascii() and value.strip().isdigit():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool):
        return None
    return value if 0 <= value <= MAX_USER_ID else None


def _web_bot(session: Any) -> Bot | None:
    return session.scalar(select(Bot).where(Bot.platform == Platform.WEB).order_by(Bot.id).limit(1))


def _json() -> dict[str, Any]:
    try:  # the page's JSON only (as get_json: a form cannot post it), read without NaN, 1e400 or deep nesting
        body = load_json(request.get_data(cache=True)) if request.is_json else None
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise BadInput("Обновите страницу и повторите.")
    return body
