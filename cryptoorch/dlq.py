"""Dead letters and the outbox log, read and re-driven straight from the service databases.

Every parked message is a `DeadLettered` row in the outbox of the service that could
not apply it, so listing needs no broker. Re-driving puts the original bytes back on
the original topic through the same outbox, after removing the `dead_lettered` mark
from that service's inbox, so the service applies it once (a second re-drive finds it
applied and is skipped).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from cryptoorch import runtime_info
from shared.contracts import decode
from shared.contracts.deadletter import DeadLettered
from shared.db import connect
from shared.ids import derived_id
from shared.outbox import enqueue_raw, republish_all


@dataclass(frozen=True)
class Parked:
    service: str
    id: str
    original_topic: str
    original_event_id: str | None
    error: str
    attempts: int
    parked_at: datetime
    redriven: bool

    def as_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "parked_at": self.parked_at.isoformat()}


async def _connect(service: str) -> asyncpg.Connection:
    """With the JSON codecs the outbox's `headers` column needs."""
    return await connect(runtime_info.service_database_url(service))


async def list_parked(services: tuple[str, ...] = runtime_info.SERVICES) -> list[Parked]:
    parked: list[Parked] = []
    for service in services:
        conn = await _connect(service)
        try:
            rows = await conn.fetch(
                "SELECT o.event_id, o.value, o.created_at, i.outcome FROM outbox o "
                "LEFT JOIN inbox i ON i.event_id = "
                "  (convert_from(o.value, 'UTF8')::jsonb #>> '{payload,original_event_id}')::uuid "
                "WHERE o.topic LIKE '%.dlq' ORDER BY o.id"
            )
        finally:
            await conn.close()
        for row in rows:
            body = decode(bytes(row["value"])).body(DeadLettered)
            parked.append(
                Parked(
                    service=service,
                    id=str(row["event_id"]),
                    original_topic=body.original_topic,
                    original_event_id=body.original_event_id,
                    error=body.error,
                    attempts=body.attempts,
                    parked_at=row["created_at"],
                    redriven=row["outcome"] != "dead_lettered",
                )
            )
    return parked


async def redrive(service: str, dead_letter_id: str) -> bool:
    """Put one parked message back on its topic for `service`; False if it is not parked there."""
    conn = await _connect(service)
    try:
        async with conn.transaction():
            row = await conn.fetchrow(
                "SELECT value FROM outbox WHERE event_id = $1 AND topic LIKE '%.dlq'",
                uuid.UUID(dead_letter_id),
            )
            if row is None:
                return False
            body = decode(bytes(row["value"])).body(DeadLettered)
            if body.original_event_id is not None:
                await conn.execute(
                    "DELETE FROM inbox WHERE event_id = $1 AND outcome = 'dead_lettered'",
                    uuid.UUID(body.original_event_id),
                )
            await enqueue_raw(
                conn,
                event_id=derived_id("redrive", dead_letter_id, uuid.uuid4()),
                topic=body.original_topic,
                key=body.original_key,
                value=body.original_value(),
                headers={**body.original_headers, "redriven_from": dead_letter_id},
            )
        return True
    finally:
        await conn.close()


async def republish(service: str, since: datetime | None) -> int:
    """Mark the service's outbox rows (since a time) unpublished: its relay sends them again.

    For a broker that lost its log (the embedded one keeps nothing across a restart).
    Consumers' inboxes drop what they already applied.
    """
    conn = await _connect(service)
    try:
        return await republish_all(conn, since)
    finally:
        await conn.close()
