"""The fast encoder writes what json would for the server's frames, and what it refuses
still gets written (server/json_text.py)."""

from __future__ import annotations

import json

from server.json_text import dumps


def test_frames_read_back_the_same_and_keep_cyrillic_as_text() -> None:
    frame = {"type": "message.created", "event_id": 7, "message": {"body": "Сәлем, <b>&</b> \"quoted\" \u2028", "seq": 1},
             "conversation": {"assignee_id": None, "unread": True, "score": 0.1}}
    text = dumps(frame)
    assert json.loads(text) == frame
    assert text == json.dumps(frame, ensure_ascii=False, separators=(",", ":"))  # compact, Cyrillic as text


def test_what_the_fast_encoder_refuses_is_written_the_usual_way() -> None:
    assert json.loads(dumps({1: "a"})) == {"1": "a"}  # keys as json writes them
    big = {"id": 2**70}  # over 64 bits
    assert json.loads(dumps(big)) == big
