"""A fake Slack Web API: POST /api/<method> answering {"ok": true, ...} or {"ok": false, "error": ...} like the
real one, the files_upload_v2 flow (files.getUploadURLExternal, POST to the upload URL,
files.completeUploadExternal), private file downloads, and chat.postMessage's one message a second per
channel (HTTP 429 with Retry-After).
"""

from __future__ import annotations

import itertools
import json
import math
import threading
import time
from typing import Any

from flask import Response, jsonify, request

from .server import FakePlatformServer, SlidingWindow

BLOCK_TYPES = {"section", "actions", "context", "divider", "header", "image"}


class FakeSlack(FakePlatformServer):
    """``token``: the bot token accepted. ``per_channel``: (messages, seconds) chat.postMessage allows per
    channel. Channels: ids starting with "D" (DMs) always exist; others must be added with ``add_channel``.
    ``inactive``: channel ids answered ``account_inactive``. Posted messages are in ``messages``, completed
    uploads in ``shares``, uploaded bytes in ``uploads``."""

    name = "slack"

    def __init__(self, token: str = "xoxb-test-token", *, team: str = "Окна Плюс", team_id: str = "T0CRM01",
                 bot_user: str = "crm_bot", user_id: str = "U0BOT001", bot_id: str = "B0BOT001",
                 per_channel: tuple[int, float] = (1, 1.0)) -> None:
        super().__init__()
        self.token, self.team, self.team_id = token, team, team_id
        self.bot_user, self.user_id, self.bot_id = bot_user, user_id, bot_id
        self.per_channel = SlidingWindow(*per_channel)
        self.channels: dict[str, dict[str, bool]] = {}
        self.inactive: set[str] = set()
        self.users: dict[str, dict[str, Any]] = {}
        self.messages: list[dict[str, Any]] = []
        self.shares: list[dict[str, Any]] = []
        self.uploads: dict[str, dict[str, Any]] = {}  # file id -> name, length, data (None until uploaded)
        self._ids = itertools.count(1)
        self._data_lock = threading.Lock()
        self.app.add_url_rule("/api/<method>", "api", self._api, methods=["GET", "POST"])
        self.app.add_url_rule("/upload/v1/<file_id>", "upload", self._upload, methods=["POST"])
        self.app.add_url_rule("/files-pri/<file_id>/<name>", "download", self._download, methods=["GET"])
        self.app.add_url_rule("/files-pri/<file_id>/download/<name>", "download_attachment", self._download,
                              methods=["GET"])

    # --- test helpers ---------------------------------------------------------------------------------
    def add_channel(self, channel_id: str, *, member: bool = True, archived: bool = False, name: str = "") -> None:
        self.channels[channel_id] = {"member": member, "archived": archived, "name": name}

    def add_user(self, user_id: str, **profile: Any) -> None:
        self.users[user_id] = {"id": user_id, "team_id": self.team_id, "name": profile.pop("name", user_id.lower()),
                               "real_name": profile.get("real_name", ""), "deleted": False, "is_bot": False,
                               "profile": profile}

    def add_file(self, name: str, data: bytes) -> str:
        """A file as if a person had shared it; returns its url_private."""
        return str(self.shared_file(name, data, "application/octet-stream")["url_private"])

    def shared_file(self, name: str, data: bytes, mimetype: str, *, user: str = "") -> dict[str, Any]:
        """A file a person shares: stored, and described as a ``file_share`` event's ``files`` item."""
        file_id = self._new_id("F")
        self.uploads[file_id] = {"name": name, "length": len(data), "data": data}
        return {"id": file_id, "name": name, "title": name, "mimetype": mimetype, "filetype": name.rsplit(".", 1)[-1],
                "user": user, "size": len(data), "mode": "hosted", "is_external": False, "is_public": False,
                "url_private": self.file_url(file_id, name),
                "url_private_download": self.file_download_url(file_id, name)}

    def file_url(self, file_id: str, name: str) -> str:
        return f"{self.url}/files-pri/{self.team_id}-{file_id}/{name}"

    def file_download_url(self, file_id: str, name: str) -> str:
        """A file's url_private_download: the same bytes as url_private, offered as an attachment."""
        return f"{self.url}/files-pri/{self.team_id}-{file_id}/download/{name}"

    def _before(self) -> Response | None:
        if request.path.startswith("/upload/"):
            # slack_sdk posts raw bytes labelled as a form: cache them before the base records the "form".
            request.get_data(cache=True)
        return super()._before()

    def api_method(self) -> str:
        if request.path.startswith("/upload/"):
            return "upload"
        if request.path.startswith("/files-pri/"):
            return "download"
        return super().api_method()

    # --- Web API --------------------------------------------------------------------------------------
    def _api(self, method: str) -> Response:
        params: dict[str, Any] = {**request.args.to_dict(), **request.form.to_dict()}
        params.update(request.get_json(silent=True) or {})
        auth = request.headers.get("Authorization", "")
        token = auth.removeprefix("Bearer ") if auth.startswith("Bearer ") else params.get("token")
        if not token:
            return _error("not_authed")
        if token != self.token:
            return _error("invalid_auth")
        handler = {"auth.test": self._auth_test, "chat.postMessage": self._post_message, "users.info": self._users_info,
                   "files.getUploadURLExternal": self._get_upload_url,
                   "files.completeUploadExternal": self._complete_upload,
                   "conversations.open": self._open_conversation,
                   "conversations.list": self._list_conversations}.get(method)
        return handler(params) if handler else _error("unknown_method")

    def _auth_test(self, params: dict[str, Any]) -> Response:
        return jsonify(ok=True, url="https://oknaplus.slack.com/", team=self.team, user=self.bot_user,
                       team_id=self.team_id, user_id=self.user_id, bot_id=self.bot_id, is_enterprise_install=False)

    def _post_message(self, params: dict[str, Any]) -> Response:
        channel = str(params.get("channel") or "")
        problem = self._channel_problem(channel)
        if problem:
            return _error(problem)
        blocks = params.get("blocks")
        if isinstance(blocks, str):
            blocks = json.loads(blocks)
        if not params.get("text") and not blocks:
            return _error("no_text")
        if blocks and _invalid_blocks(blocks):
            return _error("invalid_blocks")
        limited = self.limit(self.per_channel, channel, lambda wait: _error(
            "ratelimited", status=429, headers={"Retry-After": str(math.ceil(wait))}))
        if limited is not None:
            return limited
        ts = self._ts()
        message = {"channel": channel, "text": params.get("text"), "blocks": blocks, "ts": ts}
        with self._data_lock:
            self.messages.append(message)
        return jsonify(ok=True, channel=channel, ts=ts, message={"type": "message", "text": params.get("text"),
                                                                  "user": self.user_id, "bot_id": self.bot_id,
                                                                  "ts": ts, "blocks": blocks or []})

    def _open_conversation(self, params: dict[str, Any]) -> Response:
        """A direct message with one user: the same "D…" channel id for the same user every time."""
        users = [u for u in str(params.get("users") or "").split(",") if u]
        if len(users) != 1 or not users[0].startswith(("U", "W")):
            return _error("users_list_not_supplied" if not users else "not_enough_users")
        return jsonify(ok=True, channel={"id": f"D{users[0][1:]}", "is_im": True, "user": users[0]})

    def _list_conversations(self, params: dict[str, Any]) -> Response:
        """Public and private channels (``add_channel``), one page; names are the ids lower-cased unless set."""
        items = [{"id": cid, "name": info.get("name") or cid.lower(), "is_channel": True, "is_member": info["member"],
                  "is_archived": info["archived"]} for cid, info in self.channels.items()
                 if not (info["archived"] and str(params.get("exclude_archived")).lower() in ("true", "1"))]
        return jsonify(ok=True, channels=items, response_metadata={"next_cursor": ""})

    def _users_info(self, params: dict[str, Any]) -> Response:
        user = self.users.get(str(params.get("user")))
        return jsonify(ok=True, user=user) if user else _error("user_not_found")

    def _get_upload_url(self, params: dict[str, Any]) -> Response:
        name, length = params.get("filename"), str(params.get("length") or "")
        if not name or not length.isdigit():
            return _error("invalid_arguments")
        file_id = self._new_id("F")
        self.uploads[file_id] = {"name": name, "length": int(length), "data": None}
        return jsonify(ok=True, upload_url=f"{self.url}/upload/v1/{file_id}", file_id=file_id)

    def _complete_upload(self, params: dict[str, Any]) -> Response:
        try:
            items = json.loads(params.get("files") or "")
        except ValueError:
            return _error("invalid_arguments")
        channel = str(params.get("channel_id") or "")
        problem = self._channel_problem(channel) if channel else None
        if problem:
            return _error(problem)
        shared = []
        for item in items:
            upload = self.uploads.get(item.get("id"))
            if upload is None or upload["data"] is None:
                return _error("file_not_found")
            shared.append({"id": item["id"], "name": upload["name"], "title": item.get("title") or upload["name"],
                           "size": len(upload["data"]), "url_private": self.file_url(item["id"], upload["name"]),
                           "url_private_download": self.file_url(item["id"], upload["name"])})
        with self._data_lock:
            self.shares.append({"channel": channel, "initial_comment": params.get("initial_comment"), "files": shared})
        return jsonify(ok=True, files=[{"id": f["id"], "title": f["title"]} for f in shared])

    # --- file hosts -----------------------------------------------------------------------------------
    def _upload(self, file_id: str) -> Response:
        upload = self.uploads.get(file_id)
        if upload is None:
            return Response("unknown upload", status=404)
        data = request.get_data()
        if len(data) != upload["length"]:
            return Response("length mismatch", status=400)
        upload["data"] = data
        return Response(f"OK - {len(data)}", status=200, content_type="text/plain")

    def _download(self, file_id: str, name: str) -> Response:
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return Response("<html>Sign in to Slack</html>", status=403, content_type="text/html")
        upload = self.uploads.get(file_id.removeprefix(f"{self.team_id}-"))
        if upload is None or upload["data"] is None or upload["name"] != name:
            return Response("not found", status=404)
        return Response(upload["data"], content_type="application/octet-stream")

    # --- helpers ------------------------------------------------------------------------------------
    def _channel_problem(self, channel: str) -> str | None:
        if channel in self.inactive:
            return "account_inactive"
        if channel.startswith("D"):
            return None
        info = self.channels.get(channel)
        if info is None:
            return "channel_not_found"
        if info["archived"]:
            return "is_archived"
        return None if info["member"] else "not_in_channel"

    def _new_id(self, prefix: str) -> str:
        return f"{prefix}0{next(self._ids):07d}"

    def _ts(self) -> str:
        return f"{int(time.time())}.{next(self._ids):06d}"


def _error(error: str, *, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    response = jsonify(ok=False, error=error)
    response.status_code = status
    response.headers.update(headers or {})
    return response


def _invalid_blocks(blocks: Any) -> bool:
    """What Slack answers ``invalid_blocks`` for, in the subset the adapter renders."""
    if not isinstance(blocks, list) or len(blocks) > 50:
        return True
    action_ids: set[str] = set()
    for block in blocks:
        kind = block.get("type") if isinstance(block, dict) else None
        if kind not in BLOCK_TYPES:
            return True
        if kind == "section" and len(block.get("text", {}).get("text", "")) > 3000:
            return True
        if kind == "actions":
            elements = block.get("elements") or []
            if not 1 <= len(elements) <= 25:
                return True
            for element in elements:
                label = element.get("text", {})
                if element.get("type") != "button" or label.get("type") != "plain_text" or not label.get("text"):
                    return True
                if element.get("action_id") in action_ids or ("value" not in element and "url" not in element):
                    return True
                action_ids.add(element.get("action_id"))
    return False
