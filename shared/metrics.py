"""Prometheus metrics every service exposes on `/metrics` (the gateway on its own port,
the others on `CRYPTOORCH_METRICS_PORT`)."""

from __future__ import annotations

import logging

from prometheus_client import Counter, Gauge, Histogram, start_http_server

log = logging.getLogger(__name__)

CONSUMED = Counter(
    "cryptoorch_messages_consumed_total", "Messages applied by this service", ["topic", "type"]
)
PRODUCED = Counter(
    "cryptoorch_messages_produced_total", "Messages published by the relay", ["topic"]
)
IGNORED = Counter(
    "cryptoorch_messages_ignored_total",
    "Messages of a type this service does not act on, skipped without decoding",
    ["topic", "type"],
)
DUPLICATES = Counter(
    "cryptoorch_inbox_duplicates_skipped_total", "Redelivered messages the inbox skipped", ["topic"]
)
DEAD_LETTERED = Counter(
    "cryptoorch_dead_lettered_total", "Messages parked in a dead-letter topic", ["topic"]
)
OUTBOX_BACKLOG = Gauge("cryptoorch_outbox_backlog", "Outbox rows not yet published")
OUTBOX_OLDEST_AGE = Gauge(
    "cryptoorch_outbox_oldest_unpublished_age_seconds", "Age of the oldest unpublished outbox row"
)
CONSUMER_LAG = Gauge(
    "cryptoorch_consumer_lag", "Messages behind the end of the partition", ["topic", "partition"]
)
DECISIONS = Counter(
    "cryptoorch_decisions_total", "Decisions taken, by outcome and reason", ["decision", "reason"]
)
VENUE_RECONCILIATIONS = Counter(
    "cryptoorch_venue_reconciliations_total",
    "Venue balance reconciliation: execution's fetches (reported, fetch_failed) and the "
    "ledger's comparisons (agreed, disagreed, skipped_open_hold, stale, discrepancy)",
    ["venue", "outcome"],
)
HTTP_LATENCY = Histogram(
    "cryptoorch_http_request_seconds",
    "HTTP request latency",
    ["method", "route", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)


def serve(port: int, host: str = "127.0.0.1") -> None:
    """Expose `/metrics` on `host`:`port` (port 0: not exposed)."""
    if port:
        start_http_server(port, addr=host)
        log.info("metrics on http://%s:%d/metrics", host, port)
