"""Callbacks on nodes sharing one PostgreSQL: the race for a slot's last place, and a
reminder whose node is killed while sending it is sent once by another node (the console
hears ``callback.due`` once, the assignee gets one email)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import asyncpg
import httpx
from sqlalchemy import func, select, update

from server.cli import opened
from server.services import callback_assignment
from server.store.db import utcnow
from server.store.outbox import last_event_id
from server.store.schema import callback_reminders, callbacks, events
from tests.clients import connect_operator, console_login, scrape_metrics, start_visitor
from tests.factories import PASSWORD, make_operator, make_webhook, settings_for
from tests.mailbox import Mailbox, parts
from tests.receivers import Receiver
from tests.test_callbacks import book, callback_site, offer, one_winner, race, stored_for_slot
from tests.clusters import Cluster  # the fixture ``cluster``: tests/conftest.py


async def test_two_nodes_race_for_the_last_place(cluster: Cluster, receiver: Receiver) -> None:
    a, b = cluster.add_node(), cluster.add_node()
    site = await callback_site(a, capacity=3)
    endpoint = await make_webhook(a, site, receiver.url, event_types=("callback.requested",))
    receiver.secret = endpoint.secret
    async with httpx.AsyncClient(base_url=a.url, timeout=30) as client:
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


async def test_a_node_killed_while_sending_a_reminder_loses_it_not_and_another_sends_it_once(
    cluster: Cluster,
) -> None:
    mailbox = Mailbox().start()  # email on: the reminder's email to the assignee goes out once too
    cluster.env.update(mailbox.env(FRONTDESK_SMTP_TIMEOUT_SECONDS="1"))
    cluster.env.update({"FRONTDESK_WORKER_LEASE_SECONDS": "2", "FRONTDESK_WEBHOOK_TIMEOUT_SECONDS": "1"})
    try:
        await _killed_while_sending(cluster, mailbox)
    finally:
        mailbox.stop()


async def _killed_while_sending(cluster: Cluster, mailbox: Mailbox) -> None:
    a = cluster.add_node()
    site = await callback_site(a)
    operator = await make_operator(a)
    bystander = await make_operator(a)  # works the site too, but the callback is not theirs
    async with httpx.AsyncClient(base_url=a.url, timeout=30) as client:
        slot = (await offer(client, site))["days"][1]["slots"][0]["start"]
        token = (await start_visitor(a, site.key, site.allowed_origins[0]))["token"]
        booked = await book(client, site, token, slot=slot)
    callback_id = booked.json()["callback"]["id"]
    async with opened(settings_for(a)) as state:
        await callback_assignment.assign(state.writer, operator, callback_id, operator.id)
        before = await state.db.read(last_event_id)

    # The events table is locked, so A's reminder transaction (mark sent + append
    # callback.due) hangs mid-way after A claimed it; then A is killed.
    blocker = await asyncpg.connect(cluster.backend.url)
    hold = blocker.transaction()
    await hold.start()
    await blocker.execute("LOCK TABLE events IN EXCLUSIVE MODE")
    due = utcnow() + timedelta(seconds=1)
    async with opened(settings_for(a)) as state:  # the slot falls due now
        await state.db.transaction(lambda conn: (
            conn.execute(update(callback_reminders).where(callback_reminders.c.callback_id == callback_id)
                         .values(due_at=due, next_attempt_at=due)),
            conn.execute(update(callbacks).where(callbacks.c.id == callback_id).values(due_at=due)),
        ))
    waiting = 0
    for _ in range(200):
        waiting = await blocker.fetchval(
            "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
            "WHERE c.relname = 'events' AND NOT l.granted"
        )
        if waiting:
            break
        await asyncio.sleep(0.1)
    assert waiting, "A never tried to send the reminder"
    claimed = await blocker.fetchrow("SELECT lease_owner, claims, status FROM callback_reminders WHERE callback_id = $1",
                                     callback_id)
    assert (claimed["claims"], claimed["status"]) == (1, "pending") and claimed["lease_owner"]
    a.kill()
    await hold.rollback()
    await blocker.close()

    b = cluster.add_node()  # finds A's lease expired and takes the reminder over
    http = await console_login(b, operator.email, PASSWORD)
    console = await connect_operator(b, http, after_event=before)  # replays anything already sent
    reminder = await console.recv_until(lambda f: f["type"] == "callback.due")
    assert reminder["callback"]["id"] == callback_id
    async with opened(settings_for(b)) as state:
        rows = await state.db.read(lambda conn: list(conn.execute(
            callback_reminders.select().where(callback_reminders.c.callback_id == callback_id))))
        sent = await state.db.read(lambda conn: conn.execute(
            select(func.count()).select_from(events).where(events.c.type == "callback.due")
            .where(events.c.id > before)).scalar_one())
    assert [(r.status, r.claims) for r in rows] == [("done", 2)]
    assert sent == 1  # once: A's half-done send was rolled back with A
    assert scrape_metrics(b)['frontdesk_worker_lease_takeovers_total{worker="reminders"}'] == 1
    # The email reminder: queued with B's send, delivered once, to the assignee only.
    mailbox.wait_for(lambda m: len(m.to(operator.email)) == 1, "the email reminder")
    await asyncio.sleep(3)  # longer than a lease: a second send would have come by now
    assert len(mailbox.to(operator.email)) == 1 and mailbox.to(bystander.email) == []
    assert f"tel:{booked.json()['callback']['phone']}" in parts(mailbox.to(operator.email)[0])[0]
    await console.close()
    await http.aclose()
