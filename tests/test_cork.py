"""A committed batch's frames reach each socket in one write, in order, and a socket that
cannot take a direct write still gets every frame, in order (server/realtime/cork.py)."""

from __future__ import annotations

from typing import Callable

from websockets.frames import Frame, Opcode
from websockets.streams import StreamReader

from server.realtime.cork import Cork


def frames(data: bytes) -> list[str]:
    """What a client reads from ``data``: whole text frames, checked by websockets' parser."""
    reader = StreamReader()
    reader.feed_data(data)
    texts = []
    while reader.buffer:
        parser = Frame.parse(reader.read_exact, mask=False)
        try:
            next(parser)
        except StopIteration as done:
            frame = done.value
        assert frame.opcode is Opcode.TEXT and frame.fin
        texts.append(frame.data.decode())
    return texts


class Socket:
    def __init__(self, cork: Cork, direct: bool = True) -> None:
        self.cork = cork
        self.direct = direct
        self.writes: list[bytes] = []
        self.one_by_one: list[str] = []

    def send(self, text: str) -> None:
        if not self.cork.gather(self, text):
            self.one_by_one.append(text)

    def flush(self, texts: list[str], framed: Callable[[str], bytes]) -> None:
        if self.direct:
            self.writes.append(b"".join(framed(t) for t in texts))
        else:
            for text in texts:
                self.send(text)


def test_a_batch_reaches_each_socket_in_one_write_in_order() -> None:
    cork = Cork()
    consoles = [Socket(cork) for _ in range(3)]
    shared = ['{"type":"message.created","seq":%d,"body":"Привет"}' % n for n in range(1, 41)]
    with cork:
        for text in shared:
            for console in consoles:
                console.send(text)
        assert all(not c.writes for c in consoles)  # nothing written before the batch is done
    for console in consoles:
        assert len(console.writes) == 1
        assert frames(console.writes[0]) == shared


def test_nested_holds_release_once_and_nothing_waits_outside_a_batch() -> None:
    cork = Cork()
    socket = Socket(cork)
    with cork:
        socket.send("a")
        with cork:
            socket.send("b")
        assert not socket.writes
    assert frames(socket.writes[0]) == ["a", "b"]
    socket.send("c")  # no batch: not held
    assert socket.one_by_one == ["c"]


def test_a_socket_that_cannot_take_a_direct_write_gets_every_frame_in_order() -> None:
    cork = Cork()
    slow, fast = Socket(cork, direct=False), Socket(cork)
    with cork:
        for text in ("1", "2", "3"):
            slow.send(text)
            fast.send(text)
    assert slow.one_by_one == ["1", "2", "3"] and not slow.writes
    assert frames(fast.writes[0]) == ["1", "2", "3"]


def test_a_long_frame_is_framed_whole() -> None:
    cork = Cork()
    socket = Socket(cork)
    long = "я" * 40_000  # over 65,535 bytes: the 8-byte length form
    with cork:
        socket.send(long)
        socket.send("short")
    assert frames(socket.writes[0]) == [long, "short"]
