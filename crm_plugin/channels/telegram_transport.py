"""Route telebot's HTTP calls to each channel's own Bot API server, session and time-outs.

telebot keeps its endpoint in module globals (``apihelper.API_URL`` / ``FILE_URL``), shared by every bot
in the process, while one plugin process talks to several bots, and tests to several fake servers at once.
Rewriting ``API_URL`` around each call would need a lock held for the whole HTTP call (a 25 s long poll
would stall every send). Instead we install, once, telebot's documented hook ``apihelper.CUSTOM_REQUEST_SENDER``:
it receives every Bot API request telebot builds and, when a channel has bound itself to the current
thread/context with ``bound(route)``, sends it to that channel's base URL with its requests.Session and
time-out. Calls made outside ``bound`` (say, the host app's own telebot bot) go on exactly as before.

File downloads do not pass through the hook in telebot (``download_file`` uses its own session and no
time-out), so the channel downloads ``{api_url}/file/bot{token}/{file_path}`` itself with ``Route.get``.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import requests
from telebot import apihelper

from ..core.scrub import install_log_scrubbing

_current: contextvars.ContextVar[Route | None] = contextvars.ContextVar("crm_plugin_telegram_route", default=None)
_install_lock = threading.Lock()
_previous_sender: Any = None
_installed = False


@dataclass
class Route:
    """Where one channel's calls go."""

    base_url: str  # e.g. "https://api.telegram.org" or "http://127.0.0.1:PORT"
    token: str
    timeout: float
    session: requests.Session = field(default_factory=requests.Session)

    def __post_init__(self) -> None:
        # With trust_env on, requests reads every proxy variable and ~/.netrc again on each call: a third of
        # a send's CPU at a broadcast's rate. Read the proxy and CA-bundle settings once, here, instead.
        self.session.trust_env = False
        self.session.proxies.update(requests.utils.get_environ_proxies(self.base_url))
        bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
        if bundle:
            self.session.verify = bundle

    def method_url(self, method_name: str) -> str:
        return f"{self.base_url.rstrip('/')}/bot{self.token}/{method_name}"

    def file_url(self, file_path: str) -> str:
        return f"{self.base_url.rstrip('/')}/file/bot{self.token}/{file_path}"

    def get(self, url: str) -> requests.Response:
        return self.session.get(url, timeout=(self.timeout, self.timeout))


def _send(method: str, url: str, *, params: Any = None, files: Any = None, timeout: Any = None,
          proxies: Any = None) -> requests.Response:
    route = _current.get()
    if route is None:
        if _previous_sender is not None:
            return _previous_sender(method, url, params=params, files=files, timeout=timeout, proxies=proxies)  # type: ignore[no-any-return]
        return requests.request(method, url, params=params, files=files, timeout=timeout, proxies=proxies)
    method_name = url.rsplit("/", 1)[-1]
    read = route.timeout
    if method_name == "getUpdates" and params:
        read += float(params.get("timeout") or 0)  # the server holds a long poll that long
    return route.session.request(method, route.method_url(method_name), params=params, files=files,
                                 timeout=(route.timeout, read), proxies=proxies)


def install() -> None:
    """Put our sender into telebot once per process, keeping any sender installed before ours."""
    global _installed, _previous_sender
    with _install_lock:
        if _installed:
            return
        _previous_sender = apihelper.CUSTOM_REQUEST_SENDER
        apihelper.CUSTOM_REQUEST_SENDER = _send  # type: ignore[assignment]
        install_log_scrubbing()  # urllib3 logs request URLs at DEBUG, and ours hold the token
        _installed = True


@contextlib.contextmanager
def bound(route: Route) -> Iterator[Route]:
    """Send the telebot calls made inside this block through ``route`` (this thread/context only)."""
    install()
    token = _current.set(route)
    try:
        yield route
    finally:
        _current.reset(token)
