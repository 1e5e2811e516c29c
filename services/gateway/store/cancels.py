"""Cancel requests admitted per account: the cancel cap's sliding window."""

from __future__ import annotations

from datetime import datetime

from shared.db import Connection


async def lock_account(conn: Connection, user_id: str) -> None:
    """Serialise the account's cancel admissions until the transaction ends (any instance)."""
    await conn.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", "cancels:" + user_id
    )


async def admitted_since(
    conn: Connection, user_id: str, since: datetime
) -> tuple[int, datetime | None]:
    """How many cancels of `user_id` were admitted after `since`, and the oldest of them."""
    row = await conn.fetchrow(
        "SELECT count(*) AS n, min(requested_at) AS oldest FROM cancel_requests "
        "WHERE user_id = $1 AND requested_at > $2",
        user_id,
        since,
    )
    assert row is not None
    return int(row["n"]), row["oldest"]


async def record(conn: Connection, user_id: str, at: datetime) -> None:
    await conn.execute(
        "INSERT INTO cancel_requests (user_id, requested_at) VALUES ($1, $2)", user_id, at
    )


async def purge(conn: Connection, before: datetime) -> int:
    status = await conn.execute("DELETE FROM cancel_requests WHERE requested_at < $1", before)
    return int(status.split()[-1])
