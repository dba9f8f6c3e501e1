"""Webhooks sent by several nodes: each event once, and a dead node's leases taken over."""

from __future__ import annotations

import asyncio

from tests.clients import scrape_metrics, visitor_says
from tests.clusters import Cluster
from tests.factories import deliveries_of, deliveries_when, make_site, make_webhook
from tests.receivers import Receiver, webhook_jobs


async def test_webhooks_are_sent_once_by_three_nodes(cluster: Cluster, receiver: Receiver) -> None:
    """Every node runs the webhook worker; the receiver counts each event's webhook-id once."""
    nodes = [cluster.add_node() for _ in range(3)]
    site = await make_site(nodes[0])
    endpoint = await make_webhook(nodes[1], site, receiver.url)
    receiver.secret = endpoint.secret
    origin = site.allowed_origins[0]

    # 12 visitors, 4 on each node, 5 messages each: 12 lead.created (docs/leads.md) + 12
    # conversation.created + 60 message.created.
    await asyncio.gather(*(
        visitor_says(node, site.key, origin, [f"node {n} visitor {v} message {i}" for i in range(5)])
        for n, node in enumerate(nodes) for v in range(4)
    ))

    await receiver.wait_for(lambda r: len(r.accepted) == 84, "84 distinct webhook-ids")
    rows = await deliveries_of(nodes[2], endpoint)
    assert {f"evt_{r['event_id']}" for r in rows} == set(receiver.accepted)
    assert sum(receiver.requests.values()) == 84, "some event was sent more than once"
    assert receiver.bad_signatures == 0
    bodies = sorted(p["data"]["message"]["body"] for p in receiver.payloads("message.created"))
    assert bodies == sorted(f"node {n} visitor {v} message {i}" for n in range(3) for v in range(4) for i in range(5))
    delivered = [webhook_jobs(node, "delivered") for node in nodes]
    assert sum(delivered) == 84 and sum(1 for d in delivered if d) >= 2, delivered  # the work was shared


async def test_a_live_node_takes_over_a_dead_nodes_webhook_leases(cluster: Cluster, receiver: Receiver) -> None:
    # A request outlives the time B takes to start, so A still holds its leases when killed.
    # (15 s: on a loaded machine B took over 6 s to start, A's attempts timed out and A
    # itself retried them before the check below.)
    cluster.env.update(FRONTDESK_WEBHOOK_TIMEOUT_SECONDS="15", FRONTDESK_WORKER_LEASE_SECONDS="17")
    a = cluster.add_node()
    site = await make_site(a)
    endpoint = await make_webhook(a, site, receiver.url)
    receiver.secret = endpoint.secret
    receiver.open_gate.clear()  # A's requests hang: A holds the leases

    await visitor_says(a, site.key, site.allowed_origins[0], ["sent through A", "and again"])
    await receiver.wait_for(lambda r: r.held == 4, "A's four requests in flight (lead, conversation, two messages)")
    b = cluster.add_node()  # B finds nothing due: every delivery is leased by A
    await asyncio.sleep(1)
    assert sum(receiver.requests.values()) == 4
    a.kill()
    receiver.respond = lambda _id, before: 503 if before == 0 else 204  # A never heard back
    receiver.open_gate.set()

    await receiver.wait_for(lambda r: len(r.accepted) == 4, "B's deliveries after A's leases expired")
    assert all(count == 1 for count in receiver.accepted.values()), receiver.accepted
    rows = await deliveries_when(b, endpoint, lambda rows: all(r["status"] == "done" for r in rows))
    assert scrape_metrics(b)['frontdesk_worker_lease_takeovers_total{worker="webhooks"}'] == 4
    assert webhook_jobs(b, "delivered") == 4
    assert [(r["status"], r["attempts"], r["claims"]) for r in rows] == [("done", 1, 2)] * 4
