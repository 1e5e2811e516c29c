"""The audit trail's published chain head."""

from __future__ import annotations

from shared.contracts.envelope import Payload, register
from shared.contracts.topics import Topic


@register
class AuditCheckpoint(Payload):
    TYPE = "AuditCheckpoint"
    TOPIC = Topic.AUDIT_CHECKPOINTS
    seq: int
    hash: str
