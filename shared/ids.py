"""Typed identifiers. They are plain strings on the wire; the types keep them apart in code."""

from __future__ import annotations

import uuid
from typing import NewType

AccountId = NewType("AccountId", str)
"""The user whose money a message is about; also the Kafka partition key."""
OrderId = NewType("OrderId", str)
WithdrawalId = NewType("WithdrawalId", str)

SYSTEM_ACCOUNT = AccountId("system")
"""Partition key for messages that belong to no user (price ticks, checkpoints)."""


def new_id() -> str:
    return str(uuid.uuid4())


def derived_id(namespace: str, *parts: object) -> uuid.UUID:
    """A UUID that is the same every time for the same inputs (idempotent retries)."""
    return uuid.uuid5(uuid.NAMESPACE_URL, namespace + ":" + ":".join(str(p) for p in parts))
