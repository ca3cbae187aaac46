"""ChartRenderer: plotly figures to PNG through kaleido 1.x with a warm Chromium, never raising.

One renderer per process (``shared_renderer()``) keeps one Chromium open on an event loop of its own thread,
so a chart costs a fraction of a second instead of a browser start (about 2-4 s). Any thread may call
``render``; several calls at once share the browser's tabs (``tabs``, kaleido's ``n``).

A chart is never the reason a message is lost: ``render`` returns None, and logs one line saying why, when
no Chromium is found, the browser does not start, the render fails, takes longer than ``timeout`` (20 s by
default, the browser's start included) or comes out blank. The caller sends the text alone.

Why not ``kaleido.start_sync_server()``: its server is one per process and its calls wait without a time
limit, so a browser that fails to start or hangs would block the caller for ever; this renderer drives the
same documented ``Kaleido`` object (``open``, ``calc_fig``, ``close``) and bounds every wait. It also loads
plotly.js from the plotly package and turns MathJax off: no CDN is fetched.

The browser: ``browser_path``, else ``$BROWSER_PATH``, else the first of chromium, chromium-browser,
google-chrome, chrome on ``PATH`` (Debian's ``chromium`` package is ``/usr/bin/chromium``).
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import inspect
import logging
import os
import shutil
import signal
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from . import png

log = logging.getLogger(__name__)

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "chrome")
TIMEOUT = 20.0
RETRY_AFTER = 30.0  # seconds before a browser that failed to start is tried again


def find_browser(explicit: str | None = None) -> str | None:
    """The Chromium to use, or None (see the module's note)."""
    candidate = explicit or os.environ.get("BROWSER_PATH")
    if candidate:
        return candidate if os.path.isfile(candidate) and os.access(candidate, os.X_OK) else None
    for name in BROWSERS:
        found = shutil.which(name)
        if found:
            return found
    return None


def _kaleido_class(defer_reload: bool) -> Any:
    import kaleido

    base = kaleido.Kaleido
    method: Any = getattr(base, "_return_kaleido_tab", None)
    if not defer_reload or method is None or list(inspect.signature(method).parameters) != ["self", "tab"]:
        return base

    class DeferredReloadKaleido(base):  # type: ignore[misc,valid-type]
        """kaleido reloads a tab after each render before it hands the image back; this hands it back
        first and reloads the tab before its next use (about half the time of a warm render)."""

        _reloads: set[asyncio.Task[None]]

        async def _return_kaleido_tab(self, tab: Any) -> None:
            async def reload() -> None:
                try:
                    await method(self, tab)
                except Exception:  # noqa: BLE001 - a broken tab fails the next render, which is bounded
                    log.debug("reloading a kaleido tab failed", exc_info=True)

            reloads = self.__dict__.setdefault("_reloads", set())
            task = asyncio.get_running_loop().create_task(reload())
            reloads.add(task)
            task.add_done_callback(reloads.discard)

    return DeferredReloadKaleido


@dataclass
class _Browser:
    """One start of the browser: the future of its opening, and the kaleido object once it exists (to kill
    its process should the opening hang)."""

    opening: concurrent.futures.Future[Any]
    made: list[Any] = field(default_factory=list)


class ChartRenderer:
    """Figures to PNG bytes with a warm browser; ``render`` returns None (and logs why) instead of raising."""

    def __init__(self, *, browser_path: str | None = None, timeout: float = TIMEOUT, tabs: int = 1,
                 defer_reload: bool = True) -> None:
        self.browser_path = browser_path
        self.timeout = timeout
        self.tabs = tabs
        self.defer_reload = defer_reload
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._browser: _Browser | None = None
        self._failed_at = 0.0
        self._failure = ""
        self.renders = 0  # images made, for tests and benchmarks
        self._why = threading.local()  # why this thread's last render gave no image (``last_failure``)

    # lifecycle

    def start(self) -> bool:
        """Start the browser in the background if it is not running (returns at once); False when there is
        no browser to start, or it failed less than RETRY_AFTER seconds ago."""
        with self._lock:
            return self._start_locked()

    def _start_locked(self) -> bool:
        if self._browser is not None:
            return True
        if self._failure and time.monotonic() - self._failed_at < RETRY_AFTER:
            return False
        path = find_browser(self.browser_path)
        if path is None:
            wanted = self.browser_path or os.environ.get("BROWSER_PATH")
            where = f"at {wanted}" if wanted else f"on PATH ({', '.join(BROWSERS)})"
            self._fail(f"no Chromium {where}; install Debian's chromium package or set BROWSER_PATH")
            return False
        loop = self._ensure_loop()
        made: list[Any] = []
        self._browser = _Browser(asyncio.run_coroutine_threadsafe(self._open(path, made), loop), made)
        return True

    def _ensure_loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            self._loop = asyncio.new_event_loop()
            threading.Thread(target=self._loop.run_forever, name="crm-plugin-charts", daemon=True).start()
            atexit.register(self.close)
        return self._loop

    async def _open(self, path: str, made: list[Any]) -> Any:
        browser = _kaleido_class(self.defer_reload)(n=self.tabs, timeout=self.timeout, mathjax=False, path=path)
        made.append(browser)
        await browser.open()
        return browser

    def close(self) -> None:
        """Close the browser (a later render starts it again)."""
        with self._lock:
            browser, self._browser = self._browser, None
        if browser is not None:
            self._close_later(browser, wait=True)

    def _close_later(self, browser: _Browser, *, wait: bool) -> None:
        """Close an opened browser; kill the process of one that failed or hung in its start."""
        loop = self._loop
        if loop is None or not loop.is_running():
            return
        opening = browser.opening
        opened = opening.done() and not opening.cancelled() and opening.exception() is None
        if not opening.done():
            opening.cancel()

        async def shut() -> None:
            for _ in range(20):  # a start cancelled while it launches the process: let it finish launching
                if not browser.made or hasattr(browser.made[0], "subprocess"):
                    break
                await asyncio.sleep(0.1)
            if not browser.made:
                return
            if opened:
                try:
                    await asyncio.wait_for(browser.made[0].close(), 8)
                except BaseException:  # noqa: BLE001 - a browser that will not close is killed below
                    log.debug("closing the chart browser", exc_info=True)
            _kill(browser.made[0])

        future = asyncio.run_coroutine_threadsafe(shut(), loop)
        if wait:
            try:
                future.result(timeout=15)
            except BaseException:  # noqa: BLE001
                log.debug("the chart browser did not close in time", exc_info=True)

    def last_failure(self) -> str:
        """Why the calling thread's last ``render`` returned None ("" after an image)."""
        return str(getattr(self._why, "text", ""))

    def _refuse(self, why: str, *args: Any) -> bytes | None:
        """No image: remember why for this thread (``last_failure``), log it, and answer None."""
        self._why.text = why % args if args else why
        log.warning("chart not drawn, the text goes alone: %s", self._why.text)
        return None

    def _fail(self, why: str) -> None:
        self._failure, self._failed_at = why, time.monotonic()

    def _reset(self, why: str) -> None:
        """Forget a browser that failed or hung: the next render starts a new one."""
        with self._lock:
            browser, self._browser = self._browser, None
            self._fail(why)
        if browser is not None:
            self._close_later(browser, wait=False)

    # rendering

    def render(self, figure: Any, *, width: int, height: int, scale: float = 2) -> bytes | None:
        """The figure (a plotly Figure or its dict) as PNG bytes, or None with a log line saying why."""
        deadline = time.monotonic() + self.timeout
        with self._lock:
            started = self._start_locked()
            current, failure = self._browser, self._failure
        if not started or current is None:
            return self._refuse("%s", failure or "the chart browser is not running")
        try:
            browser = current.opening.result(timeout=max(deadline - time.monotonic(), 0.01))
        except concurrent.futures.TimeoutError:
            self._reset("the browser did not start in time")
            return self._refuse("Chromium did not start within %.0f s", self.timeout)
        except Exception as error:  # noqa: BLE001 - whatever the browser did, the message goes on
            self._reset(f"Chromium failed to start: {error}")
            return self._refuse("Chromium failed to start: %s", error)
        return self._calc(browser, figure, {"format": "png", "width": width, "height": height, "scale": scale},
                          deadline)

    def _calc(self, browser: Any, figure: Any, opts: Mapping[str, Any], deadline: float) -> bytes | None:
        assert self._loop is not None
        remaining = max(deadline - time.monotonic(), 0.01)
        future = asyncio.run_coroutine_threadsafe(
            asyncio.wait_for(browser.calc_fig(figure, opts=dict(opts)), remaining), self._loop)
        started = time.monotonic()
        try:
            data = future.result(timeout=remaining + 1)
        except (concurrent.futures.TimeoutError, asyncio.TimeoutError, TimeoutError):
            future.cancel()
            self._reset("a render hung")
            return self._refuse("the render took over %.0f s", self.timeout)
        except Exception as error:  # noqa: BLE001
            if _browser_gone(error):
                self._reset(f"the browser went away: {error}")
            return self._refuse("the render failed: %s: %s", type(error).__name__, error)
        if not isinstance(data, bytes) or not data.startswith(png.SIGNATURE):
            return self._refuse("the render gave no PNG")
        if png.looks_blank(data):
            return self._refuse("the image came out blank")
        self.renders += 1
        self._why.text = ""
        log.debug("chart rendered in %.3f s (%d bytes)", time.monotonic() - started, len(data))
        return data


def _kill(browser: Any) -> None:
    """Kill the browser's process group (kaleido's wrapper and Chromium under it), if it still runs."""
    process = getattr(browser, "subprocess", None)
    if process is None or process.poll() is not None:
        return
    killpg, sigkill = getattr(os, "killpg", None), getattr(signal, "SIGKILL", None)
    try:
        if killpg is None or sigkill is None:
            raise OSError("no process groups here")
        killpg(process.pid, sigkill)
    except OSError:
        process.kill()
    try:
        process.wait(timeout=5)
    except Exception:  # noqa: BLE001
        log.debug("the chart browser's process did not end", exc_info=True)


def _browser_gone(error: BaseException) -> bool:
    names = {cls.__name__ for cls in type(error).__mro__}
    return bool(names & {"BrowserClosedError", "BrowserFailedError", "ChannelClosedError", "BrokenPipeError"})


_shared: ChartRenderer | None = None
_shared_lock = threading.Lock()


def shared_renderer() -> ChartRenderer:
    """The process's renderer (created on first use; ``start()`` it when the worker starts to have it warm)."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = ChartRenderer()
        return _shared
