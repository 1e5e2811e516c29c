"""Raw limits of this machine, and what the outbox relay and the inbox get out of them."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import asyncpg
from aiokafka import AIOKafkaConsumer

from benchmarks.harness import Report, stopwatch
from shared.clock import utc_now
from shared.contracts import Envelope, encode, new_message
from shared.contracts.wallet import RecordDeposit
from shared.db import Connection, create_pool, ensure_database
from shared.inbox import InboxConsumer, InboxSettings
from shared.kafka import ensure_topics, make_producer
from shared.kafka_access import KafkaAccess
from shared.migrate import migrate
from shared.outbox import OutboxRelay, enqueue


def _message(i: int) -> Envelope:
    return new_message(
        RecordDeposit(deposit_id=f"d{i}", asset="USDT", amount="10.5", reference=f"r{i}"),
        producer="bench",
        account_id=f"acc-{i % 64}",
        correlation_id=f"d{i}",
        now=utc_now(),
    )


async def raw_postgres(url: str, report: Report, commits: int, rows: int) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(
            "CREATE TABLE raw (id BIGSERIAL PRIMARY KEY, account TEXT, amount NUMERIC(38,18))"
        )
        with stopwatch() as t:
            for i in range(commits):
                await conn.execute("INSERT INTO raw (account, amount) VALUES ($1, $2)", f"a{i}", 1)
        report.add("pg_commit", "PostgreSQL single-row commits", commits, t[0], "commits/s")
        data = [(f"a{i}", i) for i in range(rows)]
        with stopwatch() as t:
            async with conn.transaction():
                await conn.executemany("INSERT INTO raw (account, amount) VALUES ($1, $2)", data)
        report.add("pg_batch", "PostgreSQL batched insert (one transaction)", rows, t[0], "rows/s")
        with stopwatch() as t:
            await conn.copy_records_to_table("raw", records=data, columns=["account", "amount"])
        report.add("pg_copy", "PostgreSQL COPY", rows, t[0], "rows/s")
    finally:
        await conn.close()


async def raw_broker(bootstrap: str, report: Report, count: int) -> None:
    topic = f"bench.raw.{uuid.uuid4().hex[:6]}"
    await ensure_topics(KafkaAccess(bootstrap), [topic])
    value = encode(_message(0))
    producer = make_producer(KafkaAccess(bootstrap))
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, group_id=topic, auto_offset_reset="earliest"
    )
    await producer.start()
    await consumer.start()
    try:
        with stopwatch() as t:
            futures = [
                await producer.send(topic, value, key=f"acc-{i % 64}".encode())
                for i in range(count)
            ]
            await asyncio.gather(*futures)
            seen = 0
            while seen < count:
                batch = await consumer.getmany(timeout_ms=1000, max_records=5000)
                seen += sum(len(b) for b in batch.values())
        report.add("broker", "broker produce + consume (acks=all)", count, t[0], "msgs/s")
    finally:
        await producer.stop()
        await consumer.stop()


async def relay_and_inbox(
    url: str, bootstrap: str, report: Report, count: int, folder: Path
) -> None:
    await migrate(url, folder)
    pool = await create_pool(url, size=4)
    producer = make_producer(KafkaAccess(bootstrap))
    await producer.start()
    try:
        async with pool.acquire() as conn:
            for start in range(0, count, 500):
                async with conn.transaction():
                    await enqueue(
                        conn, *(_message(i) for i in range(start, min(start + 500, count)))
                    )
        relay = OutboxRelay(url, producer)
        with stopwatch() as t:
            async with pool.acquire() as conn:
                while await relay.publish_pending(conn):
                    pass
        report.add("relay", "outbox relay: rows → broker", count, t[0], "msgs/s", baseline="broker")

        async def apply(conn: Connection, message: Envelope) -> None:
            await conn.execute(
                "INSERT INTO effects (id, amount) VALUES ($1, $2)",
                message.correlation_id,
                message.body(RecordDeposit).amount,
            )

        consumer = InboxConsumer(
            pool=pool,
            kafka=KafkaAccess(bootstrap),
            settings=InboxSettings(
                group_id="bench-inbox", topics=["wallet.commands.v1"], batch_size=500
            ),
            handler=apply,
        )
        stop = asyncio.Event()
        task = asyncio.create_task(consumer.run(stop))
        while consumer.stats.applied == 0:  # exclude the group join from the figure
            await asyncio.sleep(0.01)
        with stopwatch() as t:
            while consumer.stats.applied < count:
                await asyncio.sleep(0.01)
        stop.set()
        await task
        report.add(
            "inbox",
            "inbox: messages applied (effect + inbox row, batched)",
            count - 1,
            t[0],
            "msgs/s",
            baseline="pg_batch",
        )
    finally:
        await producer.stop()
        await pool.close()


async def run(server_url: str, bootstrap: str, report: Report, scratch: Path, scale: float) -> None:
    url = await ensure_database(server_url, "bench_foundation")
    await raw_postgres(url, report, commits=int(2000 * scale), rows=int(50_000 * scale))
    await raw_broker(bootstrap, report, count=int(50_000 * scale))
    (scratch / "0001_effects.sql").write_text(
        "CREATE TABLE effects (id TEXT PRIMARY KEY, amount NUMERIC(38,18))"
    )
    await ensure_topics(KafkaAccess(bootstrap))
    await relay_and_inbox(url, bootstrap, report, int(20_000 * scale), scratch)
