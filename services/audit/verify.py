"""Re-verify the whole trail: every link, every copied column, every checkpoint of the file kept
outside the database (the fold and the snapshot are `shared.audit_verify`, which the console's
verification runs too)."""

from __future__ import annotations

from pathlib import Path

from services.audit import store
from services.audit.chain import Problem
from services.audit.checkpoints import read_checkpoints
from services.audit.errors import CheckpointFileInvalid
from shared.audit_verify import PROGRESS_EVERY, Progress, VerifyResult, verify_trail
from shared.db import Connection

__all__ = ["PROGRESS_EVERY", "VerifyResult", "trail_length", "verify_chain"]


async def verify_chain(
    conn: Connection, checkpoint_file: Path | None, *, on_progress: Progress | None = None
) -> VerifyResult:
    """Check the trail from genesis; stop at the first wrong row and say what is wrong with it."""
    database = str(await conn.fetchval("SELECT current_database()"))
    try:
        checkpoints = read_checkpoints(checkpoint_file, database) if checkpoint_file else []
    except CheckpointFileInvalid as exc:
        return VerifyResult(False, 0, 0, 0, "", None, Problem.CHECKPOINT_FILE_INVALID, str(exc))
    return await verify_trail(conn, checkpoints, on_progress=on_progress)


async def trail_length(conn: Connection) -> int:
    """The highest seq: the total a progress bar counts to."""
    return await store.last_seq(conn)
