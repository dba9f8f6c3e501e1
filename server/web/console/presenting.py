"""What the console shows beside the stored data: a visitor's phone in international
format (`phone_display`) next to the E.164 `phone` that `tel:` links and the store use.

Events keep the stored shape (webhooks get exactly that); this is added on the way out
to the console, without touching the event shared by every subscriber."""

from __future__ import annotations

from typing import Any

from ...services import phones


def summary(conversation: dict[str, Any]) -> dict[str, Any]:
    visitor = conversation.get("visitor")
    if not isinstance(visitor, dict):
        return conversation
    phone = visitor.get("phone")
    shown = {**visitor, "phone_display": phones.display(phone) if phone else None}
    return {**conversation, "visitor": shown}


def frame(event: dict[str, Any]) -> dict[str, Any]:
    conversation = event.get("conversation")
    if not isinstance(conversation, dict):
        return event
    return {**event, "conversation": summary(conversation)}
