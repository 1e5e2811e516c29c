"""`ChainFold`: checks a trail's rows, fed in `seq` order, against the chain and the
checkpoints kept outside the database, and names the first thing wrong (`Finding`).

`feed_stored` decides the common case (a right row) straight from the table's columns;
anything in doubt goes to `feed`, the exact check, so both give the same verdict.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

import orjson

from shared.audit_chain.canonical_json import UncanonicalValue, is_plain
from shared.audit_chain.rows import (
    COLUMNS,
    GENESIS_HASH,
    StoredRow,
    TrailRow,
    columns_of,
    link_hash,
    stored_row,
    topic_of,
    topic_of_type,
)
from shared.contracts.deadletter import DeadLettered


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
        self._topics = topic_of_type()

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
            if type(document) is dict and is_plain(document):
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
