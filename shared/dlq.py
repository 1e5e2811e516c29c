"""Dead letters: read them (secrets redacted) and re-drive one, with a limit on how often.

One implementation for `cryptoorch dlq redrive` and the console's Dead letters view. A re-drive
is the original bytes, key and headers put back on the original topic through an outbox (the
caller's: the parking service's for the CLI, the gateway's own for the console), with two more
headers: `redriven_from` (the dead letter's event id) and `redrive_count`. The inbox applies a
message carrying `redriven_from` whose event it had dead-lettered (once: the mark becomes
`applied`, so a second re-drive is a duplicate); every other consumer group already applied it
and skips it. The number of re-drives of one message (its original topic and event id) is
counted in `dead_letter_redrives` of that same database, in the transaction that enqueues it:
past `limit` the re-drive is refused (`RedriveRefused`) and nothing is sent.

Reading: a short-lived consumer with no group (it joins nothing and commits nothing) reads the
`.dlq` topics from the broker. Their partitions are asked of the broker each time (an admin
client's topic metadata): a consumer that subscribed to nothing knows no topic's partitions (its
first metadata request asks for no topic; Tansu answered it with all of them, Kafka does not).
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaConsumer
from pydantic import BaseModel, ConfigDict, Field

from shared.contracts.deadletter import DeadLettered
from shared.contracts.envelope import UndecodableMessage, decode
from shared.db import Connection
from shared.ids import derived_id
from shared.kafka import topic_partitions
from shared.kafka_access import KafkaAccess
from shared.outbox import enqueue_raw
from shared.redact import redact

REDRIVEN_FROM = "redriven_from"
"""Header of a re-driven message: the event id of the dead letter it came from."""
REDRIVE_COUNT = "redrive_count"
"""Header of a re-driven message: how many times the message has been re-driven, this one
included."""
DEFAULT_MAX_REDRIVES = 3
READ_SECONDS = 10.0
SHOWN_CHARS = 4000


class RedriveRefused(Exception):
    """The message was re-driven `limit` times already: nothing was sent."""


class DeadLetter(BaseModel):
    """A parked message as an operator sees it: where it sits, who parked it and why, and the
    original message with every secret replaced by "[REDACTED]". A pydantic model, so the
    console's view is this model plus its re-drive count (`body` is never serialized)."""

    model_config = ConfigDict(frozen=True)

    topic: str
    partition: int
    offset: int
    id: str
    parked_at: datetime
    consumer: str
    error: str
    attempts: int
    original_topic: str
    original_event_id: str
    original_key: str
    original_message: Any
    original_headers: dict[str, str]
    body: DeadLettered = Field(exclude=True)
    """Unredacted: what a re-drive sends. Never shown."""


def dead_letter_of(
    topic: str, partition: int, offset: int, timestamp_ms: int, value: bytes
) -> DeadLetter | None:
    """The dead letter in a `.dlq` record; None if the record is not one."""
    try:
        envelope = decode(value)
        body = envelope.body(DeadLettered)
    except (UndecodableMessage, ValueError, TypeError):
        return None
    return DeadLetter(
        topic=topic,
        partition=partition,
        offset=offset,
        id=str(envelope.event_id),
        parked_at=datetime.fromtimestamp(timestamp_ms / 1000, UTC),
        consumer=body.consumer,
        error=body.error,
        attempts=body.attempts,
        original_topic=body.original_topic,
        original_event_id=original_event_id(str(envelope.event_id), body),
        original_key=body.original_key,
        original_message=shown_message(body.original_value()),
        original_headers=redact(body.original_headers),
        body=body,
    )


def original_event_id(dead_letter_id: str, body: DeadLettered) -> str:
    return body.original_event_id or dead_letter_id


def shown_message(value: bytes) -> Any:
    """The original message as JSON with its secrets redacted; its text (cut) if it is not JSON."""
    try:
        return redact(json.loads(value))
    except (ValueError, RecursionError):
        return redact(value.decode(errors="replace")[:SHOWN_CHARS])


@dataclass(frozen=True)
class Redrive:
    event_id: uuid.UUID
    topic: str
    key: str
    value: bytes
    headers: dict[str, str]


def redrive_message(dead_letter_id: str, body: DeadLettered, count: int) -> Redrive:
    """What re-driving a dead letter for the `count`th time sends (pure)."""
    return Redrive(
        event_id=derived_id("redrive", dead_letter_id, count),
        topic=body.original_topic,
        key=body.original_key,
        value=body.original_value(),
        headers={
            **body.original_headers,
            REDRIVEN_FROM: dead_letter_id,
            REDRIVE_COUNT: str(count),
        },
    )


async def redrive(
    conn: Connection,
    dead_letter_id: str,
    body: DeadLettered,
    *,
    limit: int,
    redriven_by: str,
    now: datetime,
) -> int:
    """Count one more re-drive of the message and enqueue it, in one transaction; the count.
    `RedriveRefused` (nothing counted, nothing sent) once it was re-driven `limit` times."""
    async with conn.transaction():
        count = await conn.fetchval(
            "INSERT INTO dead_letter_redrives "
            "(original_topic, original_event_id, redrives, last_redriven_at, last_redriven_by) "
            "VALUES ($1, $2, 1, $4, $5) "
            "ON CONFLICT (original_topic, original_event_id) DO UPDATE SET "
            "redrives = dead_letter_redrives.redrives + 1, "
            "last_redriven_at = EXCLUDED.last_redriven_at, "
            "last_redriven_by = EXCLUDED.last_redriven_by "
            "WHERE dead_letter_redrives.redrives < $3 RETURNING redrives",
            body.original_topic,
            original_event_id(dead_letter_id, body),
            limit,
            now,
            redriven_by,
        )
        if count is None:
            raise RedriveRefused(
                f"{body.original_topic} {original_event_id(dead_letter_id, body)} was "
                f"re-driven {limit} times already"
            )
        message = redrive_message(dead_letter_id, body, count)
        await enqueue_raw(
            conn,
            event_id=message.event_id,
            topic=message.topic,
            key=message.key,
            value=message.value,
            headers=message.headers,
        )
    return int(count)


async def redrive_counts(
    conn: Connection, keys: list[tuple[str, str]]
) -> dict[tuple[str, str], int]:
    """How many times each (original topic, original event id) was re-driven (absent: never)."""
    if not keys:
        return {}
    rows = await conn.fetch(
        "SELECT original_topic, original_event_id, redrives FROM dead_letter_redrives "
        "WHERE (original_topic, original_event_id) IN "
        "(SELECT * FROM unnest($1::text[], $2::text[]))",
        [topic for topic, _ in keys],
        [event_id for _, event_id in keys],
    )
    return {(r["original_topic"], r["original_event_id"]): r["redrives"] for r in rows}


async def read_dead_letters(
    access: KafkaAccess, topics: list[str], *, newest: int = 200
) -> list[DeadLetter]:
    """The newest `newest` dead letters of each partition of `topics` (oldest first), read by a
    consumer that belongs to no group. A topic that does not exist has none."""
    partitions = await topic_partitions(access, topics)
    if not partitions:
        return []
    consumer = AIOKafkaConsumer(
        **access.client_options(),
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        starts = await consumer.beginning_offsets(partitions)
        ends = await consumer.end_offsets(partitions)
        wanted = {
            tp: max(starts[tp], ends[tp] - newest) for tp in partitions if ends[tp] > starts[tp]
        }
        if not wanted:
            return []
        consumer.assign(list(wanted))
        for tp, offset in wanted.items():
            consumer.seek(tp, offset)
        letters: list[DeadLetter] = []
        left = set(wanted)
        deadline = time.monotonic() + READ_SECONDS
        while left and time.monotonic() < deadline:
            batch = await consumer.getmany(*left, timeout_ms=500)
            for tp, records in batch.items():
                for record in records:
                    letter = dead_letter_of(
                        record.topic,
                        record.partition,
                        record.offset,
                        record.timestamp,
                        record.value or b"",
                    )
                    if letter is not None:
                        letters.append(letter)
                    if record.offset + 1 >= ends[tp]:
                        left.discard(tp)
                        consumer.pause(tp)
            await asyncio.sleep(0)
        if left:
            raise TimeoutError(f"the dead letters of {sorted(str(tp) for tp in left)} not read")
        return sorted(letters, key=lambda d: (d.topic, d.partition, d.offset))
    finally:
        await consumer.stop()
