"""The base of every fake platform server: a Flask app served on loopback in a thread.

It records each request, enforces sliding-window rate limits, and can inject faults: an HTTP status with
a body (429, 5xx), a delay (time-out), a dropped connection, a lost answer (the request is carried out, then
the connection drops: the client cannot tell it from a failure), or a hold until the test releases it. Each
platform's fake subclasses it and adds the routes that answer like that platform.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, Response, g, request
from werkzeug.serving import BaseWSGIServer, make_server


@dataclass
class Recorded:
    method: str  # the platform API method, e.g. "sendMessage"
    path: str
    params: dict[str, Any]  # query, form and JSON fields merged
    files: dict[str, bytes]
    headers: dict[str, str]
    at: float = field(default_factory=time.monotonic)


@dataclass
class Fault:
    """What to do instead of answering: ``status`` with ``body``; sleep ``delay`` first; or ``drop``.

    ``lose_answer``: carry the request out, then drop the connection instead of answering. ``arrived`` is set
    when the request comes in; ``release``: hold the request until the test sets it (at most 30 s)."""

    status: int | None = None
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    drop: bool = False
    method: str | None = None  # only for this API method; None: any
    lose_answer: bool = False
    arrived: threading.Event | None = None
    release: threading.Event | None = None


class SlidingWindow:
    """Counts events per key in a time window; ``hit`` says how long to wait when over the limit."""

    def __init__(self, limit: int, window: float) -> None:
        self.limit, self.window = limit, window
        self._events: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def hit(self, key: str) -> float:
        """Record an event; 0 when allowed, else the seconds until one slot frees (the event is not kept)."""
        now = time.monotonic()
        with self._lock:
            events = self._events[key]
            while events and events[0] <= now - self.window:
                events.popleft()
            if len(events) >= self.limit:
                return events[0] + self.window - now
            events.append(now)
            return 0.0


class FakePlatformServer:
    name = "fake"

    def __init__(self) -> None:
        self.app = Flask(f"fake-{self.name}")
        self.requests: list[Recorded] = []
        self.faults: deque[Fault] = deque()
        self.rate_limited = 0  # 429s answered because a limit was exceeded
        self._lock = threading.Lock()
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self.app.before_request(self._before)
        self.app.after_request(self._after)

    # --- life cycle ---------------------------------------------------------------------------------
    def start(self) -> FakePlatformServer:
        self._server = make_server("127.0.0.1", 0, self.app, threaded=True)
        # A short poll interval: stop() waits for one poll, and every test stops a fake.
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02},
                                        name=f"fake-{self.name}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    @property
    def url(self) -> str:
        assert self._server is not None, "start() the fake first"
        return f"http://127.0.0.1:{self._server.server_port}"

    def __enter__(self) -> FakePlatformServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- faults and records ---------------------------------------------------------------------------
    def inject(self, fault: Fault, times: int = 1) -> None:
        with self._lock:
            self.faults.extend(fault for _ in range(times))

    def calls(self, method: str | None = None) -> list[Recorded]:
        with self._lock:
            return [r for r in self.requests if method is None or r.method == method]

    def api_method(self) -> str:
        """The platform API method a request calls; subclasses read it from their URL scheme."""
        return request.path.rstrip("/").rsplit("/", 1)[-1]

    def _take_fault(self, method: str) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.method in (None, method):
                    self.faults.remove(fault)
                    return fault
        return None

    def _before(self) -> Response | None:
        method = self.api_method()
        params: dict[str, Any] = {**request.args.to_dict(), **request.form.to_dict()}
        if request.is_json:
            params.update(request.get_json(silent=True) or {})
        files = {name: storage.read() for name, storage in request.files.items()}
        with self._lock:
            self.requests.append(Recorded(method, request.path, params, files, dict(request.headers)))
        fault = self._take_fault(method)
        if fault is None:
            return None
        if fault.arrived is not None:
            fault.arrived.set()
        if fault.release is not None:
            fault.release.wait(30)
        if fault.lose_answer:
            g.lose_answer = True
            return None
        if fault.delay:
            time.sleep(fault.delay)
        if fault.drop:
            self._drop_connection()
        if fault.status is None:
            return None
        body = fault.body if isinstance(fault.body, (str, bytes)) else json.dumps(fault.body)
        return Response(body, status=fault.status, headers=fault.headers, content_type="application/json")

    def _after(self, response: Response) -> Response:
        if g.get("lose_answer"):
            self._drop_connection()  # the work is done; its answer never reaches the client
        return response

    @staticmethod
    def _drop_connection() -> None:
        sock: socket.socket | None = request.environ.get("werkzeug.socket")
        if sock is not None:
            sock.shutdown(socket.SHUT_RDWR)
        raise ConnectionAbortedError("fault injected: connection dropped")

    def limit(self, window: SlidingWindow, key: str, on_exceeded: Callable[[float], Response]) -> Response | None:
        """Apply a rate limit to the current request; the platform's own 429 when it is exceeded."""
        wait = window.hit(key)
        if wait <= 0:
            return None
        with self._lock:
            self.rate_limited += 1
        return on_exceeded(wait)
