"""The inbox table's SQL: which event ids a consumer has seen, and how each ended.

A row per event id, written in the transaction that applies (or dead-letters) the message,
so "seen" and "done" can never disagree. `outcome` is `applied` or `dead_lettered`; a
re-driven dead letter that is applied becomes `applied`.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from shared.db import Connection

_RECORD_APPLIED = (
    'INSERT INTO inbox (event_id, topic, partition, "offset", outcome) '
    "SELECT event_id, topic, partition, \"offset\", 'applied' "
    "FROM unnest($1::uuid[], $2::text[], $3::int[], $4::bigint[]) "
    'AS batch (event_id, topic, partition, "offset") '
    "ON CONFLICT (event_id) DO UPDATE SET "
    "outcome = 'applied', topic = EXCLUDED.topic, partition = EXCLUDED.partition, "
    '"offset" = EXCLUDED."offset", processed_at = now() '
    "WHERE inbox.outcome = 'dead_lettered'"
)


@dataclass(frozen=True)
class Consumed:
    """A message's event id and where it was read."""

    event_id: uuid.UUID
    topic: str
    partition: int
    offset: int


async def outcomes(conn: Connection, event_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, str]:
    """The outcome of each of `event_ids` this inbox has seen (unseen ones are absent)."""
    rows = await conn.fetch(
        "SELECT event_id, outcome FROM inbox WHERE event_id = ANY($1::uuid[])", event_ids
    )
    return {r["event_id"]: r["outcome"] for r in rows}


async def record_applied(conn: Connection, batch: Sequence[Consumed]) -> None:
    """The batch's event ids, in one statement (a re-driven dead letter becomes `applied`)."""
    await conn.execute(
        _RECORD_APPLIED,
        [c.event_id for c in batch],
        [c.topic for c in batch],
        [c.partition for c in batch],
        [c.offset for c in batch],
    )


async def record_dead_lettered(conn: Connection, parked: Consumed, *, redriven: bool) -> bool:
    """Mark the message dead-lettered; True when its dead letter is to be written now.

    False for a message already parked, unless it is a re-drive that failed again (its mark
    still reads `dead_lettered`): that one is parked again, as a new dead letter."""
    conflict = (
        "DO UPDATE SET outcome = 'dead_lettered' WHERE inbox.outcome = 'dead_lettered'"
        if redriven
        else "DO NOTHING"
    )
    inserted = await conn.fetchval(
        'INSERT INTO inbox (event_id, topic, partition, "offset", outcome) '
        f"VALUES ($1, $2, $3, $4, 'dead_lettered') ON CONFLICT (event_id) {conflict} "
        "RETURNING 1",
        parked.event_id,
        parked.topic,
        parked.partition,
        parked.offset,
    )
    return bool(inserted)
