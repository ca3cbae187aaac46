"""What a person sees (``Seen`` messages with ``Btn`` buttons, whatever the platform) and does (``Person``: taps by
label, posts the platform's update to the webhook route, then lets the worker answer)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any, Self

from .world import Flow

# Update, message and file numbers for every platform's JSON: one counter, so none repeats within a run.
ids = itertools.count(700_001)


@dataclass
class Btn:
    label: str
    kind: str  # "payload" | "text" (a keyboard button that sends its label) | "url" | "contact" | "location"
    payload: str | None = None
    url: str | None = None


@dataclass
class Seen:
    """One message the platform got for the person, whatever the platform."""

    text: str = ""
    buttons: list[list[Btn]] = field(default_factory=list)
    files: list[tuple[str, bool]] = field(default_factory=list)  # (photo | document, uploaded as bytes)
    location: tuple[float, float] | None = None
    raw: Any = None

    def labels(self) -> list[str]:
        return [b.label for row in self.buttons for b in row]


class Person:
    """An account on a messenger. Subclasses post the platform's JSON; ``tap`` presses what a label names."""

    def __init__(self, flow: Flow, bot_id: int, user_id: str, chat_id: str | None = None) -> None:
        self.flow, self.bot_id, self.user_id = flow, bot_id, user_id
        self.chat_id = chat_id or user_id
        self.taps = 0
        self._mark = 0

    def inbox(self) -> list[Seen]:
        raise NotImplementedError

    def press(self, payload: str) -> None:
        raise NotImplementedError

    def open_invite(self, token: str) -> None:
        """Open an invite link: how its token reaches the bot differs by platform."""
        raise NotImplementedError

    def bind_by_invite(self, crm_user_id: int) -> Self:
        """Bound to the employee through an invite link (the shortest real path); returns the person."""
        self.open_invite(self.flow.invite(self.bot_id, crm_user_id))
        assert "Готово! Вы вошли как" in self.last_text()
        return self

    def _press(self, button: Btn) -> None:
        self.press(button.payload or "")

    def mark(self) -> None:
        """From here on ``last_replies`` holds only what arrives next."""
        self._mark = len(self.inbox())

    def last_replies(self) -> list[Seen]:
        return self.inbox()[self._mark:]

    def texts(self) -> list[str]:
        return [m.text for m in self.last_replies() if m.text]

    def last_text(self) -> str:
        found = self.texts()
        assert found, f"no text since the last action: {self.last_replies()}"
        return found[-1]

    def button(self, label: str, *, earlier: bool = False) -> Btn:
        """The newest button with this label since the last action (``earlier``: anywhere in the chat, as
        when a person scrolls up to an older message)."""
        for message in reversed(self.inbox() if earlier else self.last_replies()):
            for button in (b for row in message.buttons for b in row):
                if button.label == label:
                    return button
        raise AssertionError(f"no button {label!r} in {[m.labels() for m in self.last_replies()]}")

    def tap(self, label: str, *, earlier: bool = False) -> None:
        button = self.button(label, earlier=earlier)
        self.taps += 1
        self._press(button)

    def job_ids(self) -> list[int]:
        return [int(b.payload.split(":")[1]) for m in self.last_replies() for row in m.buttons for b in row
                if b.payload and b.payload.startswith("job:")]

    def _post(self, body: bytes, headers: dict[str, str]) -> Any:
        response = self.flow.client.post(f"/crm-plugin/webhook/{self.bot_id}", data=body,
                                         headers={"Content-Type": "application/json", **headers})
        assert response.status_code == 200, response.get_data(as_text=True)
        return response

    def _deliver(self, *bodies: bytes) -> Any:
        """One action (an album may be several updates): posted, then the worker runs until idle."""
        self.mark()
        responses = [self._post(body, self._sign(body)) for body in bodies]
        self.flow.run()
        return responses[-1]

    def _sign(self, body: bytes) -> dict[str, str]:
        return {}
