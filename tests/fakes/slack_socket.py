"""A fake Slack with Socket Mode: FakeSlack's Web API plus apps.connections.open, and a WebSocket server on
loopback (the ``websockets`` library) that speaks Socket Mode like Slack does.

apps.connections.open takes only the app-level token and answers a one-time ws:// URL; a connection says
``hello``, then carries the envelopes a test pushes. Every message the client sends back is recorded, so a
test sees which envelopes were acknowledged. ``disconnect`` sends Slack's "refresh_requested" envelope
(the client must open a new connection); ``close_connection`` closes the socket like a restarting server.
"""

from __future__ import annotations

import json
import threading
import uuid
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs, urlsplit

from flask import Response, jsonify, request
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request
from websockets.http11 import Response as HandshakeResponse
from websockets.sync.server import Server, ServerConnection, serve

from .slack import FakeSlack, _error


class FakeSlackSocketMode(FakeSlack):
    """``app_token``: the app-level token apps.connections.open accepts. ``acks``: envelope ids the client
    acknowledged, in order; ``pushed``: envelope ids sent; ``connections``: WebSockets opened so far."""

    name = "slack-socket"

    def __init__(self, token: str = "xoxb-test-token", *, app_token: str = "xapp-1-A0CRMAPP1-1-test",
                 app_id: str = "A0CRMAPP1", **options: Any) -> None:
        super().__init__(token, **options)
        self.app_token, self.app_id = app_token, app_id
        self.pushed: list[str] = []
        self.acks: list[str] = []
        self.received: list[Any] = []  # every message the client sent, decoded
        self.connections = 0
        self._tickets: set[str] = set()
        self._open: list[ServerConnection] = []
        self._retiring: set[int] = set()  # id() of connections told to disconnect
        self._changed = threading.Condition()
        self._ws: Server | None = None
        self._ws_thread: threading.Thread | None = None

    # --- life cycle ---------------------------------------------------------------------------------
    def start(self) -> FakeSlackSocketMode:
        self._ws = serve(self._handle, "127.0.0.1", 0, process_request=self._check_ticket, compression=None,
                         ping_interval=None)
        self._ws_thread = threading.Thread(target=self._ws.serve_forever, name="fake-slack-socket", daemon=True)
        self._ws_thread.start()
        super().start()
        return self

    def __enter__(self) -> FakeSlackSocketMode:
        return self.start()

    def stop(self) -> None:
        super().stop()
        if self._ws is not None:
            self._ws.shutdown()

    @property
    def ws_url(self) -> str:
        assert self._ws is not None, "start() the fake first"
        return f"ws://127.0.0.1:{self._ws.socket.getsockname()[1]}"

    # --- test helpers ---------------------------------------------------------------------------------
    def push(self, kind: str, payload: dict[str, Any], *, retry_attempt: int = 0, timeout: float = 5.0) -> str:
        """Send one envelope on the live connection (waiting for one); returns its envelope id."""
        envelope_id = str(uuid.uuid4())
        envelope: dict[str, Any] = {"envelope_id": envelope_id, "type": kind, "payload": payload,
                                    "accepts_response_payload": False}
        if kind == "events_api":
            envelope.update(retry_attempt=retry_attempt, retry_reason="timeout" if retry_attempt else "")
        self._live(timeout).send(json.dumps(envelope, ensure_ascii=False))
        self.pushed.append(envelope_id)
        return envelope_id

    def push_event(self, body: dict[str, Any], **options: Any) -> str:
        return self.push("events_api", body, **options)

    def push_interaction(self, payload: dict[str, Any], **options: Any) -> str:
        return self.push("interactive", payload, **options)

    def disconnect(self, reason: str = "refresh_requested", timeout: float = 5.0) -> None:
        """Slack's warning that this connection ends soon: the client must open a new one."""
        connection = self._live(timeout)
        with self._changed:
            self._retiring.add(id(connection))
        connection.send(json.dumps({"type": "disconnect", "reason": reason,
                                    "debug_info": {"host": "applink-fake-1"}}))

    def close_connection(self, timeout: float = 5.0) -> None:
        """Close the live WebSocket with 1001 "going away", as a Slack server restarting does."""
        connection = self._live(timeout)
        with self._changed:
            self._retiring.add(id(connection))
        connection.close(1001, "server restarting")

    def wait_connections(self, count: int, timeout: float = 5.0) -> None:
        with self._changed:
            if not self._changed.wait_for(lambda: self.connections >= count and self._live_now(), timeout):
                raise AssertionError(f"{self.connections} Socket Mode connection(s), expected {count}")

    def wait_acks(self, envelope_ids: list[str], timeout: float = 5.0) -> list[str]:
        with self._changed:
            self._changed.wait_for(lambda: set(envelope_ids) <= set(self.acks), timeout)
            return list(self.acks)

    # --- Web API: apps.connections.open -------------------------------------------------------------------
    def _api(self, method: str) -> Response:
        if method != "apps.connections.open":
            return super()._api(method)
        auth = request.headers.get("Authorization", "")
        token = auth.removeprefix("Bearer ") if auth.startswith("Bearer ") else request.values.get("token")
        if not token:
            return _error("not_authed")
        if token == self.token:
            return _error("not_allowed_token_type")  # a bot token (xoxb) cannot open Socket Mode
        if token != self.app_token:
            return _error("invalid_auth")
        ticket = uuid.uuid4().hex
        with self._changed:
            self._tickets.add(ticket)
        return jsonify(ok=True, url=f"{self.ws_url}/link/?ticket={ticket}&app_id={self.app_id}")

    # --- WebSocket server ---------------------------------------------------------------------------------
    def _check_ticket(self, connection: ServerConnection, ws_request: Request) -> HandshakeResponse | None:
        ticket = (parse_qs(urlsplit(ws_request.path).query).get("ticket") or [""])[0]
        with self._changed:
            if ticket in self._tickets:
                self._tickets.discard(ticket)  # one connection per ticket, as in Slack
                return None
        return connection.respond(HTTPStatus.UNAUTHORIZED, "invalid ticket\n")

    def _handle(self, connection: ServerConnection) -> None:
        connection.send(json.dumps({"type": "hello", "num_connections": 1,
                                    "debug_info": {"host": "applink-fake-1", "approximate_connection_time": 18060},
                                    "connection_info": {"app_id": self.app_id}}))
        with self._changed:
            retiring = [c for c in self._open if id(c) in self._retiring]
            self._open.append(connection)
            self.connections += 1
            self._changed.notify_all()
        for old in retiring:  # Slack closes a connection it asked to leave once the new one is up
            old.close(1001, "refresh requested")
        try:
            for message in connection:
                data = json.loads(message)
                with self._changed:
                    self.received.append(data)
                    if isinstance(data, dict) and data.get("envelope_id"):
                        self.acks.append(str(data["envelope_id"]))
                    self._changed.notify_all()
        except ConnectionClosed:
            pass  # the client went away: a new connection (or none) follows
        finally:
            with self._changed:
                self._open.remove(connection)
                self._changed.notify_all()

    def _live_now(self) -> ServerConnection | None:
        fresh = [c for c in self._open if id(c) not in self._retiring]
        return fresh[-1] if fresh else None

    def _live(self, timeout: float) -> ServerConnection:
        with self._changed:
            if not self._changed.wait_for(lambda: self._live_now() is not None, timeout):
                raise AssertionError("no live Socket Mode connection")
            connection = self._live_now()
        assert connection is not None
        return connection
