"""Verify the audit trail from genesis in one read-only, repeatable-read snapshot: every link,
every copied column, every checkpoint given. `cryptoorch audit verify` (checkpoints from the
file kept outside the database) and the console's `POST /v1/admin/audit/verify` (checkpoints
from the trail's own insert-only `audit_checkpoints`) run the same fold over the same rows.

The rows are streamed in `seq` order through a cursor, a chunk at a time, so memory stays flat
over millions of rows and appends that continue meanwhile do not confuse the check. Each row
goes through `ChainFold.feed_stored` (the common case without building an object per row; any
doubt goes to the exact check), with the cycle collector paused: about 100,000 rows/s.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import uuid
from collections.abc import AsyncGenerator, Callable, Iterator
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

import asyncpg

from shared.audit_chain.fold import ChainFold, Checkpoint, Finding, Problem
from shared.audit_chain.rows import TrailRow, stored_row
from shared.db import Connection

Progress = Callable[[int], None]
PROGRESS_EVERY = 10_000


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


_STORED_SELECT = (
    "SELECT seq, prev_hash, hash, message::text, event_id::text, topic, type, version, "
    "occurred_at, producer, account_id, correlation_id, causation_id::text "
    "FROM audit_trail ORDER BY seq"
)
"""Rows as `ChainFold.feed_stored` takes them: the ids as text, compared with the message's."""


async def stored_chunks(
    conn: Connection, *, size: int = 5000
) -> AsyncGenerator[list[asyncpg.Record], None]:
    """Every row in seq order, `size` at a time, through a server-side cursor (call inside a
    transaction; close with `aclosing`). The next chunk is asked for before this one is handed
    out, so PostgreSQL reads it while the caller checks this one."""
    cursor = await conn.cursor(_STORED_SELECT)
    ahead = asyncio.ensure_future(cursor.fetch(size))
    try:
        while chunk := await ahead:
            ahead = asyncio.ensure_future(cursor.fetch(size))
            await asyncio.sleep(0)  # the request leaves now
            yield chunk
    finally:
        if not ahead.done():
            with contextlib.suppress(Exception):
                await ahead  # the connection is free again for whatever the caller does next


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
    feed = fold.feed_stored
    finding: Finding | None = None
    bad_row: TrailRow | None = None
    reported = 0
    with _collector_paused():
        async with contextlib.aclosing(stored_chunks(conn)) as chunks:
            async for chunk in chunks:
                for stored in chunk:
                    finding = feed(stored)
                    if finding is not None:
                        bad_row = stored_row(stored)
                        break
                if finding is not None:
                    break
                if on_progress is not None and fold.rows_checked >= reported + PROGRESS_EVERY:
                    reported = fold.rows_checked
                    on_progress(reported)
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


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """The fold makes no reference cycles (everything it reads is freed as it goes), so the
    cycle collector would only walk each chunk's records again and again: a tenth of the CPU
    of a verify (measured). Paused while it runs."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


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
