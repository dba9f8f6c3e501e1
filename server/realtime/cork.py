"""Gathering a fan-out's writes: one write per socket per committed batch (issue 20).

While the relay hands a committed batch to this process's sockets, each socket's frames
are gathered instead of written one by one; when the batch is done each socket writes
what it gathered at once. At saturation a batch holds dozens of messages and every
console gets each of them: a system call per frame per socket was the largest part of
the event loop's time. Each event's frame is built once for all the sockets that send
it (the text is shared: ``hub.encoded``), not once per socket.

The cork is held over a synchronous fan-out, and by the writer over a batch's acks until
the loop has run their callbacks (it is released by a callback queued after them). A
frame any code sends meanwhile joins its socket's list behind the others, so each
socket's frames keep their order; nothing waits on the cork.
"""

from __future__ import annotations

import struct
from typing import Callable, Protocol


class Gathering(Protocol):
    def flush(self, texts: list[str], framed: Callable[[str], bytes]) -> None: ...


def text_frame(text: str) -> bytes:
    """A server's text frame (RFC 6455 5.2: FIN + text opcode, unmasked, uncompressed: the
    server turns compression off). Built here, not with websockets' Frame: its checks cost
    twice this, for a frame whose every field is fixed (tests/test_cork.py parses the
    result with websockets' own parser)."""
    data = text.encode()
    size = len(data)
    if size < 126:
        head = bytes((0x81, size))
    elif size < 65536:
        head = struct.pack("!BBH", 0x81, 126, size)
    else:
        head = struct.pack("!BBQ", 0x81, 127, size)
    return head + data


class Cork:
    __slots__ = ("_depth", "_pending", "_framed")

    def __init__(self) -> None:
        self._depth = 0
        self._pending: dict[Gathering, list[str]] = {}
        self._framed: dict[int, tuple[str, bytes]] = {}  # id(text) -> (text kept alive, frame)

    def __enter__(self) -> "Cork":
        self._depth += 1
        return self

    def __exit__(self, *exc: object) -> None:
        self._depth -= 1
        if self._depth == 0:
            self.release()

    def gather(self, socket: Gathering, text: str) -> bool:
        """Keep ``text`` for ``socket`` until the batch is done; False when no batch is."""
        if not self._depth:
            return False
        texts = self._pending.get(socket)
        if texts is None:
            self._pending[socket] = [text]
        else:
            texts.append(text)
        return True

    def framed(self, text: str) -> bytes:
        """``text`` as a frame, built once per release (a text shared by sockets is one object)."""
        known = self._framed.get(id(text))
        if known is not None and known[0] is text:
            return known[1]
        data = text_frame(text)
        self._framed[id(text)] = (text, data)
        return data

    def release(self) -> None:
        pending, self._pending = self._pending, {}
        try:
            for socket, texts in pending.items():
                socket.flush(texts, self.framed)
        finally:
            self._framed.clear()
