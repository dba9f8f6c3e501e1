"""The bare relay: what a chat relay costs when it persists nothing (the benchmark's baseline).

    .venv/bin/python bench/relay_bare.py --port PORT

Built on the `websockets` package (uvloop when installed, as ``frontdesk serve`` uses, no
compression): a visitor's ``message.send`` gets an ``ack`` and is fanned out as
``message.created`` to every operator socket, in the same frame shapes as Frontdesk.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import uuid
from typing import Any

from relay_proc import now_iso


async def serve_bare(port: int) -> None:
    """A relay that persists nothing: ack the sender, fan out to all operators."""
    import websockets
    from websockets.asyncio.server import broadcast, serve

    operators: set[Any] = set()
    counters = {"event": 0}
    site = {"id": 1, "name": "Bench"}

    async def operator(ws: Any) -> None:
        await ws.recv()  # hello
        await ws.send(json.dumps({
            "type": "welcome", "operator": {"id": uuid.uuid4().hex, "name": None, "email": "op@bench.test"},
            "last_event_id": counters["event"],
        }, separators=(",", ":")))
        operators.add(ws)
        try:
            async for _ in ws:
                pass
        finally:
            operators.discard(ws)

    async def visitor(ws: Any) -> None:
        await ws.recv()  # hello
        visitor = {"id": uuid.uuid4().hex, "name": None, "email": None, "phone": None}
        conversation_id = uuid.uuid4().hex
        created_at = now_iso()
        seq = 0
        await ws.send(json.dumps({"type": "welcome", "visitor": visitor, "conversation": None,
                                  "operators_online": bool(operators)}, separators=(",", ":")))
        async for raw in ws:
            frame = json.loads(raw)
            if frame.get("type") != "message.send":
                continue
            seq += 1
            counters["event"] += 1
            at = now_iso()
            message = {"seq": seq, "client_id": frame["id"], "author": {"kind": "visitor", "name": None},
                       "body": frame["body"], "created_at": at}
            summary = {"id": conversation_id, "site": site, "visitor": visitor, "status": "open",
                       "created_at": created_at, "last_message_at": at,
                       "last_message_preview": frame["body"][:140], "unread_count": seq, "last_seq": seq}
            broadcast(operators, json.dumps({
                "event_id": counters["event"], "type": "message.created", "conversation_id": conversation_id,
                "message": message, "conversation": summary,
            }, ensure_ascii=False, separators=(",", ":")))
            await ws.send(json.dumps({"type": "ack", "id": frame["id"], "seq": seq,
                                      "conversation_id": conversation_id, "created_at": at},
                                     separators=(",", ":")))

    async def handler(ws: Any) -> None:
        try:
            if ws.request.path.startswith("/operator"):
                await operator(ws)
            else:
                await visitor(ws)
        except websockets.ConnectionClosed:
            pass

    async with serve(handler, "127.0.0.1", port, compression=None, max_size=65536, ping_interval=None):
        await asyncio.Future()



def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    try:
        try:
            import uvloop  # as `frontdesk serve` does, so the comparison is like for like
        except ImportError:
            asyncio.run(serve_bare(args.port))
        else:
            uvloop.run(serve_bare(args.port))
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
