"""Slack Socket Mode: Events API callbacks and button clicks over a WebSocket the bot opens itself, so an
install without a public URL still receives Slack (``flask crm-plugin poll``).

slack_sdk's builtin SocketModeClient does the transport: apps.connections.open with the app-level token
(xapp-...), the WebSocket, pings, and a new connection on a ``disconnect`` envelope or a closed socket. Each
``events_api`` envelope carries the same JSON body the Request URL would get, and each ``interactive`` one
the block_actions payload, so both go through slack_inbound's one parser and dedupe by ``slack:{event_id}``
exactly like the webhook path.

Acknowledging after storing: an envelope that holds something to store is acknowledged only when the Poller
comes back for more, after it stored the previous batch, the way the webhook answers 200 only after
storing. Slack re-sends an envelope that was never acknowledged, so a crash in between loses nothing, and
the dedupe key makes the re-sent one harmless. Envelopes with nothing to store are acknowledged at once.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import logging
import queue
import socket
import threading
from typing import Any
from urllib.parse import urlencode

from slack_sdk import WebClient
from slack_sdk.errors import SlackClientError, SlackClientNotConnectedError
from slack_sdk.socket_mode.builtin import SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse

from . import slack_inbound, slack_outbound
from .base import MalformedRequest, ParsedRequest

log = logging.getLogger(__name__)

# One listener thread: envelopes are parsed in the order Slack sent them (a message, then its button click).
LISTENER_THREADS = 1


class SocketModeReceiver:
    """One Socket Mode connection of one Slack app, read by the Poller's thread for that bot.

    ``poll(cursor, timeout)`` follows the Poller's contract: the cursor it returns lists the envelope ids
    of the requests it returned; the next call acknowledges them (they have been stored by then)."""

    def __init__(self, app_token: str, *, api_url: str, timeout: float = 10.0, ping_interval: float = 5.0) -> None:
        base_url = api_url if api_url.endswith("/") else api_url + "/"
        web_client = WebClient(base_url=base_url, timeout=timeout, retry_handlers=[])  # type: ignore[arg-type]
        self.client = SocketModeClient(app_token=app_token, web_client=web_client, ping_interval=ping_interval,
                                       logger=log.getChild("sdk"), concurrency=LISTENER_THREADS)
        self.client.socket_mode_request_listeners.append(self._on_request)
        self._arrived: queue.Queue[tuple[str, ParsedRequest]] = queue.Queue()
        self._unacknowledged: set[str] = set()
        self._lock = threading.Lock()
        self._started = False

    def poll(self, cursor: Any, timeout: float) -> tuple[list[ParsedRequest], list[str]]:
        """Acknowledge what the last call returned, connect on first use, and return what arrives within
        ``timeout`` seconds (at once when something is already waiting)."""
        self._acknowledge_stored(cursor)
        self._connect()
        batch: list[tuple[str, ParsedRequest]] = []
        try:
            batch.append(self._arrived.get(timeout=max(float(timeout), 0.0)))
            while True:
                batch.append(self._arrived.get_nowait())
        except queue.Empty:
            pass
        return [parsed for _, parsed in batch], [envelope_id for envelope_id, _ in batch]

    def close(self) -> None:
        # Under the client's connect lock: slack_sdk's close fails when a reconnect closes the same socket.
        with self.client.connect_operation_lock:
            self.client.auto_reconnect_enabled = False
            session = self.client.current_session
            sock = session.sock if session is not None else None
            if sock is not None:
                # slack_sdk's reader waits in recv (3 s time-out) holding the lock close() needs: wake it.
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
        # The rest (joining slack_sdk's threads) takes up to a second and needs no waiting for.
        threading.Thread(target=self.client.close, name="slack-socket-close", daemon=True).start()

    # --- connection ---------------------------------------------------------------------------------
    def _connect(self) -> None:
        """The first connection; after it the client reconnects by itself (disconnect envelopes, closed
        sockets, missed pongs), so a later failure shows as a quiet poll, not an error."""
        if self._started:
            return
        try:
            # apps.connections.open, then the WebSocket; a refused token raises here.
            self.client.connect_to_new_endpoint()
        except (SlackClientError, OSError, http.client.HTTPException) as exc:
            raise slack_outbound.send_error(exc) from exc
        self._started = True
        if not self.client.is_connected():
            log.warning("slack socket mode: could not connect yet; slack_sdk keeps retrying")

    # --- envelopes ----------------------------------------------------------------------------------
    def _on_request(self, client: Any, request: SocketModeRequest) -> None:
        """Runs in slack_sdk's listener thread for each envelope with an id (not for hello/disconnect)."""
        try:
            parsed = parse_envelope(request.type, request.payload)
        except MalformedRequest as exc:
            # Acknowledged anyway: Slack would only re-send the same broken envelope.
            log.warning("slack socket mode: skipped a malformed %s envelope: %s", request.type, exc)
            parsed = None
        if parsed is None or not (parsed.inbound or parsed.leads or parsed.unreachable):
            self._send_ack(request.envelope_id)
            return
        if request.retry_attempt:
            log.info("slack socket mode: re-sent envelope (attempt %s, %s)", request.retry_attempt,
                     request.retry_reason)
        with self._lock:
            self._unacknowledged.add(request.envelope_id)
        self._arrived.put((request.envelope_id, parsed))

    def _acknowledge_stored(self, cursor: Any) -> None:
        # A cursor saved before a restart names envelopes of a connection that is gone: Slack re-sends those.
        if not isinstance(cursor, list):
            return
        for envelope_id in cursor:
            with self._lock:
                if envelope_id not in self._unacknowledged:
                    continue
                self._unacknowledged.discard(envelope_id)
            self._send_ack(envelope_id)

    def _send_ack(self, envelope_id: str) -> None:
        try:
            self.client.send_socket_mode_response(SocketModeResponse(envelope_id=envelope_id))
        except (SlackClientNotConnectedError, OSError) as exc:
            # Slack re-sends it on the next connection; the dedupe key stores it once.
            log.warning("slack socket mode: acknowledgement of %s not sent: %s", envelope_id, exc)


def parse_envelope(kind: str, payload: dict[str, Any]) -> ParsedRequest | None:
    """An envelope's payload as the webhook parser reads it; None for envelope types the bot does not use
    (slash commands, options)."""
    if kind == "events_api":
        # The payload is the Events API body the Request URL would get.
        return slack_inbound.parse_body(json.dumps(payload).encode())
    if kind == "interactive":
        # The Request URL gets the same JSON as the form field "payload".
        return slack_inbound.parse_body(urlencode({"payload": json.dumps(payload)}).encode())
    log.info("slack socket mode: ignoring %s envelope", kind)
    return None
