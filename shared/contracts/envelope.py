"""The envelope every message travels in, and its wire codec.

A payload class declares its `TYPE` and `VERSION`; the registry maps
(type, version) to the class so a consumer can refuse what it does not know
(to the dead-letter topic) instead of guessing.
"""

from __future__ import annotations

import builtins
import json
import uuid
from datetime import datetime
from typing import Any, ClassVar, TypeVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, SerializeAsAny, ValidationError

from shared.contracts.topics import Topic

MAX_MESSAGE_BYTES = 256 * 1024
TYPE_HEADER = "message_type"
"""The Kafka record header naming the message's `type` (set by `shared.outbox.enqueue`): a
consumer reads it to skip a type it does not act on without decoding the message."""


class Payload(BaseModel):
    """Base of every command and event body. Unknown fields are ignored (additive versions)."""

    model_config = ConfigDict(frozen=True, extra="ignore")
    TYPE: ClassVar[str]
    VERSION: ClassVar[int] = 1
    TOPIC: ClassVar[Topic]


class Envelope(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    event_id: uuid.UUID
    type: str = Field(min_length=1, max_length=100)
    version: int = Field(ge=1)
    occurred_at: AwareDatetime
    producer: str = Field(min_length=1, max_length=50)
    account_id: str = Field(min_length=1, max_length=100)
    correlation_id: str = Field(min_length=1, max_length=100)
    causation_id: uuid.UUID | None = None
    payload: SerializeAsAny[Payload]

    @property
    def topic(self) -> Topic:
        return self.payload.TOPIC

    def body(self, kind: builtins.type[P]) -> P:
        """The payload as `kind`; raises if the message is of another type."""
        if not isinstance(self.payload, kind):
            raise TypeError(f"{self.type} is not {kind.__name__}")
        return self.payload


P = TypeVar("P", bound=Payload)
_REGISTRY: dict[tuple[str, int], type[Payload]] = {}


class UndecodableMessage(ValueError):
    """Malformed, oversized, unknown type or unknown version: belongs in the DLQ."""


def register(cls: type[P]) -> type[P]:
    key = (cls.TYPE, cls.VERSION)
    if key in _REGISTRY:
        raise RuntimeError(f"message {key} registered twice")
    _REGISTRY[key] = cls
    return cls


def registered() -> dict[tuple[str, int], type[Payload]]:
    return dict(_REGISTRY)


def new_message(
    payload: Payload,
    *,
    producer: str,
    account_id: str,
    correlation_id: str,
    now: datetime,
    cause: Envelope | None = None,
    event_id: uuid.UUID | None = None,
) -> Envelope:
    """Wrap a payload written at `now`; with `cause`, link it to the message that caused it."""
    return Envelope(
        event_id=event_id or uuid.uuid4(),
        type=payload.TYPE,
        version=payload.VERSION,
        occurred_at=now,
        producer=producer,
        account_id=account_id,
        correlation_id=correlation_id,
        causation_id=cause.event_id if cause else None,
        payload=payload,
    )


def encode(message: Envelope) -> bytes:
    return message.model_dump_json().encode()


def peek_type(raw: bytes) -> str | None:
    """The message's `type` field, read without validating the message (a plain JSON parse);
    None when it has none that can be read (not JSON, not an object, oversized, no string)."""
    if len(raw) > MAX_MESSAGE_BYTES:
        return None
    try:
        data: Any = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return None
    kind = data.get("type") if isinstance(data, dict) else None
    return kind if isinstance(kind, str) else None


def decode(raw: bytes) -> Envelope:
    """Parse bytes from the broker into a typed envelope, or raise `UndecodableMessage`."""
    if len(raw) > MAX_MESSAGE_BYTES:
        raise UndecodableMessage(f"message of {len(raw)} bytes exceeds {MAX_MESSAGE_BYTES}")
    try:
        data: Any = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise UndecodableMessage(f"not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise UndecodableMessage("not a JSON object")
    kind, version = data.get("type"), data.get("version")
    if not isinstance(kind, str) or not isinstance(version, int) or isinstance(version, bool):
        raise UndecodableMessage("missing or invalid type/version")
    cls = _REGISTRY.get((kind, version))
    if cls is None:
        raise UndecodableMessage(f"unknown message type {kind!r} version {version}")
    try:
        payload = cls.model_validate(data.get("payload"))
        return Envelope.model_validate({**data, "payload": payload})
    except ValidationError as exc:
        raise UndecodableMessage(f"invalid {kind} v{version}: {exc}") from None
