"""The bare relay: what a chat relay costs when it persists nothing (the benchmark's baseline).

    .venv/bin/python bench/relay_bare.py --port PORT

Built on the `websockets` package (uvloop when installed, as ``frontdesk serve`` uses, no
compression): a visitor's ``message.send`` gets an ``ack`` and is fanned out as
``message.created`` to every operator socket, in the same frame shapes as Frontdesk.

``--durable PATH``: the least a persist-then-relay can do, as a floor for Frontdesk's
latency on the same disk: each message is one row in a SQLite file (WAL,
``synchronous=FULL``), the messages that arrived together committed together on the event
loop, and only then fanned out and acked. ``--rows spine``: the same, storing what
Frontdesk must store for a message (the message row under its two unique indexes, the
event with its JSON in the log, the conversation's seq, unread count and preview), so
the floor includes the pages Frontdesk's commit writes but none of its Python.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
import sys
import uuid
from typing import Any

from relay_proc import now_iso


def open_store(path: str, rows: str) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    if rows == "message":
        conn.execute("CREATE TABLE IF NOT EXISTS messages (id INTEGER PRIMARY KEY, conversation TEXT NOT NULL,"
                     " seq INTEGER NOT NULL, client_id TEXT NOT NULL UNIQUE, body TEXT NOT NULL, created_at TEXT NOT NULL)")
        return conn
    # Frontdesk's shapes (store/schema.py), cut to what a message's commit touches.
    conn.executescript("""
        CREATE TABLE IF NOT EXISTS conversations (id TEXT PRIMARY KEY, last_seq INTEGER NOT NULL,
            unread_count INTEGER NOT NULL, last_message_at TEXT, last_message_preview TEXT);
        CREATE INDEX IF NOT EXISTS conversations_recent ON conversations (last_message_at);
        CREATE TABLE IF NOT EXISTS messages (id INTEGER PRIMARY KEY, conversation_id TEXT NOT NULL, seq INTEGER NOT NULL,
            client_id TEXT NOT NULL, author_kind TEXT NOT NULL, body TEXT NOT NULL, created_at TEXT NOT NULL,
            UNIQUE (conversation_id, seq), UNIQUE (conversation_id, client_id));
        CREATE TABLE IF NOT EXISTS events (id INTEGER PRIMARY KEY, type TEXT NOT NULL, site_id INTEGER,
            conversation_id TEXT, payload TEXT NOT NULL, created_at TEXT NOT NULL);
    """)
    return conn


async def serve_bare(port: int, durable: str | None = None, rows: str = "message") -> None:
    """A relay that persists nothing (or, with ``durable``, what ``rows`` says for each
    message before relaying it): ack the sender, fan out to all operators."""
    import websockets
    from websockets.asyncio.server import broadcast, serve

    operators: set[Any] = set()
    counters = {"event": 0}
    site = {"id": 1, "name": "Bench"}
    store = open_store(durable, rows) if durable else None
    pending: list[tuple[Any, tuple[Any, ...], str, str]] = []  # (socket, row, event frame, ack frame)

    def commit() -> None:
        """The messages that arrived since the last turn of the loop, in one transaction."""
        assert store is not None
        batch = pending[:]
        pending.clear()
        store.execute("BEGIN IMMEDIATE")
        if rows == "message":
            store.executemany("INSERT INTO messages (conversation, seq, client_id, body, created_at)"
                              " VALUES (?, ?, ?, ?, ?)", [row for _, row, _, _ in batch])
        else:  # a statement per table for the batch, as Frontdesk's batch path does
            rows_in = [row for _, row, _, _ in batch]
            store.executemany("INSERT INTO messages (conversation_id, seq, client_id, author_kind, body, created_at)"
                              " VALUES (?, ?, ?, 'visitor', ?, ?)", rows_in)
            store.executemany("INSERT INTO events (type, site_id, conversation_id, payload, created_at)"
                              " VALUES ('message.created', 1, ?, ?, ?)",
                              [(row[0], event, row[4]) for _, row, event, _ in batch])
            store.executemany("INSERT INTO conversations VALUES (?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET"
                              " last_seq = excluded.last_seq, unread_count = excluded.unread_count,"
                              " last_message_at = excluded.last_message_at,"
                              " last_message_preview = excluded.last_message_preview",
                              [(c, seq, seq, at, body[:140]) for c, seq, _, body, at in rows_in])
        store.execute("COMMIT")
        for ws, _, event, ack in batch:
            broadcast(operators, event)
            broadcast([ws], ack)

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
            event = json.dumps({
                "event_id": counters["event"], "type": "message.created", "conversation_id": conversation_id,
                "message": message, "conversation": summary,
            }, ensure_ascii=False, separators=(",", ":"))
            ack = json.dumps({"type": "ack", "id": frame["id"], "seq": seq,
                              "conversation_id": conversation_id, "created_at": at}, separators=(",", ":"))
            if store is not None:
                if not pending:
                    asyncio.get_running_loop().call_soon(commit)
                pending.append((ws, (conversation_id, seq, frame["id"], frame["body"], at), event, ack))
                continue
            broadcast(operators, event)
            await ws.send(ack)

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
    parser.add_argument("--durable", metavar="PATH", help="Store each message in this SQLite file before relaying it.")
    parser.add_argument("--rows", choices=("message", "spine"), default="message",
                        help="With --durable: one row a message, or what Frontdesk stores for one (spine).")
    args = parser.parse_args()
    try:
        try:
            import uvloop  # as `frontdesk serve` does, so the comparison is like for like
        except ImportError:
            asyncio.run(serve_bare(args.port, args.durable, args.rows))
        else:
            uvloop.run(serve_bare(args.port, args.durable, args.rows))
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
