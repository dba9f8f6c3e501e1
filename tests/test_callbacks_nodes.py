"""Callbacks on two nodes sharing one PostgreSQL: the race for a slot's last place, and a
reminder whose node dies holding it is sent once by the other node."""

from __future__ import annotations

from datetime import timedelta

import httpx
from sqlalchemy import update

from server.cli import opened
from server.store.db import utcnow
from server.store.schema import callback_reminders
from tests.clients import connect_operator, console_login, start_visitor
from tests.factories import PASSWORD, make_operator, make_webhook, settings_for
from tests.receivers import Receiver
from tests.test_callbacks import book, callback_site, offer, one_winner, race, stored_for_slot
from tests import test_scale_out
from tests.test_scale_out import Cluster

cluster = test_scale_out.cluster  # the two-node fixture (PostgreSQL + Redis), shared


async def test_two_nodes_race_for_the_last_place(cluster: Cluster, receiver: Receiver) -> None:
    a, b = cluster.add_node(), cluster.add_node()
    site = await callback_site(a, capacity=3)
    endpoint = await make_webhook(a, site, receiver.url, event_types=("callback.requested",))
    receiver.secret = endpoint.secret
    async with httpx.AsyncClient(base_url=a.url) as client:
        slot = (await offer(client, site))["days"][1]["slots"][0]["start"]
        for _ in range(2):  # two of three places taken
            token = (await start_visitor(a, site.key, site.allowed_origins[0]))["token"]
            assert (await book(client, site, token, slot=slot)).status_code == 201
    one_winner(await race([a, b], site, slot, 40), slot)
    assert await stored_for_slot(a, site, slot) == (3, 3)
    # Every booking is an event on the spine: the CRM hears each of the three, once, signed.
    await receiver.wait_for(lambda r: len(r.deliveries) == 3, "three callback.requested")
    assert receiver.bad_signatures == 0 and all(n == 1 for n in receiver.accepted.values())
    assert {p["data"]["callback"]["slot_start"] for p in receiver.payloads("callback.requested")} == {slot}


async def test_a_reminder_held_by_a_killed_node_is_sent_once_by_another(cluster: Cluster) -> None:
    cluster.env.update({"FRONTDESK_WORKER_LEASE_SECONDS": "2", "FRONTDESK_WEBHOOK_TIMEOUT_SECONDS": "1"})
    a, b = cluster.add_node(), cluster.add_node()
    site = await callback_site(a)
    operator = await make_operator(a)
    http = await console_login(b, operator.email, PASSWORD)
    console = await connect_operator(b, http)
    async with httpx.AsyncClient(base_url=a.url) as client:
        slot = (await offer(client, site))["days"][1]["slots"][0]["start"]
        token = (await start_visitor(a, site.key, site.allowed_origins[0]))["token"]
        booked = await book(client, site, token, slot=slot)
    callback_id = booked.json()["callback"]["id"]
    await console.recv_until(lambda f: f["type"] == "callback.requested")
    # Node A claims the reminder the moment it falls due, and dies before sending it: the
    # row is left as a dead node leaves it (its owner, a lease running, one claim).
    a.kill()
    async with opened(settings_for(a)) as state:
        await state.db.transaction(lambda conn: conn.execute(
            update(callback_reminders).where(callback_reminders.c.callback_id == callback_id).values(
                next_attempt_at=utcnow(), lease_owner="node-a:killed", claims=1,
                lease_expires_at=utcnow() + timedelta(seconds=2),
            )
        ))
    due = await console.recv_until(lambda f: f["type"] == "callback.due")
    assert due["callback"]["id"] == callback_id
    # Nothing more: the reminder is done (another poll round finds nothing to send).
    async with opened(settings_for(b)) as state:
        rows = await state.db.read(lambda conn: list(conn.execute(
            callback_reminders.select().where(callback_reminders.c.callback_id == callback_id))))
    assert [(r.status, r.claims) for r in rows] == [("done", 2)]
    assert [f["type"] for f in console.seen].count("callback.due") == 1
    await console.close()
    await http.aclose()
