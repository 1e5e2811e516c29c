"""The audit chain's verifications run from the console, newest last."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from shared.db import Connection


@dataclass(frozen=True)
class Verification:
    verified_at: datetime
    verified_by: str
    ok: bool
    rows_checked: int
    checkpoints_checked: int
    last_seq: int
    first_bad_seq: int | None
    problem: str | None
    detail: str | None


async def record(conn: Connection, found: Verification) -> None:
    await conn.execute(
        "INSERT INTO audit_verifications (verified_at, verified_by, ok, rows_checked, "
        "checkpoints_checked, last_seq, first_bad_seq, problem, detail) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        found.verified_at,
        found.verified_by,
        found.ok,
        found.rows_checked,
        found.checkpoints_checked,
        found.last_seq,
        found.first_bad_seq,
        found.problem,
        found.detail,
    )


async def last(conn: Connection) -> Verification | None:
    row = await conn.fetchrow(
        "SELECT verified_at, verified_by, ok, rows_checked, checkpoints_checked, last_seq, "
        "first_bad_seq, problem, detail FROM audit_verifications "
        "ORDER BY verification_id DESC LIMIT 1"
    )
    return Verification(**dict(row)) if row is not None else None
