"""Where `cryptoorch replay ledger` reads the event log: the broker's topics from the first
offset, or the producers' outbox logs (every row, published or not) when the broker was
restarted empty. Both read the raw records only; decoding is `services.ledger.replay_wire`.
"""

from __future__ import annotations

import time
from enum import StrEnum

import asyncpg
from aiokafka import AIOKafkaConsumer
from rich.progress import Progress

from cryptoorch import runtime_info
from cryptoorch.exits import CannotCheck
from shared.copy_stream import copy_column
from shared.db import connect
from shared.kafka import topic_partitions
from shared.kafka_access import KafkaAccess

OUTBOX_PRODUCERS = ("gateway", "safety", "execution", "ledger")
"""Whose outboxes hold what the ledger consumes (the ledger's own: re-driven dead letters)."""
STALL_SECONDS = 30.0
BATCH_RECORDS = 50_000
"""Records read from the broker at a time."""
FETCH_BYTES = 64 * 1024 * 1024


class Source(StrEnum):
    BROKER = "broker"
    OUTBOX = "outbox"


async def read_topics(access: KafkaAccess, topics: list[str], progress: Progress) -> list[bytes]:
    """Every record now on `topics`, from the first offset, without joining a consumer group.

    Done when every partition is past the end offset the broker reported and a poll brings
    nothing more. Offsets reset to the earliest: with the default (latest), assign() can race
    seek_to_beginning() and skip the first records."""
    consumer = AIOKafkaConsumer(
        **access.client_options(),
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        fetch_max_bytes=FETCH_BYTES,
        max_partition_fetch_bytes=FETCH_BYTES // 4,
    )
    await consumer.start()
    try:
        partitions = await topic_partitions(access, topics)
        if not partitions:
            return []
        consumer.assign(partitions)
        starts = await consumer.beginning_offsets(partitions)
        ends = await consumer.end_offsets(partitions)
        await consumer.seek_to_beginning(*partitions)
        total = sum(ends[tp] - starts[tp] for tp in partitions)
        task = progress.add_task("reading the broker", total=total)
        values: list[bytes] = []
        last_delivery = time.monotonic()
        while True:
            batch = await consumer.getmany(timeout_ms=500, max_records=BATCH_RECORDS)
            for records in batch.values():
                values += [r.value or b"" for r in records]
            progress.update(task, completed=len(values), total=max(total, len(values)))
            behind = [str(tp) for tp in partitions if await consumer.position(tp) < ends[tp]]
            if batch:
                last_delivery = time.monotonic()
            elif not behind:
                return values
            elif time.monotonic() - last_delivery > STALL_SECONDS:
                raise CannotCheck(f"the broker stopped delivering {behind}")
    finally:
        await consumer.stop()


async def read_outboxes(topics: list[str], progress: Progress) -> list[bytes]:
    """Every row on `topics` in the producers' outbox logs, published or not, streamed out with
    binary COPY (`shared.copy_stream`)."""
    task = progress.add_task("reading the outboxes", total=None)
    values: list[bytes] = []
    query = "SELECT value FROM outbox WHERE topic = ANY($1::text[]) ORDER BY id"
    for service in OUTBOX_PRODUCERS:
        try:
            conn = await connect(runtime_info.service_database_url(service))
        except asyncpg.InvalidCatalogNameError:
            raise CannotCheck(f"no {service} database: its outbox cannot be read") from None

        def keep(rows: list[bytes]) -> None:
            values.extend(rows)
            progress.advance(task, len(rows))

        try:
            await copy_column(conn, query, keep, topics)
        finally:
            await conn.close()
    return values
