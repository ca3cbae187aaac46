"""Neutral buttons -> VK keyboard JSON, with vk_api's own VkKeyboard (pure: no network).

- Only payload/URL buttons: an inline keyboard under the message; payload buttons are "callback" buttons
  (the press arrives as a message_event, nothing is posted into the chat).
- Any request button: a one-time keyboard under the input field; payload buttons there are "text" buttons
  carrying the payload (the press arrives as message_new with that payload).
- A keyboard too big to sit under a message (VK: at most 6 lines and 10 buttons inline, e.g. a page of a
  job list) goes under the input field the same way, where 10 lines fit.
- VK has no "share my phone" button: a request-contact button becomes a text button with the payload
  ``REQUEST_CONTACT_PAYLOAD``; the bot answers that press by asking the person to type the phone or login.
"""

from __future__ import annotations

import json

from vk_api.keyboard import VkKeyboard, VkKeyboardColor

from ..core.chat import REQUEST_CONTACT_FALLBACK, Button, ButtonKind, Keyboard

REQUEST_CONTACT_PAYLOAD = REQUEST_CONTACT_FALLBACK
PAYLOAD_LIMIT = 255  # characters of a button's payload JSON
LABEL_LIMIT = 40
INLINE_LINES, INLINE_BUTTONS = 6, 10  # VK's limits for a keyboard under a message


class ButtonPayloadTooLong(ValueError):
    """A button's payload does not fit VK's 255 characters."""


def payload_json(payload: str) -> str:
    data = json.dumps({"cmd": payload}, ensure_ascii=False, separators=(",", ":"))
    if len(data) > PAYLOAD_LIMIT:
        raise ButtonPayloadTooLong(f"a VK button payload must fit {PAYLOAD_LIMIT} characters as JSON: {payload[:80]!r}")
    return data


def needs_input_keyboard(buttons: Keyboard) -> bool:
    """Request buttons, or more than an inline keyboard holds: a keyboard under the input field."""
    if any(b.kind in (ButtonKind.REQUEST_CONTACT, ButtonKind.REQUEST_LOCATION) for row in buttons for b in row):
        return True
    rows = [row for row in buttons if row]
    return len(rows) > INLINE_LINES or sum(len(row) for row in rows) > INLINE_BUTTONS


def keyboard_json(buttons: Keyboard) -> str | None:
    if not buttons:
        return None
    inline = not needs_input_keyboard(buttons)
    keyboard = VkKeyboard(one_time=not inline, inline=inline)
    first = True
    for row in buttons:
        for index, button in enumerate(row):
            full_width = button.kind is ButtonKind.REQUEST_LOCATION
            if not first and (index == 0 or full_width):
                keyboard.add_line()
            first = False
            _add(keyboard, button, inline)
            if full_width and index < len(row) - 1:
                keyboard.add_line()  # a location button takes its line alone
    return keyboard.get_keyboard()  # type: ignore[no-any-return]


def empty_keyboard() -> str:
    """Sending it removes the keyboard under the input field."""
    return VkKeyboard.get_empty_keyboard()  # type: ignore[no-any-return]


def _add(keyboard: VkKeyboard, button: Button, inline: bool) -> None:
    label = button.label[:LABEL_LIMIT]
    if button.kind is ButtonKind.URL:
        keyboard.add_openlink_button(label, button.url)
    elif button.kind is ButtonKind.REQUEST_LOCATION:
        keyboard.add_location_button()
    elif button.kind is ButtonKind.REQUEST_CONTACT:
        keyboard.add_button(label, VkKeyboardColor.PRIMARY, payload=payload_json(REQUEST_CONTACT_PAYLOAD))
    elif inline:
        keyboard.add_callback_button(label, VkKeyboardColor.SECONDARY, payload=payload_json(button.payload or ""))
    else:
        keyboard.add_button(label, VkKeyboardColor.SECONDARY, payload=payload_json(button.payload or ""))
