"""A consumer of the test's own, as a service runs one: its database (the shared inbox and
outbox, and `effects` counting what its handler applied), and the consumer running with its
outbox (its dead letters, a re-drive) relayed to the broker on request."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import asyncpg
from aiokafka import AIOKafkaProducer

from shared.contracts import Envelope
from shared.db import Connection
from shared.inbox import Handler, InboxConsumer, InboxSettings
from shared.kafka_access import KafkaAccess
from shared.outbox import OutboxRelay
from tests.support.topics import producing


async def count_effect(conn: Connection, message: Envelope) -> None:
    """The effect under test: a counter per message that would show a double apply."""
    await conn.execute(
        "INSERT INTO effects VALUES ($1, 1) ON CONFLICT (correlation_id) "
        "DO UPDATE SET applied = effects.applied + 1",
        message.correlation_id,
    )


async def applied_effects(pool: asyncpg.Pool) -> dict[str, int]:
    """correlation id → how many times its message was applied."""
    rows = await pool.fetch("SELECT correlation_id, applied FROM effects")
    return {r["correlation_id"]: r["applied"] for r in rows}


@dataclass
class RunningConsumer:
    consumer: InboxConsumer
    producer: AIOKafkaProducer
    """Started: the test sends its (poison) messages with it; the relay publishes with it."""
    relay: OutboxRelay
    pool: asyncpg.Pool

    async def relay_outbox(self) -> None:
        """Publish everything the consumer's outbox holds, as its service's relay would."""
        async with self.pool.acquire() as conn:
            while await self.relay.publish_pending(conn):
                pass


@asynccontextmanager
async def running_consumer(
    pool: asyncpg.Pool,
    kafka: KafkaAccess,
    *,
    group_id: str,
    topic: str,
    handler: Handler,
    max_attempts: int,
) -> AsyncIterator[RunningConsumer]:
    """`handler` consuming `topic` in `group_id` (fast group timings, no backoff to speak of):
    a message that fails `max_attempts` times is parked; stopped and waited for afterwards."""
    consumer = InboxConsumer(
        pool=pool,
        kafka=kafka,
        settings=InboxSettings(
            group_id=group_id,
            topics=[topic],
            max_attempts=max_attempts,
            backoff_seconds=0.01,
            session_timeout_ms=3000,
            heartbeat_interval_ms=300,
            rebalance_timeout_ms=2000,
        ),
        handler=handler,
    )
    async with producing(kafka) as producer:
        stop = asyncio.Event()
        task = asyncio.create_task(consumer.run(stop))
        try:
            yield RunningConsumer(consumer, producer, OutboxRelay("unused", producer), pool)
        finally:
            stop.set()
            await task
