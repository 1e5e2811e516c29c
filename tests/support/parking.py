"""Which consumers park a message no one can apply (the dead-letter topic of what they read)."""

from __future__ import annotations

from shared.contracts.access import SERVICES, acts_on, readable_by
from shared.contracts.envelope import peek_type

CONSUMED_BY: dict[str, set[str]] = {service: set(readable_by(service)) for service in SERVICES}
"""Each service and the topics it consumes (its consumer group parks what it cannot read)."""


def parks(service: str, topic: str, value: bytes) -> bool:
    """Whether `service`'s consumer parks `value` read from `topic`: it reads the topic, and
    the message has no readable type or one it acts on (it skips the others undecoded)."""
    if topic not in CONSUMED_BY[service]:
        return False
    kinds, kind = acts_on(service), peek_type(value)
    return kinds is None or kind is None or kind in kinds
