"""The outbox and inbox against the real broker and PostgreSQL: nothing lost, nothing doubled."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import asyncpg
import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import OutOfOrderSequenceNumber

from shared.clock import utc_now
from shared.contracts import Envelope, decode, encode, new_message
from shared.contracts.deadletter import DeadLettered
from shared.contracts.envelope import TYPE_HEADER
from shared.contracts.orders import CancelOrder
from shared.contracts.wallet import RecordDeposit
from shared.db import Connection, create_pool, drop_database, ensure_database
from shared.inbox import Handler, InboxConsumer, InboxSettings
from shared.infra.resolve import Infrastructure
from shared.kafka import ensure_topics, make_producer, producer_stopped
from shared.kafka_access import KafkaAccess
from shared.migrate import migrate
from shared.outbox import OutboxRelay, enqueue, enqueue_raw, republish_all
from tests.support.effects import applied_effects, count_effect
from tests.support.topics import publish_raw, read_topic
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration


class RelayCrashed(Exception):
    pass


@pytest.fixture
async def database(infra: Infrastructure, tmp_path: Path) -> AsyncIterator[str]:
    name = "t" + uuid.uuid4().hex[:12]
    url = await ensure_database(infra.database_url, name)
    (tmp_path / "0001_effects.sql").write_text(
        "CREATE TABLE effects (correlation_id TEXT PRIMARY KEY, applied INT NOT NULL)"
    )
    await migrate(url, tmp_path)
    yield url
    await drop_database(infra.database_url, name)


@pytest.fixture
async def pool(database: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(database, size=5)
    yield pool
    await pool.close()


@pytest.fixture
async def topic(infra: Infrastructure) -> str:
    name = f"test.{uuid.uuid4().hex[:8]}.v1"
    await ensure_topics(infra.kafka_access, [name, name + ".dlq"])
    return name


def deposit(reference: str) -> Envelope:
    return new_message(
        RecordDeposit(deposit_id=reference, asset="USDT", amount="10", reference=reference),
        producer="test",
        account_id="acc-1",
        correlation_id=reference,
        now=utc_now(),
    )


def consumer_for(
    infra: Infrastructure,
    pool: asyncpg.Pool,
    topic: str,
    group: str,
    handler: Handler = count_effect,
    max_attempts: int = 3,
    acts_on: frozenset[str] | None = None,
) -> InboxConsumer:
    return InboxConsumer(
        pool=pool,
        kafka=infra.kafka_access,
        settings=InboxSettings(
            group_id=group,
            topics=[topic],
            max_attempts=max_attempts,
            backoff_seconds=0.01,
            session_timeout_ms=3000,
            heartbeat_interval_ms=300,
            rebalance_timeout_ms=2000,
            acts_on=acts_on,
        ),
        handler=handler,
    )


async def run_until(consumer: InboxConsumer, condition: object, what: str) -> None:
    stop = asyncio.Event()
    task = asyncio.create_task(consumer.run(stop))
    try:
        await eventually(condition, what=what)  # type: ignore[arg-type]
    finally:
        stop.set()
        await task


async def test_rolled_back_transaction_leaves_no_outbox_row_and_publishes_nothing(
    infra: Infrastructure, pool: asyncpg.Pool
) -> None:
    message = deposit("rolled-back")
    with pytest.raises(RuntimeError):
        async with pool.acquire() as conn, conn.transaction():
            await enqueue(conn, message)
            raise RuntimeError("the state change failed")
    assert await pool.fetchval("SELECT count(*) FROM outbox") == 0

    producer = make_producer(infra.kafka_access)
    await producer.start()
    try:
        relay = OutboxRelay("unused", producer)
        async with pool.acquire() as conn:
            assert await relay.publish_pending(conn) == 0
    finally:
        await producer.stop()
    published = await read_topic(infra.kafka_bootstrap_servers, message.topic.value)
    assert all(decode(r.value or b"").event_id != message.event_id for r in published)


async def test_a_republish_during_a_batch_in_flight_still_sends_that_batch_again(
    infra: Infrastructure, pool: asyncpg.Pool, topic: str
) -> None:
    """The broker acknowledges a batch and loses its log before the relay marks the batch:
    the operator's republish must not be overtaken by that mark, or the batch is lost."""
    message = deposit("republish-race")
    async with pool.acquire() as conn, conn.transaction():
        await enqueue_raw(
            conn,
            event_id=message.event_id,
            topic=topic,
            key=message.account_id,
            value=encode(message),
            headers={},
        )
    acknowledged, resume = asyncio.Event(), asyncio.Event()

    async def stall(_: Sequence[int]) -> None:
        acknowledged.set()
        await resume.wait()

    producer = make_producer(infra.kafka_access)
    await producer.start()
    try:
        async with pool.acquire() as relay_conn, pool.acquire() as operator:
            relay = OutboxRelay("unused", producer, after_publish=stall)
            in_flight = asyncio.create_task(relay.publish_pending(relay_conn))
            await asyncio.wait_for(acknowledged.wait(), 30)
            republish = asyncio.create_task(republish_all(operator))
            await eventually(
                lambda: lock_waiters(pool),
                until=lambda waiting: waiting > 0,
                timeout=10,
                what="the republish waiting for the batch in flight",
            )
            resume.set()
            assert await asyncio.wait_for(in_flight, 30) == 1
            assert await asyncio.wait_for(republish, 30) == 1
            assert await operator.fetchval("SELECT published_at FROM outbox") is None
    finally:
        await producer.stop()


async def lock_waiters(pool: asyncpg.Pool) -> int:
    async with pool.acquire() as conn:
        count: int = await conn.fetchval(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted "
            "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
        )
        return count


async def test_relay_killed_between_publish_and_mark_publishes_twice_but_applies_once(
    infra: Infrastructure, pool: asyncpg.Pool, topic: str
) -> None:
    message = deposit("relay-crash")
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(
            "INSERT INTO outbox (event_id, topic, key, value) VALUES ($1, $2, $3, $4)",
            message.event_id,
            topic,
            message.account_id,
            encode(message),
        )

    async def crash(_: Sequence[int]) -> None:
        raise RelayCrashed

    producer = make_producer(infra.kafka_access)
    await producer.start()
    try:
        async with pool.acquire() as conn:
            with pytest.raises(RelayCrashed):
                await OutboxRelay("unused", producer, after_publish=crash).publish_pending(conn)
            assert (
                await conn.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL") == 1
            )
            assert await OutboxRelay("unused", producer).publish_pending(conn) == 1
    finally:
        await producer.stop()

    on_topic = await read_topic(infra.kafka_bootstrap_servers, topic)
    assert [decode(r.value or b"").event_id for r in on_topic] == [message.event_id] * 2

    consumer = consumer_for(infra, pool, topic, "g-" + topic)

    async def both_seen() -> bool:
        return consumer.stats.applied + consumer.stats.duplicates >= 2

    await run_until(consumer, both_seen, "both copies consumed")
    assert await applied_effects(pool) == {"relay-crash": 1}
    assert consumer.stats.duplicates == 1


async def test_consumer_killed_after_commit_before_offsets_skips_the_redelivery(
    infra: Infrastructure, pool: asyncpg.Pool, topic: str
) -> None:
    await publish_raw(infra.kafka_access, topic, "acc-1", encode(deposit("crash-before-offsets")))
    group = "g-" + topic

    first = consumer_for(infra, pool, topic, group)

    async def no_offset_commit(records: object) -> None:
        return None  # the process "dies" here: database committed, offsets not

    first._commit_offsets = no_offset_commit  # type: ignore[method-assign]

    async def applied() -> bool:
        return first.stats.applied == 1

    await run_until(first, applied, "first delivery applied")

    second = consumer_for(infra, pool, topic, group)

    async def redelivered() -> bool:
        return second.stats.duplicates == 1

    await run_until(second, redelivered, "redelivery skipped")
    assert second.stats.applied == 0
    assert await applied_effects(pool) == {"crash-before-offsets": 1}


async def test_poison_message_is_dead_lettered_with_its_error_and_the_rest_flow(
    infra: Infrastructure, pool: asyncpg.Pool, topic: str
) -> None:
    async def refuse_poison(conn: Connection, message: Envelope) -> None:
        if message.correlation_id == "poison":
            raise ValueError("this message can never be applied")
        await count_effect(conn, message)

    values = [
        encode(deposit("before")),
        encode(deposit("poison")),
        b"{not json",
        encode(deposit("after")),
    ]
    await publish_raw(infra.kafka_access, topic, "acc-1", *values)
    consumer = consumer_for(infra, pool, topic, "g-" + topic, handler=refuse_poison, max_attempts=3)

    async def after_applied() -> bool:
        return "after" in await applied_effects(pool)

    await run_until(consumer, after_applied, "the message behind the poison applied")
    assert await applied_effects(pool) == {"before": 1, "after": 1}

    producer = make_producer(infra.kafka_access)
    await producer.start()
    try:
        async with pool.acquire() as conn:
            await OutboxRelay("unused", producer).publish_pending(conn)
    finally:
        await producer.stop()
    parked = [
        decode(r.value or b"").body(DeadLettered)
        for r in await read_topic(infra.kafka_bootstrap_servers, topic + ".dlq")
    ]
    assert len(parked) == 2
    poison, garbage = sorted(parked, key=lambda p: p.original_offset)
    assert "this message can never be applied" in poison.error
    assert poison.attempts == 3
    assert decode(poison.original_value()).correlation_id == "poison"
    assert "not JSON" in garbage.error and garbage.original_value() == b"{not json"
    assert garbage.attempts == 1


async def test_a_producer_that_stopped_on_out_of_order_sequence_is_replaced_and_nothing_is_lost(
    infra: Infrastructure, pool: asyncpg.Pool, topic: str
) -> None:
    """aiokafka's idempotent producer gives up for good on `OutOfOrderSequenceNumber` (its
    sender task ends; every later send would wait forever): the relay starts a new one."""
    message = deposit("out-of-order")
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(
            "INSERT INTO outbox (event_id, topic, key, value) VALUES ($1, $2, $3, $4)",
            message.event_id,
            topic,
            message.account_id,
            encode(message),
        )
    bootstrap = infra.kafka_bootstrap_servers
    stopped = make_producer(KafkaAccess(bootstrap))
    await stopped.start()
    sender = stopped._sender
    sender.sender_task.cancel()
    gave_up = asyncio.get_running_loop().create_future()
    gave_up.set_exception(OutOfOrderSequenceNumber())
    gave_up.exception()  # retrieved: no "never retrieved" warning
    sender._sender_task = gave_up  # as aiokafka's sender ends on OutOfOrderSequenceNumber
    assert producer_stopped(stopped)

    relay = OutboxRelay(
        "unused", stopped, new_producer=lambda: make_producer(KafkaAccess(bootstrap))
    )
    try:
        async with pool.acquire() as conn:
            assert await asyncio.wait_for(relay.publish_pending(conn), 30) == 1
    finally:
        await relay.producer.stop()

    assert relay.producers_replaced == 1 and relay.producer is not stopped
    on_topic = await read_topic(bootstrap, topic)
    assert [decode(r.value or b"").event_id for r in on_topic] == [message.event_id]


async def test_a_type_the_consumer_does_not_act_on_leaves_no_inbox_row_and_the_rest_apply_once(
    infra: Infrastructure, pool: asyncpg.Pool, topic: str
) -> None:
    """A consumer that acts on deposits only: a cancel (typed by its header, or peeked without
    one) never reaches the handler nor the inbox; deposits apply once (a copy is a duplicate);
    a record with no readable type is dead-lettered; every offset is committed."""
    cancel = new_message(
        CancelOrder(order_id="o-1"),
        producer="test",
        account_id="acc-1",
        correlation_id="ignored",
        now=utc_now(),
    )
    acted = deposit("acted")
    async with pool.acquire() as conn, conn.transaction():
        await enqueue(conn, cancel, acted)  # as a service writes them: with their type header
        await conn.execute("UPDATE outbox SET topic = $1", topic)
    headers = await pool.fetch("SELECT headers FROM outbox ORDER BY id")
    assert [h["headers"][TYPE_HEADER] for h in headers] == ["CancelOrder", "RecordDeposit"]
    producer = make_producer(infra.kafka_access)
    await producer.start()
    try:
        async with pool.acquire() as conn:
            assert await OutboxRelay("unused", producer).publish_pending(conn) == 2
    finally:
        await producer.stop()
    without_header = [
        encode(cancel.model_copy(update={"event_id": uuid.uuid4(), "correlation_id": "peeked"})),
        encode(deposit("acted-without-header")),
        encode(acted),  # a copy: a duplicate
        b"{not json",
    ]
    await publish_raw(infra.kafka_access, topic, "acc-1", *without_header)
    group = "g-" + topic
    consumer = consumer_for(infra, pool, topic, group, acts_on=frozenset({"RecordDeposit"}))

    async def all_done() -> bool:
        stats = consumer.stats
        return stats.applied + stats.duplicates + stats.ignored + stats.dead_lettered == 6

    await run_until(consumer, all_done, "every record applied, skipped or parked")
    assert await applied_effects(pool) == {"acted": 1, "acted-without-header": 1}
    assert (consumer.stats.ignored, consumer.stats.duplicates) == (2, 1)
    inbox = {r["event_id"]: r["outcome"] for r in await pool.fetch("SELECT * FROM inbox")}
    assert acted.event_id in inbox and cancel.event_id not in inbox
    assert sorted(inbox.values()) == ["applied", "applied", "dead_lettered"]
    admin = AIOKafkaAdminClient(**infra.kafka_access.client_options())
    await admin.start()
    try:
        committed = await admin.list_consumer_group_offsets(group)
    finally:
        await admin.close()
    assert sum(o.offset for o in committed.values()) == 6
