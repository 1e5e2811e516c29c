"""The audit trail's published chain: its head, and where each message sits in it."""

from __future__ import annotations

import uuid

from pydantic import BaseModel, ConfigDict, Field

from shared.contracts.envelope import Payload, register
from shared.contracts.topics import Topic

HASH_PATTERN = r"^[0-9a-f]{64}$"
MAX_LINKS = 500
"""Links per `AuditChainLinks` (about 200 bytes each: far below the message size limit)."""


@register
class AuditCheckpoint(Payload):
    TYPE = "AuditCheckpoint"
    TOPIC = Topic.AUDIT_CHECKPOINTS
    seq: int
    hash: str


class AuditLink(BaseModel):
    """One message's row in the trail: `hash = sha256(prev_hash || canonical_json(message))`."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    event_id: uuid.UUID
    seq: int = Field(ge=1)
    prev_hash: str = Field(pattern=HASH_PATTERN)
    hash: str = Field(pattern=HASH_PATTERN)


@register
class AuditChainLinks(Payload):
    """The rows appended after seq `after_seq` up to `through_seq`, as the audit service chained
    them (prices and audit's own messages left out), so readers can show each message's hash."""

    TYPE = "AuditChainLinks"
    TOPIC = Topic.AUDIT_CHECKPOINTS
    after_seq: int = Field(ge=0)
    through_seq: int = Field(ge=1)
    links: list[AuditLink] = Field(min_length=1, max_length=MAX_LINKS)
