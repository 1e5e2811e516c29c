"""The auditor's export of the audit trail: one line per row, `{seq, prev_hash, hash, actor,
message}`, read page by page in `seq` order (memory does not grow with the trail).

`message` is written in canonical JSON (docs/canonical-json.md), so the bytes after
`"message":` on a line are exactly the bytes that were hashed. `actor` is not hashed: it is
derived from the message (`shared.audit_actor`) and anyone can derive it again.

The reader needs only the trail's documented columns (`seq`, `prev_hash`, `hash`, `message`),
so `cryptoorch audit export` and the gateway's `GET /v1/admin/audit/export` write the same
lines from the same rows.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from shared.audit_actor import actor_of
from shared.db import Connection

PAGE_ROWS = 1000
CSV_HEADER = ("seq", "prev_hash", "hash", "actor", "message")


class InvalidSeqRange(ValueError):
    """`from_seq`/`to_seq` that name no range: below 1, or the end before the start."""


@dataclass(frozen=True)
class SeqRange:
    """Rows `first`..`last`, both included."""

    first: int
    last: int


def check_range(from_seq: int | None, to_seq: int | None) -> None:
    """Raise `InvalidSeqRange` unless the bounds can name rows (checked before any reading)."""
    first = 1 if from_seq is None else from_seq
    if first < 1 or (to_seq is not None and to_seq < 1):
        raise InvalidSeqRange("from_seq and to_seq start at 1")
    if to_seq is not None and to_seq < first:
        raise InvalidSeqRange(f"to_seq {to_seq} is before from_seq {first}")


def seq_range(from_seq: int | None, to_seq: int | None, head: int) -> SeqRange:
    """The rows to export: `from_seq` (default 1) through `to_seq`, never past `head` (the
    last row when the export starts, so an export ends even while the trail grows)."""
    check_range(from_seq, to_seq)
    first = 1 if from_seq is None else from_seq
    return SeqRange(first, head if to_seq is None else min(to_seq, head))


@dataclass(frozen=True)
class ExportRow:
    seq: int
    prev_hash: str
    hash: str
    message: dict[str, Any]


def canonical(value: Any) -> str:
    """docs/canonical-json.md: sorted keys, no whitespace, no escaping of non-ASCII."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


def jsonl_line(row: ExportRow) -> str:
    """One JSONL line (with its newline); keys in the contract's order, `message` last."""
    return (
        f'{{"seq":{row.seq},"prev_hash":{json.dumps(row.prev_hash)},'
        f'"hash":{json.dumps(row.hash)},"actor":{canonical(actor_of(row.message).as_dict())},'
        f'"message":{canonical(row.message)}}}\n'
    )


def csv_fields(row: ExportRow) -> tuple[str, str, str, str, str]:
    """The CSV columns of `CSV_HEADER`: actor and message as canonical JSON strings."""
    actor = canonical(actor_of(row.message).as_dict())
    return (str(row.seq), row.prev_hash, row.hash, actor, canonical(row.message))


async def head_seq(conn: Connection) -> int:
    """The last row's seq (0 for an empty trail)."""
    return int(await conn.fetchval("SELECT coalesce(max(seq), 0) FROM audit_trail"))


async def pages(
    conn: Connection, rows: SeqRange, *, page_rows: int = PAGE_ROWS
) -> AsyncIterator[list[ExportRow]]:
    """The rows of `rows` in seq order, `page_rows` at a time (keyset pages on the primary key:
    each page is one short query, so nothing is held open between pages)."""
    after = rows.first - 1
    while after < rows.last:
        records = await conn.fetch(
            "SELECT seq, prev_hash, hash, message::text AS message FROM audit_trail "
            "WHERE seq > $1 AND seq <= $2 ORDER BY seq LIMIT $3",
            after,
            rows.last,
            page_rows,
        )
        if not records:
            return
        yield [
            ExportRow(r["seq"], r["prev_hash"], r["hash"], json.loads(r["message"]))
            for r in records
        ]
        after = records[-1]["seq"]
