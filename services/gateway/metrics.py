"""Prometheus metrics of one gateway app (own registry, so tests can build many apps), served
beside the process-wide ones of `shared.metrics` (outbox, inbox, HTTP latency)."""

from __future__ import annotations

from prometheus_client import REGISTRY, CollectorRegistry, Counter, generate_latest

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class GatewayMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.orders_accepted = Counter(
            "gateway_orders_accepted_total",
            "Orders accepted (202) by mode",
            ["mode"],
            registry=self.registry,
        )
        self.idempotent_replays = Counter(
            "gateway_idempotent_replays_total",
            "Requests answered from a stored idempotent response",
            ["endpoint"],
            registry=self.registry,
        )
        self.auth_failures = Counter(
            "gateway_auth_failures_total",
            "Failed logins and 2FA checks, by reason",
            ["reason"],
            registry=self.registry,
        )
        self.read_model_messages = Counter(
            "gateway_read_model_messages_total",
            "Messages applied to the read models, by type",
            ["type"],
            registry=self.registry,
        )

    def render(self) -> bytes:
        """The process-wide metrics, then this app's (no name appears in both)."""
        return generate_latest(REGISTRY) + generate_latest(self.registry)
