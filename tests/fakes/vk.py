"""A fake VK API server: /method/<name> answering ``{"response": ...}`` or ``{"error": {...}}`` with HTTP 200,
the upload URLs it hands out, a Bots Long Poll server, file URLs, and callback-server settings.

It records what was sent (``sent_messages``) and enforces VK's 20 calls a second per token (error 6).

    with FakeVk() as fake:                              # token FakeVk.TOKEN, community FakeVk.GROUP_ID
        channel = VkChannel(fake.credentials(), api_url=fake.api_url)
        fake.vk_error(6, "Too many requests per second")  # the next call answers that error
        fake.block(42)                                  # messages.send to 42: error 901
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from flask import Response, request

from .server import FakePlatformServer, Fault, SlidingWindow

ERRORS = {
    5: "User authorization failed: invalid access_token (4).",
    6: "Too many requests per second",
    10: "Internal server error",
    100: "One of the parameters specified was missing or invalid",
    901: "Can't send messages for users without permission",
    902: "Can't send messages to this user due to their privacy settings",
    911: "Keyboard format is invalid",
}


@dataclass
class VkSentMessage:
    peer_id: str
    message_id: int
    random_id: int
    text: str | None = None
    keyboard: dict[str, Any] | None = None
    attachments: list[str] = field(default_factory=list)
    location: tuple[float, float] | None = None


@dataclass
class Upload:
    kind: str  # "photo" | "doc"
    filename: str
    content: bytes


class VkFail(Exception):
    def __init__(self, code: int, message: str | None = None) -> None:
        super().__init__(code)
        self.code, self.message = code, message or ERRORS.get(code, "Unknown error")


class FakeVk(FakePlatformServer):
    name = "vk"
    TOKEN = "vk1.a.test-community-token"
    GROUP_ID = 229000111

    def __init__(self, token: str = TOKEN, *, group_id: int = GROUP_ID, group_name: str = "Окна Комфорт",
                 per_token: tuple[int, float] | None = (20, 1.0)) -> None:
        super().__init__()
        self.token, self.group_id, self.group_name = token, group_id, group_name
        self.tokens = {token}
        self.sent: list[VkSentMessage] = []
        self.uploads: dict[str, Upload] = {}  # attachment ("photo-1_2" / "doc-1_3") -> what was uploaded
        self.files: dict[str, bytes] = {}  # /files/<name> -> bytes (what people "sent")
        self.blocked: dict[str, int] = {}  # peer id -> error code for messages.send
        self.callback_servers: list[dict[str, Any]] = []
        self.callback_settings: dict[int, dict[str, Any]] = {}
        self.event_answers: list[dict[str, Any]] = []
        self.users: dict[int, dict[str, Any]] = {}  # users.get: id -> {"first_name", "last_name"}
        self.confirmation = "a1b2c3d4"
        self._pending: dict[str, list[tuple[str, bytes]]] = {}  # upload hash -> files
        self._random_ids: dict[tuple[str, int], int] = {}
        self._events: list[tuple[int, dict[str, Any]]] = []  # (ts, long poll update)
        self._lp_key = "lpkey-1"
        self._state = threading.Condition()
        self._ids = itertools.count(501)
        self._window = SlidingWindow(*per_token) if per_token else None
        self.app.add_url_rule("/method/<name>", view_func=self._method, methods=["GET", "POST"])
        self.app.add_url_rule("/upload/<kind>", view_func=self._upload, methods=["POST"])
        self.app.add_url_rule("/longpoll/<int:group_id>", view_func=self._long_poll)
        self.app.add_url_rule("/files/<name>", view_func=self._file)

    def __enter__(self) -> FakeVk:
        self.start()
        return self

    # --- configuration --------------------------------------------------------------------------------
    @property
    def api_url(self) -> str:
        return f"{self.url}/method/"

    def credentials(self, **overrides: str) -> dict[str, str]:
        return {"token": self.token, "group_id": str(self.group_id), "secret": "vk-secret",
                "confirmation": self.confirmation, **overrides}

    def set_limit(self, per_token: tuple[int, float] | None) -> None:
        self._window = SlidingWindow(*per_token) if per_token else None

    def block(self, peer_id: str | int, code: int = 901) -> None:
        self.blocked[str(peer_id)] = code

    def vk_error(self, code: int, message: str | None = None, method: str | None = None, times: int = 1) -> None:
        body = {"error": {"error_code": code, "error_msg": message or ERRORS.get(code, "Unknown error")}}
        self.inject(Fault(status=200, body=body, method=method), times)

    def server_error(self, status: int = 500, method: str | None = None, times: int = 1) -> None:
        self.inject(Fault(status=status, body="<html>Internal Server Error</html>", method=method), times)

    def drop_connection(self, method: str | None = None, times: int = 1) -> None:
        self.inject(Fault(drop=True, method=method), times)

    def delay(self, seconds: float, method: str | None = None, times: int = 1) -> None:
        self.inject(Fault(delay=seconds, method=method), times)

    def add_file(self, content: bytes, name: str) -> str:
        """A file a person 'sent'; returns its URL."""
        self.files[name] = content
        return f"{self.url}/files/{name}"

    def push_event(self, event: dict[str, Any]) -> None:
        """Queue a Callback-API-shaped event for the Bots Long Poll server."""
        with self._state:
            self._events.append((len(self._events) + 1, {"group_id": self.group_id, **event}))
            self._state.notify_all()

    def expire_long_poll_key(self) -> None:
        self._lp_key = f"lpkey-{next(self._ids)}"

    def set_callback_status(self, status: str) -> None:
        for server in self.callback_servers:
            server["status"] = status

    # --- reading what happened ------------------------------------------------------------------------------
    def sent_messages(self, peer_id: str | int | None = None) -> list[VkSentMessage]:
        with self._state:
            return [m for m in self.sent if peer_id is None or m.peer_id == str(peer_id)]

    # --- the server -----------------------------------------------------------------------------------
    def api_method(self) -> str:
        parts = request.path.strip("/").split("/")
        return parts[1] if parts[0] == "method" else f"{parts[0]}.{parts[1]}" if parts[0] == "upload" else parts[0]

    def _method(self, name: str) -> Response:
        params = request.values.to_dict()
        try:
            if params.get("access_token") not in self.tokens:
                raise VkFail(5)
            if self._window is not None and self._window.hit(params["access_token"]) > 0:
                with self._lock:
                    self.rate_limited += 1
                raise VkFail(6)
            handler = getattr(self, "_m_" + name.replace(".", "_"), None)
            if handler is None:
                raise VkFail(3, "Unknown method passed")
            return _json({"response": handler(params)})
        except VkFail as fail:
            request_params = [{"key": k, "value": v} for k, v in params.items() if k != "access_token"]
            return _json({"error": {"error_code": fail.code, "error_msg": fail.message,
                                    "request_params": request_params}})

    def _upload(self, kind: str) -> Response:
        uploaded = []
        for storage in request.files.values():
            storage.stream.seek(0)
            uploaded.append((storage.filename or "file", storage.read()))
        if not uploaded:
            return _json({"error": "no file"})
        upload_hash = f"h{next(self._ids)}"
        self._pending[upload_hash] = uploaded
        if kind == "doc":
            return _json({"file": upload_hash})
        photo = json.dumps([{"photo": f"{upload_hash}:{i}", "sizes": [], "kid": "k"} for i in range(len(uploaded))])
        return _json({"server": 840123, "photo": photo, "hash": upload_hash})

    def _long_poll(self, group_id: int) -> Response:
        if request.args.get("key") != self._lp_key:
            return _json({"failed": 2})
        ts, wait = int(request.args.get("ts") or 0), min(float(request.args.get("wait") or 0), 30.0)
        deadline = time.monotonic() + wait
        with self._state:
            while not [e for t, e in self._events if t >= ts] and time.monotonic() < deadline:
                self._state.wait(deadline - time.monotonic())
            updates = [e for t, e in self._events if t >= ts]
            return _json({"ts": str(len(self._events) + 1), "updates": updates})

    def _file(self, name: str) -> Response:
        if name not in self.files:
            return Response("Not Found", 404)
        return Response(self.files[name], content_type="application/octet-stream")

    # --- methods -----------------------------------------------------------------------------------------
    def _m_groups_getById(self, params: dict[str, Any]) -> Any:
        group = {"id": self.group_id, "name": self.group_name, "screen_name": "okna_komfort", "is_closed": 0,
                 "type": "group"}
        return {"groups": [group], "profiles": []}

    def _m_messages_send(self, params: dict[str, Any]) -> Any:
        peer = str(params.get("peer_id") or params.get("user_id") or "")
        if not peer or "random_id" not in params:
            raise VkFail(100, "One of the parameters specified was missing or invalid: "
                              "peer_id and random_id are required")
        if peer in self.blocked:
            raise VkFail(self.blocked[peer])
        attachments = [a for a in (params.get("attachment") or "").split(",") if a]
        unknown = [a for a in attachments if a not in self.uploads]
        if unknown:
            raise VkFail(100, f"One of the parameters specified was missing or invalid: attachment {unknown[0]}")
        if not (params.get("message") or attachments or params.get("lat")):
            raise VkFail(100, "One of the parameters specified was missing or invalid: message is empty or invalid")
        try:
            keyboard = json.loads(params["keyboard"]) if params.get("keyboard") else None
        except ValueError as exc:
            raise VkFail(911) from exc
        location = (float(params["lat"]), float(params["long"])) if params.get("lat") else None
        with self._state:
            key = (peer, int(params["random_id"]))
            if key in self._random_ids:  # VK drops a repeated random_id: the first message stands
                return self._random_ids[key]
            message = VkSentMessage(peer, next(self._ids), key[1], params.get("message"), keyboard, attachments,
                                    location)
            self.sent.append(message)
            self._random_ids[key] = message.message_id
        return message.message_id

    def _m_users_get(self, params: dict[str, Any]) -> Any:
        """Known users as VK gives them; unknown ids are left out of the answer, as VK does for deleted ones."""
        ids = [part.strip() for part in str(params.get("user_ids") or "").split(",") if part.strip()]
        return [{"id": int(i), **self.users[int(i)], "can_access_closed": True, "is_closed": False}
                for i in ids if i.lstrip("-").isdigit() and int(i) in self.users]

    def _m_messages_sendMessageEventAnswer(self, params: dict[str, Any]) -> Any:
        self.event_answers.append(params)
        return 1

    def _m_photos_getMessagesUploadServer(self, params: dict[str, Any]) -> Any:
        return {"upload_url": f"{self.url}/upload/photo", "album_id": -3, "user_id": 0, "group_id": self.group_id}

    def _m_docs_getMessagesUploadServer(self, params: dict[str, Any]) -> Any:
        return {"upload_url": f"{self.url}/upload/doc"}

    def _m_photos_saveMessagesPhoto(self, params: dict[str, Any]) -> Any:
        uploaded = self._pending.pop(params.get("hash", ""), None)
        if not uploaded:
            raise VkFail(100, "One of the parameters specified was missing or invalid: photo is undefined")
        photos = []
        for filename, content in uploaded:
            photo_id = next(self._ids)
            self.uploads[f"photo-{self.group_id}_{photo_id}"] = Upload("photo", filename, content)
            sizes = [{"type": t, "width": w, "height": h, "url": f"{self.url}/files/photo{photo_id}_{t}.jpg"}
                     for t, w, h in (("s", 75, 56), ("x", 604, 453), ("y", 807, 605))]
            photos.append({"id": photo_id, "owner_id": -self.group_id, "album_id": -3, "date": int(time.time()),
                           "sizes": sizes, "text": ""})
        return photos

    def _m_docs_save(self, params: dict[str, Any]) -> Any:
        uploaded = self._pending.pop(params.get("file", ""), None)
        if not uploaded:
            raise VkFail(100, "One of the parameters specified was missing or invalid: file is undefined")
        filename, content = uploaded[0]
        doc_id = next(self._ids)
        title = params.get("title") or filename
        self.uploads[f"doc-{self.group_id}_{doc_id}"] = Upload("doc", title, content)
        return {"type": "doc", "doc": {"id": doc_id, "owner_id": -self.group_id, "title": title, "size": len(content),
                                       "ext": title.rsplit(".", 1)[-1], "date": int(time.time()), "type": 1,
                                       "url": f"{self.url}/files/doc{doc_id}"}}

    def _m_groups_getCallbackServers(self, params: dict[str, Any]) -> Any:
        return {"count": len(self.callback_servers), "items": [dict(s) for s in self.callback_servers]}

    def _m_groups_addCallbackServer(self, params: dict[str, Any]) -> Any:
        server = {"id": len(self.callback_servers) + 1, "title": params.get("title", ""), "creator_id": 1,
                  "url": params["url"], "secret_key": params.get("secret_key", ""), "status": "unconfigured"}
        self.callback_servers.append(server)
        return {"server_id": server["id"]}

    def _m_groups_editCallbackServer(self, params: dict[str, Any]) -> Any:
        server = self._callback_server(params)
        server.update(url=params["url"], title=params.get("title", server["title"]),
                      secret_key=params.get("secret_key", ""))
        return 1

    def _m_groups_setCallbackSettings(self, params: dict[str, Any]) -> Any:
        server = self._callback_server(params)
        self.callback_settings[server["id"]] = {k: v for k, v in params.items()
                                                if k not in ("access_token", "v", "group_id", "server_id")}
        return 1

    def _m_groups_getCallbackConfirmationCode(self, params: dict[str, Any]) -> Any:
        return {"code": self.confirmation}

    def _m_groups_getLongPollServer(self, params: dict[str, Any]) -> Any:
        with self._state:
            ts = len(self._events) + 1
        return {"key": self._lp_key, "server": f"{self.url}/longpoll/{self.group_id}", "ts": str(ts)}

    def _callback_server(self, params: dict[str, Any]) -> dict[str, Any]:
        server = next((s for s in self.callback_servers if str(s["id"]) == str(params.get("server_id"))), None)
        if server is None:
            raise VkFail(100, "One of the parameters specified was missing or invalid: server_id")
        return server


def _json(data: Any) -> Response:
    return Response(json.dumps(data, ensure_ascii=False), content_type="application/json")
