"""The transactional outbox: write in the caller's transaction, publish after commit.

`enqueue` is the only way a service emits a message. `OutboxRelay` publishes
committed rows in id order and marks them published; a crash between publish and
mark re-publishes (consumers' inboxes drop the duplicate), never loses. One relay
per database is active at a time (advisory lock); the others wait as standbys. At start,
after its producer reconnected and after a failed publish, the active relay makes sure the
topics exist on the broker's cluster (`TopicsOnCluster`): a broker that lost its log gets them
back with their partitions. A producer that stopped for good (`OutOfOrderSequenceNumber`) is
replaced by a new one (`new_producer`): the rows it did not publish are still unpublished.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any

import asyncpg
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError, OutOfOrderSequenceNumber
from opentelemetry import trace

from shared import metrics
from shared.contracts.envelope import TYPE_HEADER, Envelope, encode
from shared.db import TRANSIENT_ERRORS, Connection, connect
from shared.kafka import TopicsOnCluster, producer_stopped
from shared.telemetry import cause_context, headers_caused_by, inject_headers, tracer

log = logging.getLogger(__name__)
RETRYABLE: tuple[type[BaseException], ...] = (TimeoutError, *TRANSIENT_ERRORS)
RELAY_LOCK_KEY = 0x6F757462  # "outb"
BATCH_LOCK_KEY = 0x72657075  # "repu": held (shared) by a batch in flight, taken by `republish_all`
_tracer = tracer("cryptoorch.outbox")
SEND_TIMEOUT = 60.0
"""A batch not acknowledged by then is sent again (the producer expires it after 15 s)."""


async def enqueue(conn: Connection, *messages: Envelope) -> None:
    """Add messages to the outbox inside the caller's open transaction, in one statement.

    Each row carries the current trace context (the caller's span: the HTTP request or the
    message being applied; in a batch handler, the span of the message's cause), so the
    consumers of these messages continue the same trace; a message no trace caused starts
    one of its own (`inject_headers`). It carries its type too (`TYPE_HEADER`): a consumer
    skips a type it does not act on without decoding it.
    """
    current = inject_headers()
    with _tracer.start_as_current_span(
        "INSERT outbox",
        context=cause_context(messages[0].causation_id) if messages else None,
        kind=trace.SpanKind.CLIENT,
        attributes={
            "db.system": "postgresql",
            "db.operation.name": "INSERT",
            "db.collection.name": "outbox",
            "messaging.batch.message_count": len(messages),
        },
    ):
        await conn.execute(
            "INSERT INTO outbox (event_id, topic, key, value, headers) SELECT e, t, k, v, h FROM "
            "unnest($1::uuid[], $2::text[], $3::text[], $4::bytea[], $5::jsonb[]) "
            "WITH ORDINALITY AS u(e, t, k, v, h, n) ORDER BY n",
            [m.event_id for m in messages],
            [m.topic.value for m in messages],
            [m.account_id for m in messages],
            [encode(m) for m in messages],
            [
                {**(headers_caused_by(m.causation_id) or current), TYPE_HEADER: m.type}
                for m in messages
            ],
        )


async def enqueue_raw(
    conn: Connection,
    *,
    event_id: Any,
    topic: str,
    key: str,
    value: bytes,
    headers: dict[str, str],
) -> None:
    """Add an opaque message (a dead letter keeps the original bytes); without a
    `traceparent` in `headers`, in a trace of its own."""
    if "traceparent" not in headers:
        headers = {**inject_headers(), **headers}
    await conn.execute(
        "INSERT INTO outbox (event_id, topic, key, value, headers) VALUES ($1, $2, $3, $4, $5) "
        "ON CONFLICT (event_id) DO NOTHING",
        event_id,
        topic,
        key,
        value,
        headers,
    )


async def republish_all(conn: Connection, since: datetime | None = None) -> int:
    """Mark published rows (created since `since`) unpublished: the relay sends them again.

    For a broker that lost its log. Waits for a batch in flight to be marked first (see
    `OutboxRelay.publish_pending`). Consumers' inboxes drop what they already applied.
    """
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", BATCH_LOCK_KEY)
        result: str = await conn.execute(
            "UPDATE outbox SET published_at = NULL WHERE published_at IS NOT NULL "
            "AND ($1::timestamptz IS NULL OR created_at >= $1)",
            since,
        )
        await conn.execute("NOTIFY outbox")
    return int(result.split()[-1])


AfterPublish = Callable[[Sequence[int]], Awaitable[None]]


class OutboxRelay:
    def __init__(
        self,
        database_url: str,
        producer: AIOKafkaProducer,
        *,
        batch_size: int = 500,
        poll_seconds: float = 1.0,
        after_publish: AfterPublish | None = None,
        topics: TopicsOnCluster | None = None,
        new_producer: Callable[[], AIOKafkaProducer] | None = None,
    ) -> None:
        self._url = database_url
        self.producer = producer
        self._new_producer = new_producer
        self.producers_replaced = 0
        self._topics = topics
        self._batch_size = batch_size
        self._poll = poll_seconds
        self._wake = asyncio.Event()
        self._after_publish = after_publish
        self.published = 0

    async def run(self, stop: asyncio.Event) -> None:
        """Publish until `stop` is set; survives database and broker outages by retrying."""
        if self._topics is not None:
            await self._topics.start()
        try:
            delay = 0.1
            while not stop.is_set():
                try:
                    await self._run_as_leader(stop)
                    delay = 0.1
                except RETRYABLE as exc:
                    log.warning("outbox relay: %s; retrying in %.1fs", exc, delay)
                await _sleep_or_stop(stop, delay)
                delay = min(delay * 2, 5.0)
        finally:
            if self._topics is not None:
                await self._topics.close()

    async def _run_as_leader(self, stop: asyncio.Event) -> None:
        conn = await connect(self._url)
        try:
            while not await conn.fetchval("SELECT pg_try_advisory_lock($1)", RELAY_LOCK_KEY):
                if await _sleep_or_stop(stop, 2.0):
                    return
            await conn.add_listener("outbox", lambda *_: self._wake.set())
            while not stop.is_set():
                if await self.publish_pending(conn) == 0:
                    await self._report_backlog(conn)
                    await self._keep_topics()
                    await self._wait(stop)
        finally:
            await conn.close()

    async def publish_pending(self, conn: Connection) -> int:
        """Publish one batch of unpublished rows; return how many were published.

        The batch holds `BATCH_LOCK_KEY` (shared) from reading the rows until they are marked,
        so `republish_all` waits for it: a batch a broker acknowledged just before it lost its
        log is marked published before the republish, never after it (which would lose it).
        """
        self._wake.clear()
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock_shared($1)", BATCH_LOCK_KEY)
            rows = await conn.fetch(
                "SELECT id, topic, key, value, headers FROM outbox WHERE published_at IS NULL "
                "ORDER BY id LIMIT $1",
                self._batch_size,
            )
            if not rows:
                return 0
            await self._send(rows)
            ids = [r["id"] for r in rows]
            if self._after_publish is not None:
                await self._after_publish(ids)
            await conn.execute(
                "UPDATE outbox SET published_at = now() WHERE id = ANY($1::bigint[])", ids
            )
        self.published += len(ids)
        for r in rows:
            metrics.PRODUCED.labels(r["topic"]).inc()
        return len(ids)

    async def _report_backlog(self, conn: Connection) -> None:
        row = await conn.fetchrow(
            "SELECT count(*) AS n, coalesce(extract(epoch FROM now() - min(created_at)), 0) AS age "
            "FROM outbox WHERE published_at IS NULL"
        )
        assert row is not None
        metrics.OUTBOX_BACKLOG.set(row["n"])
        metrics.OUTBOX_OLDEST_AGE.set(float(row["age"]))

    async def _keep_topics(self, *, always: bool = False) -> None:
        """Topics on a cluster the producer reached through a new connection (or, `always`,
        after a failure): a broker that lost its log has none, and a produce to a missing
        topic waits until it times out. Costs nothing while the connections stay up."""
        if self._topics is None:
            return
        try:
            if always:
                await self._topics.ensure()
            else:
                await self._topics.ensure_if_reconnected(self.producer.client)
        except (KafkaError, OSError, TimeoutError) as exc:  # the next batch checks again
            log.warning("outbox relay: cannot make sure the topics exist (%s)", exc)

    async def _replace_producer(self, why: BaseException) -> None:
        """A producer whose sender stopped never sends again: start a new one in its place."""
        assert self._new_producer is not None
        log.warning("outbox relay: the producer stopped (%r); starting a new one", why)
        new = self._new_producer()
        try:
            await new.start()
        except Exception as exc:  # the broker is down too: the next failure tries again
            log.warning("outbox relay: cannot start a new producer (%s)", exc)
            with contextlib.suppress(Exception):
                await new.stop()
            return
        old, self.producer = self.producer, new
        self.producers_replaced += 1
        with contextlib.suppress(Exception):  # it failed already; closing it only tidies up
            await old.stop()

    async def _send(self, rows: Sequence[asyncpg.Record]) -> None:
        delay = 0.1
        while True:
            try:
                if producer_stopped(self.producer):
                    raise KafkaError("the producer's sender stopped")
                await self._keep_topics()
                futures = [
                    await self.producer.send(
                        r["topic"],
                        value=bytes(r["value"]),
                        key=r["key"].encode(),
                        headers=[(k, str(v).encode()) for k, v in r["headers"].items()],
                    )
                    for r in rows
                ]
                await asyncio.wait_for(asyncio.gather(*futures), SEND_TIMEOUT)
                return
            except Exception as exc:  # broker down or slow: the rows stay unpublished
                log.warning("outbox relay: publish failed (%r); retrying in %.1fs", exc, delay)
                stopped = isinstance(exc, OutOfOrderSequenceNumber) or producer_stopped(
                    self.producer
                )
                if stopped and self._new_producer is not None:
                    await self._replace_producer(exc)
                await asyncio.sleep(delay)
                await self._keep_topics(always=True)
                delay = min(delay * 2, 5.0)

    async def _wait(self, stop: asyncio.Event) -> None:
        waiters = [asyncio.ensure_future(self._wake.wait()), asyncio.ensure_future(stop.wait())]
        try:
            await asyncio.wait(waiters, timeout=self._poll, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waiters:
                w.cancel()


async def _sleep_or_stop(stop: asyncio.Event, seconds: float) -> bool:
    """Sleep up to `seconds`; True if `stop` was set meanwhile."""
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
        return True
    except TimeoutError:
        return False
