"""The only thing services share about each other: topics, envelope, commands and events."""

from shared.contracts import (
    accounts,
    audit,
    deadletter,
    decisions,
    execution,
    ledger,
    orders,
    restrictions,
    wallet,
)
from shared.contracts.envelope import (
    Envelope,
    Payload,
    UndecodableMessage,
    decode,
    encode,
    new_message,
    registered,
)
from shared.contracts.reasons import RejectReason
from shared.contracts.topics import Topic, all_topics, dead_letter_topic

__all__ = [
    "Envelope",
    "Payload",
    "RejectReason",
    "Topic",
    "UndecodableMessage",
    "accounts",
    "all_topics",
    "audit",
    "dead_letter_topic",
    "deadletter",
    "decisions",
    "decode",
    "encode",
    "execution",
    "ledger",
    "new_message",
    "orders",
    "registered",
    "restrictions",
    "wallet",
]
