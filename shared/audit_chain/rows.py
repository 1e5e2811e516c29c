"""The trail's rows: the link hash, a message as the trail keeps it (redacted, with the query
columns copied out of it), the rows that extend the chain, and a row read back from the table.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

import orjson

from shared.audit_chain.canonical_json import UncanonicalValue, canonical_json, is_plain
from shared.contracts import Envelope, dead_letter_topic, encode, registered
from shared.contracts.deadletter import DeadLettered
from shared.redact import redact

GENESIS_HASH = "0" * 64
COLUMNS = (
    "event_id",
    "topic",
    "type",
    "version",
    "occurred_at",
    "producer",
    "account_id",
    "correlation_id",
    "causation_id",
)
"""Columns copied out of the message for queries; the verifier checks they still agree with it."""


def link_hash(prev_hash: str, message: Any) -> str:
    """The hash of a row: what the previous row's hash commits to, followed by this message."""
    return hashlib.sha256(bytes.fromhex(prev_hash) + canonical_json(message)).hexdigest()


def trail_document(message: Envelope) -> dict[str, Any]:
    """The message as the trail keeps it: the envelope as encoded on the wire, secrets redacted."""
    wire = encode(message)
    document: dict[str, Any] = orjson.loads(wire)
    if not is_plain(document):  # orjson reads an integer beyond 64 bits as a float: `json` does not
        document = json.loads(wire)
    document["payload"] = redact(document.get("payload"))
    return document


@cache
def topic_of_type() -> dict[tuple[str, int], str]:
    return {key: cls.TOPIC.value for key, cls in registered().items()}


def topic_of(document: Mapping[str, Any]) -> str | None:
    """The topic a message travels on (a dead letter: the original's `.dlq`); None if unknown."""
    kind, version, payload = document.get("type"), document.get("version"), document.get("payload")
    if kind == DeadLettered.TYPE and isinstance(payload, dict):
        original = payload.get("original_topic")
        return dead_letter_topic(original) if isinstance(original, str) else None
    if not isinstance(kind, str) or not isinstance(version, int):
        return None
    return topic_of_type().get((kind, version))


def columns_of(document: Mapping[str, Any]) -> dict[str, Any]:
    """The query columns as the message itself says them (raises if the envelope is malformed)."""
    try:
        cause = document.get("causation_id")
        return {
            "event_id": uuid.UUID(str(document["event_id"])),
            "topic": topic_of(document),
            "type": str(document["type"]),
            "version": int(document["version"]),
            "occurred_at": datetime.fromisoformat(str(document["occurred_at"])),
            "producer": str(document["producer"]),
            "account_id": str(document["account_id"]),
            "correlation_id": str(document["correlation_id"]),
            "causation_id": uuid.UUID(str(cause)) if cause is not None else None,
        }
    except (KeyError, ValueError, TypeError, AttributeError) as exc:
        raise UncanonicalValue(f"not an envelope: {exc!r}") from None


@dataclass(frozen=True)
class TrailRow:
    """One row of the trail: its place in the chain, the message, and the copied-out columns."""

    seq: int
    prev_hash: str
    hash: str
    message: dict[str, Any]
    columns: Mapping[str, Any]


def next_row(head_seq: int, head_hash: str, document: dict[str, Any]) -> TrailRow:
    """The row that extends a chain whose last row is (`head_seq`, `head_hash`)."""
    columns = columns_of(document)
    if columns["topic"] is None:
        raise UncanonicalValue(f"no topic known for {columns['type']} v{columns['version']}")
    return TrailRow(head_seq + 1, head_hash, link_hash(head_hash, document), document, columns)


def next_rows(head_seq: int, head_hash: str, documents: Sequence[dict[str, Any]]) -> list[TrailRow]:
    """The rows that extend the chain by `documents`, in order, each linking to the one before:
    a batch is chained in memory and written at once."""
    rows = []
    for document in documents:
        row = next_row(head_seq, head_hash, document)
        rows.append(row)
        head_seq, head_hash = row.seq, row.hash
    return rows


StoredRow = Iterable[Any]
"""A row as `audit verify` reads it (an asyncpg record unpacks so): seq, prev_hash, hash, the
message as JSON text, then `COLUMNS` with the two ids as PostgreSQL writes them as text."""


def stored_row(stored: StoredRow) -> TrailRow:
    """A row as read from the table, for the exact check."""
    seq, prev_hash, hash_, message, *columns = stored
    values = dict(zip(COLUMNS, columns, strict=True))
    cause = values["causation_id"]
    values["event_id"] = uuid.UUID(str(values["event_id"]))
    values["causation_id"] = uuid.UUID(str(cause)) if cause is not None else None
    return TrailRow(int(seq), prev_hash, hash_, json.loads(message), values)
