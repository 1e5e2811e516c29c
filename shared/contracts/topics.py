"""Every topic name. Versioned; each has a dead-letter twin with the `.dlq` suffix."""

from __future__ import annotations

from enum import StrEnum


class Topic(StrEnum):
    ORDER_COMMANDS = "orders.commands.v1"
    WALLET_COMMANDS = "wallet.commands.v1"
    SAFETY_DECISIONS = "safety.decisions.v1"
    LEDGER_EVENTS = "ledger.events.v1"
    EXECUTION_EVENTS = "execution.events.v1"
    MARKET_PRICES = "market.prices.v1"
    ACCOUNT_EVENTS = "accounts.events.v1"
    AUDIT_CHECKPOINTS = "audit.checkpoints.v1"

    @property
    def dlq(self) -> str:
        return dead_letter_topic(self.value)


DLQ_SUFFIX = ".dlq"
PARTITIONS = 8
"""Partitions of every main topic: the unit of parallelism of a consumer group."""


def dead_letter_topic(topic: str) -> str:
    return topic + DLQ_SUFFIX


def all_topics() -> list[str]:
    """Main topics and their dead-letter twins, as created at start-up."""
    return [t.value for t in Topic] + [t.dlq for t in Topic]
