"""Prometheus metrics, in a registry of the app's own (no process-global state)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.sockets = Gauge(
            "frontdesk_websockets_open", "Open websocket connections.", ["kind"], registry=self.registry
        )
        self.messages = Counter(
            "frontdesk_messages_acked_total", "Chat messages acked (stored), by author kind.", ["author"],
            registry=self.registry,
        )
        # Each author's series resolved once: ``labels()`` a message was ~1.5 % of a node's event loop.
        self.visitor_messages = self.messages.labels("visitor")
        self.operator_messages = self.messages.labels("operator")
        self.ack_latency = Histogram(
            "frontdesk_message_ack_seconds", "From a message frame's arrival to its ack (stored and published).",
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
            registry=self.registry,
        )
        self.commits = Counter(
            "frontdesk_writer_commits_total", "Transactions committed by the group-commit writer.",
            registry=self.registry,
        )
        self.commits_on_loop = Counter(
            "frontdesk_writer_commits_on_loop_total",
            "Of those, transactions started on the event loop (SQLite: chat messages while commits are quick, "
            "FRONTDESK_COMMIT_ON_LOOP_MS; one finding the write lock held elsewhere waits for it in a thread).",
            registry=self.registry,
        )
        self.commit_seconds = Gauge(
            "frontdesk_writer_commit_seconds", "SQLite: how long the writer's commits of a few writes take (the disk's sync), a "
            "moving average.",
            registry=self.registry,
        )
        self.writes = Counter(
            "frontdesk_writer_writes_total", "Writes committed by the group-commit writer.", registry=self.registry
        )
        self.writer_queue = Gauge(
            "frontdesk_writer_queue", "Writes waiting for the next commit.", registry=self.registry
        )
        self.jobs = Counter(
            "frontdesk_worker_jobs_total",
            "Jobs worked by this node's workers, by worker and outcome (webhooks: delivered, retrying, failed; emails: sent, retrying, "
            "failed, lease_lost).",
            ["worker", "outcome"], registry=self.registry,
        )
        self.outbox_backlog = Gauge(
            "frontdesk_outbox_backlog", "Jobs not yet done (due, or waiting for a retry), by worker.", ["worker"],
            registry=self.registry,
        )
        self.lease_takeovers = Counter(
            "frontdesk_worker_lease_takeovers_total",
            "Jobs this node took over after another holder's lease expired (that node died or hung).",
            ["worker"], registry=self.registry,
        )
        self.webhook_seconds = Histogram(
            "frontdesk_webhook_request_seconds", "Webhook requests, from sending to the receiver's answer.",
            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30), registry=self.registry,
        )

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
