"""Verify the audit trail from genesis in one read-only, repeatable-read snapshot: every link,
every copied column, every checkpoint given. `cryptoorch audit verify` (checkpoints from the
file kept outside the database) and the console's `POST /v1/admin/audit/verify` (checkpoints
from the trail's own insert-only `audit_checkpoints`) run the same fold over the same rows.

The rows are streamed in `seq` order through a cursor, so memory stays flat over millions of
rows and appends that continue meanwhile do not confuse the check.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from shared.audit_chain import COLUMNS, ChainFold, Checkpoint, Finding, Problem, TrailRow
from shared.db import Connection

Progress = Callable[[int], None]
PROGRESS_EVERY = 10_000
ROW_SELECT = (
    f"SELECT seq, prev_hash, hash, message::text AS message, {', '.join(COLUMNS)} FROM audit_trail"
)


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    rows_checked: int
    checkpoints_checked: int
    last_seq: int
    last_hash: str
    first_bad_seq: int | None = None
    problem: Problem | None = None
    detail: str | None = None
    bad_row: dict[str, Any] | None = None
    """The row at (or, for a gap, just after) `first_bad_seq`, for the operator to look at."""

    def as_dict(self) -> dict[str, Any]:
        return {
            k: (str(v) if k == "problem" and v is not None else v) for k, v in asdict(self).items()
        }


async def iter_rows(conn: Connection, *, prefetch: int = 5000) -> AsyncIterator[TrailRow]:
    """Every row in seq order through a server-side cursor (call inside a transaction)."""
    async for record in conn.cursor(f"{ROW_SELECT} ORDER BY seq", prefetch=prefetch):
        message = record["message"]
        yield TrailRow(
            seq=record["seq"],
            prev_hash=record["prev_hash"],
            hash=record["hash"],
            message=json.loads(message) if isinstance(message, str) else message,
            columns={name: record[name] for name in COLUMNS},
        )


async def stored_checkpoints(conn: Connection) -> list[Checkpoint]:
    """The checkpoints the audit service wrote into the trail's database."""
    rows = await conn.fetch("SELECT seq, hash, taken_at FROM audit_checkpoints ORDER BY seq")
    return [Checkpoint(r["seq"], r["hash"], r["taken_at"].isoformat()) for r in rows]


async def verify_trail(
    conn: Connection,
    checkpoints: list[Checkpoint] | None = None,
    *,
    on_progress: Progress | None = None,
) -> VerifyResult:
    """Check the trail from genesis against `checkpoints` (None: the stored ones, read in the
    same snapshot); stop at the first wrong row and say what is wrong with it."""
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        if checkpoints is None:
            checkpoints = await stored_checkpoints(conn)
        return await _verify_snapshot(conn, checkpoints, on_progress)


async def _verify_snapshot(
    conn: Connection, checkpoints: list[Checkpoint], on_progress: Progress | None
) -> VerifyResult:
    fold = ChainFold(checkpoints)
    finding: Finding | None = None
    bad_row: TrailRow | None = None
    async for row in iter_rows(conn):
        finding = fold.feed(row)
        if finding is not None:
            bad_row = row
            break
        if on_progress is not None and fold.rows_checked % PROGRESS_EVERY == 0:
            on_progress(fold.rows_checked)
    if on_progress is not None:
        on_progress(fold.rows_checked)
    if finding is None:
        finding = fold.finish()
    return VerifyResult(
        ok=finding is None,
        rows_checked=fold.rows_checked,
        checkpoints_checked=fold.checkpoints_checked,
        last_seq=fold.last_seq,
        last_hash=fold.last_hash,
        first_bad_seq=finding.seq if finding else None,
        problem=finding.problem if finding else None,
        detail=finding.detail if finding else None,
        bad_row=_describe(bad_row) if bad_row is not None else None,
    )


def _describe(row: TrailRow) -> dict[str, Any]:
    return {
        "seq": row.seq,
        **{k: _plain(v) for k, v in row.columns.items()},
        "prev_hash": row.prev_hash,
        "hash": row.hash,
    }


def _plain(value: object) -> object:
    """A JSON-ready column value."""
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value) if isinstance(value, uuid.UUID) else value
