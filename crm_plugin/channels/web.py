"""The web channel: the bot engine as a chat page in the CRM admin ("Попробовать бота").

There is no messenger behind it. The page stores what the admin does as incoming events (through
crm_plugin.inbound.accept, like a webhook), and the bot's replies are already in the message log, so
send() only hands out an id. Files the admin attaches are kept in an upload folder and read back by
download(). The one web bot row and the employee's web link are made here too, because on this
"platform" the plugin itself plays the messenger's part.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..core.chat import FileRef, Reply, Sender, StatsReply
from ..core.i18n import N_
from ..core.models import Bot, EmployeeLink, LinkStatus, Platform, utcnow
from ..host import User
from .base import BotIdentity, Channel, FileStore, MalformedRequest, WebhookInfo, WebhookRequest
from .registry import register

log = logging.getLogger(__name__)

WEB_BOT_NAME = "Веб-чат"
UPLOAD_FOLDER = "crm_plugin_web_uploads"
_FILE_ID = re.compile(r"[0-9a-f]{32}")


@register
class WebChannel(Channel):
    platform = Platform.WEB
    label = N_("Веб-чат")  # no credential fields, no API URL, no deep link: the plugin itself is the messenger
    keeps_uploads = True
    # Nothing leaves the process: no platform limits to honour.
    per_chat_rate = 1000.0
    per_bot_rate = 10000.0

    def __init__(self, credentials: Any, *, upload_dir: str | Path | None = None, **options: Any) -> None:
        super().__init__(credentials, **options)
        self._upload_dir = Path(upload_dir) if upload_dir else None

    def verify(self, request: WebhookRequest) -> bool:
        return False  # the web chat never comes through /webhook

    def parse(self, request: WebhookRequest) -> Any:
        raise MalformedRequest("the web chat has no webhook")

    def send(self, chat_id: str, reply: Reply, files: FileStore, *, message_key: int | None = None) -> list[str]:
        # The reply is already in the log, which is what the chat page shows; its row names it. A chart is
        # drawn now, in the worker, so the page only reads the stored PNG (or the row notes why there is none).
        if isinstance(reply, StatsReply) and reply.chart_key:
            files.chart_png(reply.chart_key)
        return [f"web:{message_key}" if message_key is not None else f"web:{uuid.uuid4().hex}"]

    def download(self, file: FileRef) -> bytes:
        return self.uploads().read(file.file_id)

    def check(self) -> BotIdentity:
        return BotIdentity("web", WEB_BOT_NAME)

    def set_webhook(self, url: str, secret: str) -> None:
        return None

    def webhook_info(self) -> WebhookInfo:
        return WebhookInfo(url=None)

    def uploads(self) -> UploadStore:
        if self._upload_dir is None:
            raise LookupError("the web chat channel was made without its upload folder")
        return UploadStore(self._upload_dir)


@dataclass(frozen=True)
class StoredFile:
    file_id: str
    name: str
    content_type: str
    size: int


class UploadStore:
    """Files the admin attached in the web chat: ``<root>/<uuid>`` with ``<uuid>.json`` (name, type)."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    @classmethod
    def for_instance(cls, instance_path: str | Path) -> UploadStore:
        return cls(cls.folder_of(instance_path))

    @staticmethod
    def folder_of(instance_path: str | Path) -> Path:
        return Path(instance_path) / UPLOAD_FOLDER

    def save(self, data: bytes, *, name: str, content_type: str) -> StoredFile:
        self.root.mkdir(parents=True, exist_ok=True)
        file_id = uuid.uuid4().hex
        stored = StoredFile(file_id, name, content_type, len(data))
        (self.root / file_id).write_bytes(data)
        (self.root / f"{file_id}.json").write_text(json.dumps({"name": name, "content_type": content_type}))
        return stored

    def read(self, file_id: str) -> bytes:
        return self._path(file_id).read_bytes()

    def info(self, file_id: str) -> StoredFile:
        path = self._path(file_id)
        meta = json.loads((self.root / f"{file_id}.json").read_text())
        return StoredFile(file_id, meta["name"], meta["content_type"], path.stat().st_size)

    def _path(self, file_id: str) -> Path:
        # Only our own ids: a "../" or an absolute path never reaches the file system.
        if not _FILE_ID.fullmatch(file_id):
            raise FileNotFoundError(f"not a web upload id: {file_id!r}")
        path = self.root / file_id
        if not path.is_file():
            raise FileNotFoundError(f"no web upload {file_id}")
        return path


# --- the web "account" of an employee -------------------------------------------------------------

def ensure_web_bot(session: Session, sealed_empty_credentials: str) -> Bot:
    """The one web bot, made on first use."""
    bot = session.scalar(select(Bot).where(Bot.platform == Platform.WEB).order_by(Bot.id).limit(1))
    if bot is None:
        bot = Bot(platform=Platform.WEB, name=WEB_BOT_NAME, platform_bot_id="web",
                  credentials_encrypted=sealed_empty_credentials, active=True)
        session.add(bot)
        session.flush()
        log.info("web chat bot created (id %s)", bot.id)
    return bot


def web_sender(user: User) -> Sender:
    platform_id = f"web-{user.id}"
    return Sender(user_id=platform_id, chat_id=platform_id, name=user.full_name, language="ru")


def bind_employee(session: Session, bot: Bot, user: User) -> EmployeeLink:
    """The admin is trusted: choosing an employee binds their web link. A blocked link stays blocked,
    so the admin sees the bot refuse them."""
    sender = web_sender(user)
    link = session.scalar(select(EmployeeLink).where(EmployeeLink.bot_id == bot.id,
                                                     EmployeeLink.crm_user_id == user.id))
    if link is None:
        link = EmployeeLink(bot_id=bot.id, crm_user_id=user.id)
        session.add(link)
    link.platform_user_id = sender.user_id
    link.chat_id = sender.chat_id
    link.display_name = user.full_name
    if link.status != LinkStatus.BLOCKED:
        if link.status != LinkStatus.BOUND or link.bound_at is None:
            link.bound_at = utcnow()
        link.status = LinkStatus.BOUND
    session.flush()
    return link
