"""The lighter parts of the websocket protocol (server/web/ws_protocol.py) keep what uvicorn
relies on from the asyncio.Queue and asyncio.Event they replace: no frame a client sent
is lost or handed out twice, whoever waits is woken, a cancelled wait takes nothing.
(Every socket test runs through them too: `frontdesk serve` uses the protocol.)"""

from __future__ import annotations

import asyncio

import pytest

from server.web.ws_protocol import Flag, Inbox


async def test_inbox_hands_out_each_frame_once_in_order_even_when_a_wait_is_cancelled() -> None:
    inbox = Inbox()
    cancelled = asyncio.ensure_future(inbox.get())
    await asyncio.sleep(0)
    cancelled.cancel()  # a reader that went away (the socket ended) takes nothing with it
    with pytest.raises(asyncio.CancelledError):
        await cancelled
    waiting = asyncio.ensure_future(inbox.get())
    await asyncio.sleep(0)
    inbox.put_nowait({"type": "websocket.receive", "text": "1"})
    inbox.put_nowait({"type": "websocket.receive", "text": "2"})
    assert not inbox.empty()
    assert (await waiting)["text"] == "1"
    assert (await inbox.get())["text"] == "2"
    assert inbox.empty()


async def test_inbox_wakes_every_reader_and_each_gets_its_own_frame() -> None:
    inbox = Inbox()
    readers = [asyncio.ensure_future(inbox.get()) for _ in range(3)]
    await asyncio.sleep(0)
    for n in range(3):
        inbox.put_nowait(n)
    assert sorted(await asyncio.gather(*readers)) == [0, 1, 2]


async def test_flag_holds_writers_while_cleared_and_lets_them_all_go_when_set() -> None:
    flag = Flag(True)
    assert await asyncio.wait_for(flag.wait(), 1)  # set: no waiting
    flag.clear()
    writers = [asyncio.ensure_future(flag.wait()) for _ in range(2)]
    gone = asyncio.ensure_future(flag.wait())
    await asyncio.sleep(0.01)
    assert not any(w.done() for w in writers)
    gone.cancel()
    await asyncio.gather(gone, return_exceptions=True)
    flag.set()
    assert await asyncio.wait_for(asyncio.gather(*writers), 1) == [True, True]
    assert flag.is_set()
