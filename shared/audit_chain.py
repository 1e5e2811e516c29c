"""The hash chain, with no I/O: canonical JSON, the link hash, and the fold that checks a trail.
The audit service appends with it; `cryptoorch audit verify` and the console's verification
(`POST /v1/admin/audit/verify`, through `shared.audit_verify`) check with the same fold.

`hash = sha256(bytes.fromhex(prev_hash) || canonical_json(message))`, genesis
`prev_hash` = 64 zeros. docs/canonical-json.md specifies the encoding so the
chain can be re-verified in any language from the rows alone.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from functools import cache
from typing import Any

import orjson

from shared.contracts import Envelope, dead_letter_topic, encode, registered
from shared.contracts.deadletter import DeadLettered
from shared.redact import redact


class UncanonicalValue(ValueError):
    """A message holds a value canonical JSON does not define (a float, a non-string key)."""


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


def canonical_json(value: Any) -> bytes:
    """Sorted keys, no whitespace, UTF-8, integers only (money travels as decimal strings).

    Written by orjson, which gives the same bytes as
    `json.dumps(sort_keys=True, separators=(",", ":"), ensure_ascii=False)` for every value
    the check lets through (`test_canonical_json` holds them against each other); what orjson
    refuses (an integer beyond 64 bits, text that is not UTF-8) goes through `json` itself.
    """
    if type(value) in (dict, list) and _plain(value):
        try:
            return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
        except TypeError:
            pass  # a key that is not text, an integer beyond 64 bits, text that is not UTF-8
    _check_canonical(value)
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    except TypeError:
        return _reference_json(value)


def _reference_json(value: Any) -> bytes:
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def _check_canonical(value: Any) -> None:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if not all(isinstance(key, str) for key in item):
                raise UncanonicalValue("object keys must be strings")
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, float):
            raise UncanonicalValue(f"non-integer number {item!r}: send decimals as strings")
        elif item is not None and not isinstance(item, str | int):
            raise UncanonicalValue(f"{type(item).__name__} is not a JSON value")


def link_hash(prev_hash: str, message: Any) -> str:
    """The hash of a row: what the previous row's hash commits to, followed by this message."""
    return hashlib.sha256(bytes.fromhex(prev_hash) + canonical_json(message)).hexdigest()


def trail_document(message: Envelope) -> dict[str, Any]:
    """The message as the trail keeps it: the envelope as encoded on the wire, secrets redacted."""
    wire = encode(message)
    document: dict[str, Any] = orjson.loads(wire)
    if not _plain(document):  # orjson reads an integer beyond 64 bits as a float: `json` does not
        document = json.loads(wire)
    document["payload"] = redact(document.get("payload"))
    return document


@cache
def _topic_of_type() -> dict[tuple[str, int], str]:
    return {key: cls.TOPIC.value for key, cls in registered().items()}


def topic_of(document: Mapping[str, Any]) -> str | None:
    """The topic a message travels on (a dead letter: the original's `.dlq`); None if unknown."""
    kind, version, payload = document.get("type"), document.get("version"), document.get("payload")
    if kind == DeadLettered.TYPE and isinstance(payload, dict):
        original = payload.get("original_topic")
        return dead_letter_topic(original) if isinstance(original, str) else None
    if not isinstance(kind, str) or not isinstance(version, int):
        return None
    return _topic_of_type().get((kind, version))


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


@dataclass(frozen=True)
class Checkpoint:
    """The chain head at `seq`, published and written outside the database at `at`."""

    seq: int
    hash: str
    at: str
    database: str | None = None


class Problem(StrEnum):
    SEQ_GAP = "seq_gap"
    PREV_HASH_MISMATCH = "prev_hash_mismatch"
    HASH_MISMATCH = "hash_mismatch"
    COLUMN_MISMATCH = "column_mismatch"
    CHECKPOINT_MISMATCH = "checkpoint_mismatch"
    CHECKPOINT_BEYOND_END = "checkpoint_beyond_end"
    CHECKPOINT_FILE_INVALID = "checkpoint_file_invalid"


@dataclass(frozen=True)
class Finding:
    """The first thing wrong: the row it names and what is wrong with it."""

    seq: int | None
    problem: Problem
    detail: str


class ChainFold:
    """Checks rows fed in `seq` order against the chain and checkpoints; stops at the first wrong.

    Memory stays constant: only the running hash and the next checkpoint are kept.
    """

    def __init__(self, checkpoints: Iterable[Checkpoint] = ()) -> None:
        self._checkpoints = sorted(checkpoints, key=lambda c: c.seq)
        self._next_checkpoint = 0
        self.last_seq = 0
        self.last_hash = GENESIS_HASH
        self.rows_checked = 0
        self.checkpoints_checked = 0
        self._last_good_checkpoint = 0
        self._last_digest = bytes.fromhex(GENESIS_HASH)
        self._checkpoint_due = self._checkpoints[0].seq if self._checkpoints else None
        self._topics = _topic_of_type()

    def feed_stored(self, stored: StoredRow) -> Finding | None:
        """`feed` for a row as read from the table, with the same verdict, fast.

        The common case (the row is right) is decided without building a `TrailRow`: orjson
        reads the message, and when it holds integers only (no fraction, exponent or number
        beyond 64 bits, which orjson would read as a float where `json` reads an exact value)
        its canonical bytes are orjson's (`canonical_json`), hashed, and the copied columns
        are compared as the message spells them. Anything else, from a wrong hash to a
        timestamp written another way, is decided by `feed` itself.
        """
        (seq, prev_hash, hash_, message, event_id, topic, kind, version, occurred_at, producer,
         account, correlation, cause) = stored  # fmt: skip
        if seq == self.last_seq + 1 and prev_hash == self.last_hash:
            try:
                document = orjson.loads(message)
            except orjson.JSONDecodeError:
                document = None
            if type(document) is dict and _plain(document):
                digest = hashlib.sha256(
                    self._last_digest + orjson.dumps(document, option=orjson.OPT_SORT_KEYS)
                ).hexdigest()
                get = document.get
                said_at, said_version = get("occurred_at"), get("version")
                if (
                    digest == hash_
                    and (
                        get("event_id"),
                        get("type"),
                        get("producer"),
                        get("account_id"),
                        get("correlation_id"),
                        get("causation_id"),
                    )
                    == (event_id, kind, producer, account, correlation, cause)
                    and type(said_version) is int
                    and said_version == version
                    and type(said_at) is str
                    and _same_time(said_at, occurred_at)
                    and (
                        self._topics.get((kind, version), topic) == topic
                        if kind != DeadLettered.TYPE
                        else _same_topic(document, topic)
                    )
                ):
                    self.last_seq, self.last_hash = seq, hash_
                    self._last_digest = bytes.fromhex(hash_)
                    self.rows_checked += 1
                    due = self._checkpoint_due
                    return None if due is None or due > seq else self._check_checkpoints()
        return self.feed(stored_row(stored))

    def feed(self, row: TrailRow) -> Finding | None:
        expected = self.last_seq + 1
        if row.seq != expected:
            return Finding(expected, Problem.SEQ_GAP, _gap(expected, row.seq))
        if row.prev_hash != self.last_hash:
            return Finding(
                row.seq,
                Problem.PREV_HASH_MISMATCH,
                f"prev_hash {row.prev_hash} but the row before ends the chain at {self.last_hash}"
                " (a row was removed, inserted or moved here)",
            )
        try:
            recomputed = link_hash(self.last_hash, row.message)
        except UncanonicalValue as exc:
            return Finding(row.seq, Problem.HASH_MISMATCH, f"the message was changed: {exc}")
        if recomputed != row.hash:
            return Finding(
                row.seq,
                Problem.HASH_MISMATCH,
                f"stored hash {row.hash}, recomputed {recomputed}: the message was changed",
            )
        mismatched = _mismatched_columns(row)
        if mismatched:
            return Finding(row.seq, Problem.COLUMN_MISMATCH, mismatched)
        self.last_seq, self.last_hash = row.seq, row.hash
        self._last_digest = bytes.fromhex(row.hash)
        self.rows_checked += 1
        return self._check_checkpoints()

    def _check_checkpoints(self) -> Finding | None:
        while self._next_checkpoint < len(self._checkpoints):
            checkpoint = self._checkpoints[self._next_checkpoint]
            self._checkpoint_due = checkpoint.seq
            if checkpoint.seq > self.last_seq:
                return None
            self._checkpoint_due = None
            self._next_checkpoint += 1
            self.checkpoints_checked += 1
            if checkpoint.hash != self.last_hash:
                return Finding(
                    checkpoint.seq,
                    Problem.CHECKPOINT_MISMATCH,
                    f"the checkpoint of {checkpoint.at} says seq {checkpoint.seq} had hash "
                    f"{checkpoint.hash}, the trail now has {self.last_hash}: rows "
                    f"{self._last_good_checkpoint + 1}..{checkpoint.seq} were rewritten after it",
                )
            self._last_good_checkpoint = checkpoint.seq
        return None

    def finish(self) -> Finding | None:
        """After the last row: a checkpoint past the end means rows were cut off the trail."""
        pending = self._checkpoints[self._next_checkpoint :]
        if not pending:
            return None
        checkpoint = pending[-1]
        return Finding(
            self.last_seq + 1,
            Problem.CHECKPOINT_BEYOND_END,
            f"the checkpoint of {checkpoint.at} names seq {checkpoint.seq}, but the trail ends at "
            f"seq {self.last_seq}: rows {self.last_seq + 1}..{checkpoint.seq} are missing",
        )


_LEAVES = frozenset({str, int, bool, type(None)})


def _plain(value: dict[str, Any] | list[Any]) -> bool:
    """Whether `value` holds only JSON's exact built-in types and no float (what orjson reads
    from JSON text is built-in; a float is a number `json` may read otherwise, or refused)."""
    item: Any
    for item in value.values() if type(value) is dict else value:
        kind = type(item)
        if kind is dict or kind is list:
            if not _plain(item):
                return False
        elif kind not in _LEAVES:
            return False
    return True


def _same_time(said: str, stored: datetime) -> bool:
    try:
        return datetime.fromisoformat(said) == stored
    except ValueError:
        return False


def _same_topic(document: dict[str, Any], stored: str) -> bool:
    """`_mismatched_columns`'s topic rule: what the message's type says, if this build knows."""
    said = topic_of(document)
    return said is None or said == stored


def _gap(expected: int, found: int) -> str:
    if found < expected:
        return f"expected seq {expected}, found {found}: a row is repeated or out of order"
    missing = f"row {expected} is" if found == expected + 1 else f"rows {expected}..{found - 1} are"
    return f"expected seq {expected}, found {found}: {missing} missing"


def _mismatched_columns(row: TrailRow) -> str:
    """Which copied-out columns disagree with the (hashed) message they were copied from."""
    try:
        said = columns_of(row.message)
    except UncanonicalValue as exc:
        return str(exc)
    wrong = []
    for name in COLUMNS:
        if name == "topic" and said[name] is None:
            continue  # a type this build does not know: its topic cannot be derived
        if row.columns.get(name) != said[name]:
            wrong.append(f"{name} is {row.columns.get(name)!r}, the message says {said[name]!r}")
    return "; ".join(wrong)
