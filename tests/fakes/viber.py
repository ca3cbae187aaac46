"""A fake Viber REST Bot API: POST /pa/<method> with the token in X-Viber-Auth-Token (or the body's
auth_token); errors answered as HTTP 200 with a non-zero ``status`` like the real one. Also serves media
files at /media/<name> for download tests.
"""

from __future__ import annotations

import itertools
import threading
from typing import Any

from flask import Response, jsonify, request

from .server import FakePlatformServer, SlidingWindow

PICTURE_TEXT_LIMIT = 768  # characters of a picture message's description
BUTTON_ACTIONS = {"reply", "open-url", "share-phone", "location-picker", "none"}
STATUS_MESSAGES = {2: "invalidAuthToken", 3: "badData", 5: "receiverNotRegistered", 6: "receiverNotSubscribed",
                   12: "tooManyRequests"}


class FakeViber(FakePlatformServer):
    """``token``: the only auth token accepted. ``per_receiver``: (messages, seconds) one person may get
    before status 12 (Viber: 100 an hour without a reply). ``unsubscribed`` / ``unregistered``: receiver
    ids answered with status 6 / 5. Sent messages are kept in ``sent`` (the JSON payloads)."""

    name = "viber"

    def __init__(self, token: str = "viber-token", *, account_id: str = "pa:5551234", name: str = "Окна CRM",
                 uri: str = "oknacrm", per_receiver: tuple[int, float] = (100, 3600.0)) -> None:
        super().__init__()
        self.token, self.account_id, self.account_name, self.uri = token, account_id, name, uri
        self.per_receiver = SlidingWindow(*per_receiver)
        self.unsubscribed: set[str] = set()
        self.unregistered: set[str] = set()
        self.sent: list[dict[str, Any]] = []
        self.webhook: str | None = None
        self.event_types: list[str] = []
        self.media: dict[str, tuple[bytes, str, bool]] = {}
        # Refuse a picture whose URL does not end in .png/.jpeg/.jpg, as Viber documents (off by default: the
        # plugin's links to CRM photos, /media/<token>, have no such ending yet).
        self.strict_pictures = False
        self._tokens = itertools.count(5_000_000_000_000_000_001)
        self._sent_lock = threading.Lock()
        self.app.add_url_rule("/pa/<method>", "api", self._api, methods=["POST"])
        self.app.add_url_rule("/media/<name>", "media", self._media, methods=["GET"])

    # --- test helpers ---------------------------------------------------------------------------------
    def add_media(self, name: str, data: bytes, content_type: str = "application/octet-stream", *,
                  declare_length: bool = True) -> str:
        """Serve ``data`` at the returned URL; ``declare_length=False`` streams it without Content-Length."""
        self.media[name] = (data, content_type, declare_length)
        return f"{self.url}/media/{name}"

    def api_method(self) -> str:
        return "media" if request.path.startswith("/media/") else super().api_method()

    # --- routes ---------------------------------------------------------------------------------------
    def _api(self, method: str) -> Response:
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            return _status(3, "badData")
        token = request.headers.get("X-Viber-Auth-Token") or body.get("auth_token")
        if token != self.token:
            return _status(2, "invalidAuthToken")
        handler = {"send_message": self._send_message, "set_webhook": self._set_webhook,
                   "get_account_info": self._account_info}.get(method)
        return handler(body) if handler else _status(3, f"badData: unknown method {method}")

    def _send_message(self, body: dict[str, Any]) -> Response:
        receiver = str(body.get("receiver") or "")
        problem = _invalid_message(body, self.strict_pictures)
        if not receiver or problem:
            return _status(3, f"badData: {problem or 'no receiver'}")
        if receiver in self.unregistered:
            return _status(5, "receiverNotRegistered")
        if receiver in self.unsubscribed:
            return _status(6, "receiverNotSubscribed")
        limited = self.limit(self.per_receiver, receiver, lambda wait: _status(12, "tooManyRequests"))
        if limited is not None:
            return limited
        token = next(self._tokens)
        with self._sent_lock:
            self.sent.append({**body, "message_token": token})
        return jsonify(status=0, status_message="ok", message_token=token, chat_hostname="SN-CHAT-05_",
                       billing_status=1)

    def _set_webhook(self, body: dict[str, Any]) -> Response:
        url = body.get("url")
        if not isinstance(url, str) or (url and not url.startswith(("https://", "http://"))):
            return _status(1, "invalidUrl")
        self.webhook = url or None
        self.event_types = list(body.get("event_types") or ["delivered", "seen", "failed", "subscribed",
                                                            "unsubscribed", "conversation_started"])
        return jsonify(status=0, status_message="ok", event_types=self.event_types)

    def _account_info(self, body: dict[str, Any]) -> Response:
        return jsonify(status=0, status_message="ok", id=self.account_id, name=self.account_name, uri=self.uri,
                       icon="https://media.example/icon.jpg", background="https://media.example/bg.jpg",
                       category="Local Businesses", subcategory="Home Services", country="RU",
                       location={"lon": 37.6173, "lat": 55.7558}, webhook=self.webhook or "",
                       event_types=self.event_types, subscribers_count=3,
                       members=[{"id": "01234567890A=", "name": "Админ", "role": "admin"}])

    def _media(self, name: str) -> Response:
        if name not in self.media:
            return Response("not found", status=404)
        data, content_type, declare_length = self.media[name]
        if declare_length:
            return Response(data, content_type=content_type)
        chunks = (data[i:i + 65536] for i in range(0, len(data), 65536))
        return Response(chunks, content_type=content_type)  # a generator: sent chunked, no Content-Length


def _status(status: int, message: str) -> Response:
    return jsonify(status=status, status_message=message)


def _invalid_message(body: dict[str, Any], strict_pictures: bool = False) -> str | None:
    """What the real API would reject in a send_message body (None when it is fine)."""
    sender = body.get("sender")
    if not isinstance(sender, dict) or not sender.get("name") or len(sender["name"]) > 28:
        return "sender.name"
    kind = body.get("type")
    required = {"text": ("text",), "picture": ("media",), "file": ("media", "size", "file_name"),
                "location": ("location",)}.get(str(kind))
    if required is None:
        return f"type {kind!r}"
    missing = [field for field in required if body.get(field) in (None, "")]
    if missing:
        return f"missing {missing}"
    if kind == "location" and not {"lat", "lon"} <= set(body["location"]):
        return "location.lat/lon"
    if kind == "picture":  # Viber fetches the picture by URL: a .png/.jpeg/.jpg name, a short description
        name = str(body["media"]).split("?")[0].rsplit("/", 1)[-1].lower()
        if strict_pictures and not name.endswith((".png", ".jpeg", ".jpg")):
            return "picture media must end in .png, .jpeg or .jpg"
        if len(str(body.get("text") or "")) > PICTURE_TEXT_LIMIT:
            return f"picture text over {PICTURE_TEXT_LIMIT} characters"
    return _invalid_keyboard(body.get("keyboard"))


def _invalid_keyboard(keyboard: Any) -> str | None:
    if keyboard is None:
        return None
    if not isinstance(keyboard, dict) or keyboard.get("Type") != "keyboard":
        return "keyboard.Type"
    for button in keyboard.get("Buttons") or []:
        columns = button.get("Columns", 6)
        if not 1 <= columns <= 6 or button.get("ActionType", "reply") not in BUTTON_ACTIONS:
            return f"button {button}"
        if not button.get("ActionBody"):
            return "button.ActionBody"
    return None
