"""A parked message. Dead-letter topics carry these, so they are readable like any other topic."""

from __future__ import annotations

import base64
from typing import ClassVar

from shared.contracts.envelope import Payload, register
from shared.contracts.topics import Topic


@register
class DeadLettered(Payload):
    """The original message's bytes, where it came from, and why it could not be applied."""

    TYPE = "DeadLettered"
    TOPIC: ClassVar[Topic] = Topic.ORDER_COMMANDS  # unused: published to `<original_topic>.dlq`
    original_topic: str
    original_partition: int
    original_offset: int
    original_event_id: str | None = None
    original_key: str
    original_value_b64: str
    original_headers: dict[str, str]
    error: str
    attempts: int
    consumer: str

    def original_value(self) -> bytes:
        return base64.b64decode(self.original_value_b64)
