"""Routers in the aiogram style: each feature module makes a ``Router`` and registers handlers with
decorators; the ``Dispatcher`` picks the first handler whose filters match the turn.

    router = Router("jobs")

    @router.button(OpenJob)
    def open_job(ctx: Context) -> None:
        job_id = ctx.payload(OpenJob).job_id

Order of matching: handlers bound to the chat's current state first, then stateless handlers, then
fallbacks; within each group, routers in the order they were included and handlers in the order they were
registered. Routers are for guests (not bound yet) or for members (bound employees), never both.
A pressed button matches by the kind its payload unpacks to (payloads.py): a payload that does not unpack
matches no button route and reaches the fallbacks.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..core.chat import ButtonPress, Event, Start, Text
from ..core.i18n import variants
from .payloads import Payload

if TYPE_CHECKING:
    from .context import Context

log = logging.getLogger(__name__)

Handler = Callable[["Context"], Any]
Filter = Callable[["Context"], bool]


def normalise_label(text: str) -> str:
    """What a typed label is compared by: case, spaces and decorations ignored ('  сегодня ' == 'Сегодня')."""
    return " ".join("".join(c for c in text.casefold() if c.isalnum() or c.isspace()).split())


@dataclass(frozen=True)
class Route:
    handler: Handler
    events: tuple[type, ...]  # empty: any event
    state: str | None = None
    test: Filter | None = None
    fallback: bool = False

    def matches(self, ctx: Context) -> bool:
        if self.events and not isinstance(ctx.event, self.events):
            return False
        if self.state is not None and ctx.state_name != self.state:
            return False
        return self.test is None or self.test(ctx)


class Router:
    def __init__(self, name: str, *, guests: bool = False) -> None:
        self.name = name
        self.guests = guests
        self.routes: list[Route] = []

    def on(self, *events: type, state: str | None = None, test: Filter | None = None,
           fallback: bool = False) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            self.routes.append(Route(handler, events, state, test, fallback))
            return handler

        return register

    def text(self, *msgids: str) -> Callable[[Handler], Handler]:
        """Typed text equal to one of these labels in any language (people type what the buttons say)."""
        labels: set[str] = set()
        for msgid in msgids:
            labels |= {normalise_label(v) for v in variants(msgid)}
        return self.on(Text, test=lambda ctx: normalise_label(_text(ctx.event)) in labels)

    def command(self, *names: str) -> Callable[[Handler], Handler]:
        """'/menu' and the like; /start arrives as a Start event, see ``start``."""
        wanted = {f"/{n}" for n in names}
        return self.on(Text, test=lambda ctx: _text(ctx.event).strip().split(" ")[0].lower() in wanted)

    def start(self) -> Callable[[Handler], Handler]:
        return self.on(Start)

    def button(self, kind: type[Payload]) -> Callable[[Handler], Handler]:
        """A pressed button whose payload unpacks to ``kind`` (or a subclass of it)."""
        return self.on(ButtonPress, test=lambda ctx: isinstance(ctx.pressed, kind))

    def event(self, *events: type) -> Callable[[Handler], Handler]:
        return self.on(*events)

    def state(self, name: str, *events: type) -> Callable[[Handler], Handler]:
        return self.on(*events, state=name)

    def fallback(self, *events: type) -> Callable[[Handler], Handler]:
        return self.on(*events, fallback=True)


class Dispatcher:
    def __init__(self) -> None:
        self.routers: list[Router] = []
        self._orders: dict[tuple[bool, int], list[Route]] = {}  # (guests, routes registered): the order

    def include(self, *routers: Router) -> None:
        self.routers.extend(routers)

    def ordered(self, guests: bool) -> list[Route]:
        """The routes in the order they are tried (see the module's docstring), worked out once per set of
        routes rather than at every turn."""
        key = (guests, sum(len(router.routes) for router in self.routers))
        if key not in self._orders:
            routes = [r for router in self.routers if router.guests == guests for r in router.routes]
            self._orders[key] = ([r for r in routes if r.state is not None and not r.fallback]
                                 + [r for r in routes if r.state is None and not r.fallback]
                                 + [r for r in routes if r.fallback])
        return self._orders[key]

    def dispatch(self, ctx: Context) -> bool:
        """Run the first matching handler; False when none matched."""
        for route in self.ordered(ctx.is_guest):
            if route.matches(ctx):
                log.debug("turn %s handled by %s", type(ctx.event).__name__, route.handler.__qualname__)
                route.handler(ctx)
                return True
        return False


def _text(event: Event) -> str:
    return event.text if isinstance(event, Text) else ""
