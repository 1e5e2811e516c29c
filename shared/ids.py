"""Identifiers: fresh ones, ones derived from their inputs (idempotent retries), the system key."""

from __future__ import annotations

import uuid

SYSTEM_ACCOUNT = "system"
"""Partition key for messages that belong to no user (price ticks, checkpoints)."""


def new_id() -> str:
    return str(uuid.uuid4())


def derived_id(namespace: str, *parts: object) -> uuid.UUID:
    """A UUID that is the same every time for the same inputs (idempotent retries)."""
    return uuid.uuid5(uuid.NAMESPACE_URL, namespace + ":" + ":".join(str(p) for p in parts))
