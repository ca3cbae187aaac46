"""The router picks handlers by state, then by filters, then falls back; no app, no database."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from crm_plugin.bot.payloads import JobAction, Menu, Payload, payload_of
from crm_plugin.bot.router import Dispatcher, Router, normalise_label
from crm_plugin.core.chat import ButtonPress, Event, FileRef, Photo, Text
from crm_plugin.core.i18n import N_


@dataclass
class FakeCtx:
    """Only what the router reads of a Context."""

    event: Event
    state_name: str = ""
    is_guest: bool = False
    calls: list[str] = field(default_factory=list)

    @property
    def pressed(self) -> Payload | None:
        return payload_of(self.event)


def build() -> Dispatcher:
    router = Router("test")

    @router.state("await", Photo)
    def in_state(ctx: Any) -> None:
        ctx.calls.append("state")

    @router.button(JobAction)  # every kind of job button: a route may take a base kind
    def job(ctx: Any) -> None:
        ctx.calls.append("job")

    @router.button(Menu)
    def menu(ctx: Any) -> None:
        ctx.calls.append("menu")

    @router.text(N_("Today"))
    def today(ctx: Any) -> None:
        ctx.calls.append("today")

    @router.event(Photo)
    def photo(ctx: Any) -> None:
        ctx.calls.append("photo")

    @router.fallback()
    def fallback(ctx: Any) -> None:
        ctx.calls.append("fallback")

    guests = Router("guests", guests=True)

    @guests.fallback()
    def guest(ctx: Any) -> None:
        ctx.calls.append("guest")

    dispatcher = Dispatcher()
    dispatcher.include(guests, router)
    return dispatcher


def run(event: Event, **kwargs: Any) -> list[str]:
    ctx = FakeCtx(event, **kwargs)
    build().dispatch(ctx)  # type: ignore[arg-type]
    return ctx.calls


def test_matching_order() -> None:
    photo = Photo(FileRef("x"))
    assert run(photo, state_name="await") == ["state"]
    assert run(photo) == ["photo"]
    assert run(ButtonPress("job:5")) == ["job"] and run(ButtonPress("done:5")) == ["job"]
    assert run(ButtonPress("menu")) == ["menu"]
    assert run(ButtonPress("menu:me")) == ["fallback"]  # another kind (KindMenu), which this router lacks
    assert run(ButtonPress("job:²")) == ["fallback"]  # a payload that does not unpack matches no button route
    assert run(Text("job:5")) == ["fallback"]  # typed, not pressed
    assert run(Text("Сегодня")) == ["today"] and run(Text("TODAY!")) == ["today"]
    assert run(Text("сегодня завтра")) == ["fallback"]
    assert run(Text("hi"), is_guest=True) == ["guest"]


def test_label_normalisation() -> None:
    assert normalise_label("  🗓 Ушёл ") == normalise_label("ушёл")
