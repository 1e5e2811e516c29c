"""Dead letters and the outbox log, read and re-driven straight from the service databases.

Every parked message is a `DeadLettered` row in the outbox of the service that could
not apply it, so listing needs no broker. Re-driving is `shared.dlq.redrive` (the console's
too): the original bytes back on the original topic through the outbox of a service the broker lets
write it (the topic's owner, `shared.contracts.access.redriver_of`), marked
`redriven_from`, so its inbox applies it once (a second re-drive finds it applied and is
skipped), and refused once the message was re-driven `limit` times.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from cryptoorch import runtime_info
from shared.clock import utc_now
from shared.contracts import decode
from shared.contracts.access import redriver_of
from shared.contracts.deadletter import DeadLettered
from shared.db import connect
from shared.dlq import DEFAULT_MAX_REDRIVES
from shared.dlq import redrive as redrive_once
from shared.outbox import republish_all


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


async def redrive(service: str, dead_letter_id: str, *, limit: int = DEFAULT_MAX_REDRIVES) -> bool:
    """Put one parked message back on its topic for `service`; False if it is not parked there.
    Sent (and counted) through the outbox of a service the broker lets write that topic
    (`shared.contracts.access.redriver_of`): the topic's owner, not the consumer that parked
    it. `shared.dlq.RedriveRefused` once the message was re-driven `limit` times."""
    conn = await _connect(service)
    try:
        row = await conn.fetchrow(
            "SELECT value FROM outbox WHERE event_id = $1 AND topic LIKE '%.dlq'",
            uuid.UUID(dead_letter_id),
        )
    finally:
        await conn.close()
    if row is None:
        return False
    body = decode(bytes(row["value"])).body(DeadLettered)
    conn = await _connect(redriver_of(body.original_topic, service))
    try:
        await redrive_once(
            conn, dead_letter_id, body, limit=limit, redriven_by="cli", now=utc_now()
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
