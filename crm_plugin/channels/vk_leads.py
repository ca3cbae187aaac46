"""VK community events that become leads: a message from someone who is not staff, a comment, a post by
someone else (a suggested post), a VK lead form (lead ads).

The result is the neutral lead capture of ``ParsedRequest.leads`` (see crm_plugin.inbound.leads for its keys);
whether it counts is decided when it is stored (the bot's chosen event types; a message from a bound employee
is a conversation with the staff bot, not a lead). The author's name comes later from ``users.get``.

Payloads as VK documents them: ``wall_reply_new`` carries a comment ``{id, from_id, post_id, owner_id, text}``,
``wall_post_new`` a post ``{id, owner_id, from_id, created_by, text, post_type}``, and ``lead_forms_new``
(missing from vk_api's event enum: a plain string) ``{lead_id, group_id, user_id, form_id, form_name,
answers: [{key, question, answer}]}``.
"""

from __future__ import annotations

from typing import Any

from ..core.chat import ButtonPress, Document, Inbound, Location, Photo, Start, Text

LEAD_ONLY_EVENTS = frozenset({"wall_reply_new", "wall_post_new", "lead_forms_new"})
GROUP_PEER_OFFSET = 2_000_000_000
# VK lead form answer keys (``answers[].key``) that carry a standard field.
NAME_KEYS = ("first_name", "patronymic_name", "last_name", "name")
PHONE_KEYS = frozenset({"phone_number", "phone"})
EMAIL_KEYS = frozenset({"email"})


def source(group_id: int | None) -> str:
    return f"vk:club{group_id}" if group_id else "vk"


def message_lead(obj: dict[str, Any], group_id: int | None, inbound: list[Inbound]) -> list[dict[str, Any]]:
    """A private message to the community as a lead candidate, kept only if its author is no bound employee
    (``stranger_only``). «Начать», an invite and button presses are the staff bot's: never a lead."""
    message = obj["message"]
    from_id, peer_id = message["from_id"], message["peer_id"]
    if not isinstance(from_id, int) or from_id <= 0 or peer_id >= GROUP_PEER_OFFSET or not inbound:
        return []
    if any(isinstance(item.event, (Start, ButtonPress)) for item in inbound):
        return []
    text = _text(message.get("text"))
    if not text:
        kinds = {Photo: "фото", Document: "файл", Location: "геопозиция", Text: ""}
        text = ", ".join(sorted({kinds.get(type(item.event), "вложение") for item in inbound} - {""}))
        text = f"[{text}]" if text else ""
    message_id = message.get("id") or message.get("conversation_message_id")
    return [{
        "event": "message_new", "source": source(group_id), "text": text, "user_id": str(from_id),
        "external_id": f"vk:{group_id}:message:{from_id}:{message_id}", "chat_id": str(peer_id),
        "link": f"https://vk.com/gim{group_id}?sel={from_id}" if group_id else None, "stranger_only": True,
    }]


def event_leads(kind: str, obj: dict[str, Any], group_id: int | None) -> list[dict[str, Any]]:
    if kind == "wall_reply_new":
        return _comment(obj, group_id)
    if kind == "wall_post_new":
        return _post(obj, group_id)
    return _lead_form(obj, group_id)


def _comment(obj: dict[str, Any], group_id: int | None) -> list[dict[str, Any]]:
    from_id, owner_id, post_id, comment_id = obj["from_id"], obj["owner_id"], obj["post_id"], obj["id"]
    if not isinstance(from_id, int) or from_id <= 0:  # the community answering under its own post
        return []
    return [{
        "event": "wall_reply_new", "source": source(group_id), "text": _text(obj.get("text")),
        "user_id": str(from_id), "external_id": f"vk:{group_id}:comment:{owner_id}_{comment_id}",
        "link": f"https://vk.com/wall{owner_id}_{post_id}?reply={comment_id}",
    }]


def _post(obj: dict[str, Any], group_id: int | None) -> list[dict[str, Any]]:
    from_id, owner_id, post_id = obj["from_id"], obj["owner_id"], obj["id"]
    if not isinstance(from_id, int) or from_id <= 0:  # the community's own post (an admin wrote it)
        return []
    return [{
        "event": "wall_post_new", "source": source(group_id), "text": _text(obj.get("text")),
        "user_id": str(from_id), "external_id": f"vk:{group_id}:post:{owner_id}_{post_id}",
        "link": f"https://vk.com/wall{owner_id}_{post_id}", "post_type": _text(obj.get("post_type")),
    }]


def _lead_form(obj: dict[str, Any], group_id: int | None) -> list[dict[str, Any]]:
    group_id = group_id or (obj.get("group_id") if isinstance(obj.get("group_id"), int) else None)
    answers = obj.get("answers") or []
    if not isinstance(answers, list):
        raise TypeError("answers is a list")
    name, phone, email, lines = form_answers(answers)
    form_name = _text(obj.get("form_name"))
    text = "\n".join(part for part in (form_name, lines) if part)
    user_id = obj.get("user_id")
    return [{
        "event": "lead_forms_new", "source": source(group_id), "text": text,
        "user_id": str(user_id) if isinstance(user_id, int) and user_id > 0 else None,
        "external_id": f"vk:{group_id}:leadform:{obj['lead_id']}", "name": name, "phone": phone, "email": email,
        "link": f"https://vk.com/club{group_id}" if group_id else None, "form_name": form_name,
    }]


def form_answers(answers: list[Any]) -> tuple[str | None, str | None, str | None, str]:
    """A lead form's answers as (name, phone, email, text): the standard keys become fields, and every answer
    is a line of the text ("question: answer"), so nothing the person filled in is lost."""
    names: dict[str, str] = {}
    phone = email = None
    lines = []
    for item in answers:
        if not isinstance(item, dict):
            continue
        key, answer = _text(item.get("key")), item.get("answer")
        if isinstance(answer, list):  # a multiple-choice question
            answer = ", ".join(str(a) for a in answer)
        answer = "" if answer is None or isinstance(answer, dict) else str(answer).strip()
        if not answer:
            continue
        if key in NAME_KEYS:
            names.setdefault(key, answer)
        elif key in PHONE_KEYS and phone is None:
            phone = answer
        elif key in EMAIL_KEYS and email is None:
            email = answer.lower()
        lines.append(f"{_text(item.get('question')) or key}: {answer}")
    name = " ".join(names[k] for k in NAME_KEYS if k in names) or None
    return name, phone, email, "\n".join(lines)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""
