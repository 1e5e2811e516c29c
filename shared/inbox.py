"""The idempotent consumer: batches in one transaction, offsets after commit, poison to the DLQ.

For each batch from the broker: skip event ids already in `inbox`, apply the
rest through the handler, record their ids (one statement), commit, and only then
commit the offsets. A handler takes one message, or (`batch_handler`) every message
of the batch at once, so a service can write the batch as one set of statements.
A message that keeps failing is retried with backoff `max_attempts` times and
then dead-lettered: its original bytes go to
`<topic>.dlq` through the outbox, with the error, in the same transaction that
records it in the inbox, so the partition moves on and nothing is half-written.
A database outage is not the message's fault: it is retried without limit.

A re-driven message (header `redriven_from`, shared/dlq.py) whose event this inbox
dead-lettered is applied again, once: its mark becomes `applied`. If it fails again it is
parked again, as a new dead letter.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import re
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeAlias

import asyncpg
from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, ConsumerRecord, TopicPartition
from aiokafka.errors import CommitFailedError, KafkaError
from opentelemetry import trace

from shared import inbox_store, metrics, telemetry
from shared.clock import utc_now
from shared.contracts.deadletter import DeadLettered
from shared.contracts.envelope import Envelope, UndecodableMessage, decode, encode, new_message
from shared.contracts.topics import dead_letter_topic
from shared.db import TRANSIENT_ERRORS, Connection
from shared.dlq import REDRIVEN_FROM
from shared.ids import SYSTEM_ACCOUNT, derived_id
from shared.kafka import FETCH_MAX_WAIT_MS, METADATA_MAX_AGE_MS, ClusterIdentity
from shared.kafka_access import KafkaAccess
from shared.outbox import enqueue_raw
from shared.telemetry import extract_context, tracer

log = logging.getLogger(__name__)
_TRACEPARENT = re.compile(r"00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}")
Handler = Callable[[Connection, Envelope], Awaitable[None]]
BatchHandler = Callable[[Connection, Sequence[Envelope]], Awaitable[None]]
"""Applies the messages of a batch (in order, none a duplicate) in the caller's transaction.
It is called again with one message at a time, each in a savepoint, when the batch fails, so
a poison message is found, retried and dead-lettered alone. Each message still gets its
consumer span when spans are recorded (its trace goes on), but none is current while the
handler runs: a batch handler does not publish in a message's trace."""
Record: TypeAlias = "ConsumerRecord[bytes, bytes]"


@dataclass(frozen=True)
class InboxSettings:
    """How one consumer group reads: its name and topics, the batch size, how often a
    failing message is tried before it is dead-lettered, and the group's timings."""

    group_id: str
    topics: Sequence[str]
    batch_size: int = 500
    max_attempts: int = 3
    backoff_seconds: float = 0.2
    session_timeout_ms: int = 6000
    heartbeat_interval_ms: int = 500
    rebalance_timeout_ms: int = 5000
    fetch_max_wait_ms: int = FETCH_MAX_WAIT_MS


@dataclass
class InboxStats:
    applied: int = 0
    duplicates: int = 0
    dead_lettered: int = 0
    batches: int = 0
    attempts: dict[str, int] = field(default_factory=dict)


class _MessageFailed(Exception):
    """A message failed on the fast path: redo the batch a savepoint per message."""


def _decode(record: Record) -> Envelope | UndecodableMessage:
    try:
        return decode(record.value or b"")
    except UndecodableMessage as exc:
        return exc


@dataclass(frozen=True)
class _Failure:
    record: Record
    error: BaseException


class InboxConsumer:
    def __init__(
        self,
        *,
        pool: asyncpg.Pool,
        kafka: KafkaAccess,
        settings: InboxSettings,
        handler: Handler | None = None,
        batch_handler: BatchHandler | None = None,
    ) -> None:
        if (handler is None) == (batch_handler is None):
            raise ValueError("an inbox consumer takes a handler or a batch handler")
        group_id, batch_size = settings.group_id, settings.batch_size
        session_timeout_ms = settings.session_timeout_ms
        heartbeat_interval_ms = settings.heartbeat_interval_ms
        rebalance_timeout_ms = settings.rebalance_timeout_ms
        fetch_max_wait_ms = settings.fetch_max_wait_ms
        self._pool = pool
        self._group_id = group_id
        self._handler = handler
        self._batch_handler = batch_handler
        self._topics = list(settings.topics)
        self._batch_size = batch_size
        self._max_attempts = settings.max_attempts
        self._backoff = settings.backoff_seconds
        self._consumer = AIOKafkaConsumer(
            **kafka.client_options(),
            group_id=group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=batch_size,
            session_timeout_ms=session_timeout_ms,
            heartbeat_interval_ms=heartbeat_interval_ms,
            rebalance_timeout_ms=rebalance_timeout_ms,
            fetch_max_wait_ms=fetch_max_wait_ms,
            metadata_max_age_ms=METADATA_MAX_AGE_MS,
        )
        self._cluster = ClusterIdentity(kafka)
        self._cluster_id: str | None = None
        self._tracer = tracer("cryptoorch.inbox")
        self.stats = InboxStats()
        self._generation = 0
        self._fetched_in = 0
        """Bumped on every rebalance. Offsets of records fetched before it are never committed:
        after a broker restart they would point into the old log and skip the new one."""

    async def run(self, stop: asyncio.Event) -> None:
        self._consumer.subscribe(self._topics, listener=_GenerationListener(self))
        await self._consumer.start()
        await self._cluster.start()
        try:
            while not stop.is_set():
                batch = await self._consumer.getmany(timeout_ms=200, max_records=self._batch_size)
                records = [r for tp in sorted(batch, key=str) for r in batch[tp]]
                if records and await self._same_log(records):
                    self._fetched_in = self._generation
                    await self.process(records, stop)
                    self._record_lag(records)
        finally:
            await self._cluster.close()
            await self._consumer.stop()

    async def _same_log(self, records: list[Record]) -> bool:
        """Whether `records` continue the log this consumer has been reading.

        Asked of the broker only when the consumer opened a new connection since the last
        answer (`ClusterIdentity.is_new`): records fetched through the connections of the last
        answer come from the same cluster. When the broker turns out to be a new cluster (it
        lost its log), every assigned partition is read again from its beginning, in order
        (the inbox skips what was already applied), and nothing fetched before is applied or
        committed. When the broker cannot be asked, the batch is fetched again later rather
        than applied unchecked.
        """
        connections = self._cluster.connections(self._consumer._client)
        if self._cluster_id is not None and not self._cluster.is_new(connections):
            return True
        try:
            cluster_id = await self._cluster.current()
        except (KafkaError, OSError, TimeoutError) as exc:
            log.warning("inbox: cannot ask the broker which cluster it is (%s); refetching", exc)
            assigned = self._consumer.assignment()
            for r in reversed(records):  # the first record of each partition wins
                tp = TopicPartition(r.topic, r.partition)
                if tp in assigned:  # a partition a rebalance took is re-read by its new owner
                    self._consumer.seek(tp, r.offset)
            await asyncio.sleep(self._backoff)
            return False
        self._cluster.seen(connections)
        if self._cluster_id in (None, cluster_id):
            self._cluster_id = cluster_id
            return True
        log.warning(
            "inbox: the broker is a new cluster (%s, was %s): it lost its log; "
            "reading every partition again from the beginning",
            cluster_id,
            self._cluster_id,
        )
        self._cluster_id = cluster_id
        self._generation += 1
        await self._consumer.seek_to_beginning(*self._consumer.assignment())
        return False

    async def process(self, records: list[Record], stop: asyncio.Event) -> None:
        """Apply records (in order), retrying and dead-lettering as the module says."""
        pending = records
        transient_delay = self._backoff
        while pending and not stop.is_set():
            try:
                done, failure = await self._apply(pending)
            except TRANSIENT_ERRORS as exc:
                log.warning("inbox: database unavailable (%s); retrying", exc)
                await asyncio.sleep(transient_delay)
                transient_delay = min(transient_delay * 2, 5.0)
                continue
            await self._commit_offsets(pending[:done])
            if failure is None:
                return
            pending = pending[done:]
            key = _record_key(failure.record)
            attempts = self.stats.attempts.get(key, 0) + 1
            self.stats.attempts[key] = attempts
            permanent = isinstance(failure.error, UndecodableMessage)
            if not permanent and isinstance(failure.error, TRANSIENT_ERRORS):
                await asyncio.sleep(transient_delay)
                continue
            if permanent or attempts >= self._max_attempts:
                await self._dead_letter(failure, attempts)
                await self._commit_offsets(pending[:1])
                self.stats.attempts.pop(key, None)
                pending = pending[1:]
            else:
                log.warning("inbox: %s failed (attempt %d): %r", key, attempts, failure.error)
                await asyncio.sleep(self._backoff * 2 ** (attempts - 1))

    async def _apply(self, records: list[Record]) -> tuple[int, _Failure | None]:
        """Apply in one transaction. Returns (records done, the failure that stopped it).

        Fast path: no savepoints and one inbox insert for the whole batch. If any
        message fails, that transaction is rolled back and the batch is redone
        carefully, a savepoint per message, stopping at the failing one.
        """
        decoded = [_decode(r) for r in records]
        if not any(isinstance(m, UndecodableMessage) for m in decoded):
            try:
                return await self._apply_batch(records, decoded, careful=False)
            except _MessageFailed:
                pass
        return await self._apply_batch(records, decoded, careful=True)

    async def _apply_batch(
        self,
        records: list[Record],
        decoded: list[Envelope | UndecodableMessage],
        *,
        careful: bool,
    ) -> tuple[int, _Failure | None]:
        done, failure = 0, None
        applying: list[tuple[Record, Envelope]] = []
        async with self._pool.acquire() as conn, conn.transaction():
            ids = [m.event_id for m in decoded if isinstance(m, Envelope)]
            seen = await inbox_store.outcomes(conn, ids)
            duplicates = 0
            for record, message in zip(records, decoded, strict=True):
                if isinstance(message, UndecodableMessage):
                    failure = _Failure(record, message)
                    break
                if message.event_id in seen and not _redrives(record, seen[message.event_id]):
                    duplicates += 1
                    metrics.DUPLICATES.labels(record.topic).inc()
                    done += 1
                    continue
                if careful:
                    try:
                        async with conn.transaction():
                            await self._apply_messages(conn, [(record, message)])
                    except TRANSIENT_ERRORS:
                        raise
                    except Exception as exc:  # the message's fault: retried, then dead-lettered
                        failure = _Failure(record, exc)
                        break
                seen[message.event_id] = "applied"
                applying.append((record, message))
                done += 1
            if not careful:
                try:
                    await self._apply_messages(conn, applying)
                except TRANSIENT_ERRORS:
                    raise
                except Exception as exc:  # one of them is at fault: found the careful way
                    raise _MessageFailed from exc
            if applying:
                await inbox_store.record_applied(
                    conn, [_consumed(r, m.event_id) for r, m in applying]
                )
        self.stats.applied += len(applying)
        for (topic, kind), count in Counter((r.topic, m.type) for r, m in applying).items():
            metrics.CONSUMED.labels(topic, kind).inc(count)
        self.stats.duplicates += duplicates
        self.stats.batches += 1
        return done, failure

    async def _apply_messages(
        self, conn: Connection, messages: Sequence[tuple[Record, Envelope]]
    ) -> None:
        """Apply `messages` in order: one at a time through the handler, each in its consumer
        span; or all at once through the batch handler, inside the span of each."""
        if self._handler is not None:
            for record, message in messages:
                await self._apply_one(conn, record, message, self._handler)
            return
        assert self._batch_handler is not None
        if not messages:
            return
        spans = [self._span(r, m) for r, m in messages] if telemetry.recording() else []
        try:
            await self._batch_handler(conn, [message for _, message in messages])
        finally:
            for span in spans:
                span.end()

    def _span(self, record: Record, message: Envelope) -> trace.Span:
        headers = {k: v.decode(errors="replace") for k, v in record.headers or ()}
        return self._tracer.start_span(
            f"apply {message.type}",
            context=extract_context(headers),
            kind=trace.SpanKind.CONSUMER,
            attributes={
                "messaging.destination": record.topic,
                "cryptoorch.event_id": str(message.event_id),
                "cryptoorch.message_type": message.type,
                "cryptoorch.correlation_id": message.correlation_id,
            },
        )

    async def _apply_one(
        self, conn: Connection, record: Record, message: Envelope, handler: Handler
    ) -> None:
        with trace.use_span(self._span(record, message), end_on_exit=True):
            log.debug("inbox: applying %s %s of %s", message.type, message.event_id, record.topic)
            await handler(conn, message)

    async def _dead_letter(self, failure: _Failure, attempts: int) -> None:
        record = failure.record
        original_id = _event_id_of(record)
        key = (record.key or b"").decode(errors="replace") or SYSTEM_ACCOUNT
        parked = DeadLettered(
            original_topic=record.topic,
            original_partition=record.partition,
            original_offset=record.offset,
            original_event_id=str(original_id),
            original_key=key,
            original_value_b64=base64.b64encode(record.value or b"").decode(),
            original_headers={k: v.decode(errors="replace") for k, v in record.headers or ()},
            error=f"{type(failure.error).__name__}: {failure.error}"[:4000],
            attempts=attempts,
            consumer=self._group_id,
        )
        redriven_from = _header(record, REDRIVEN_FROM)
        # A re-driven message that fails again is parked again, under a dead letter of its own.
        event_id = (
            derived_id("dlq", self._group_id, original_id)
            if redriven_from is None
            else derived_id("dlq", self._group_id, original_id, redriven_from)
        )
        message = new_message(
            parked,
            producer=self._group_id,
            account_id=key[:100],
            correlation_id=str(original_id),
            event_id=event_id,
            now=utc_now(),
        )
        log.error("inbox: dead-lettering %s: %s", _record_key(record), parked.error)
        async with self._pool.acquire() as conn, conn.transaction():
            inserted = await inbox_store.record_dead_lettered(
                conn, _consumed(record, original_id), redriven=redriven_from is not None
            )
            if inserted:
                await enqueue_raw(
                    conn,
                    event_id=message.event_id,
                    topic=dead_letter_topic(record.topic),
                    key=message.account_id,
                    value=encode(message),
                    headers={**_trace_headers(record), "dlq.error": parked.error[:500]},
                )
        self.stats.dead_lettered += 1
        metrics.DEAD_LETTERED.labels(record.topic).inc()

    def _record_lag(self, records: list[Record]) -> None:
        last: dict[TopicPartition, int] = {}
        for r in records:
            last[TopicPartition(r.topic, r.partition)] = r.offset
        assigned = self._consumer.assignment()
        for tp, offset in last.items():
            if tp not in assigned:  # a rebalance took it meanwhile
                continue
            highwater = self._consumer.highwater(tp)
            if highwater is not None:
                metrics.CONSUMER_LAG.labels(tp.topic, str(tp.partition)).set(highwater - offset - 1)

    async def _commit_offsets(self, records: list[Record]) -> None:
        offsets: dict[TopicPartition, int] = {}
        for r in records:
            offsets[TopicPartition(r.topic, r.partition)] = r.offset + 1
        if not offsets:
            return
        if self._fetched_in != self._generation:
            log.info(
                "inbox: a rebalance happened since this batch was fetched; offsets not committed"
            )
            return
        try:
            await self._consumer.commit(offsets)
        except (CommitFailedError, KafkaError) as exc:
            # A rebalance took the partition: the new owner re-reads and the inbox skips.
            log.warning("inbox: offset commit failed (%s); redelivery will be skipped", exc)


class _GenerationListener(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, inbox: InboxConsumer) -> None:
        self._inbox = inbox

    async def on_partitions_revoked(self, revoked: object) -> None:
        self._inbox._generation += 1

    async def on_partitions_assigned(self, assigned: object) -> None:
        self._inbox._generation += 1


def _header(record: Record, name: str) -> str | None:
    for key, value in record.headers or ():
        if key == name:
            return bytes(value).decode(errors="replace")
    return None


def _redrives(record: Record, outcome: str) -> bool:
    """Whether `record` re-drives a message this inbox dead-lettered (applied once more)."""
    return outcome == "dead_lettered" and _header(record, REDRIVEN_FROM) is not None


def _trace_headers(record: Record) -> dict[str, str]:
    """The parked message's W3C trace context, if it carried a well-formed one: its dead
    letter stays in its trace (else `enqueue_raw` starts a new one)."""
    headers = {k: v.decode(errors="replace") for k, v in record.headers or ()}
    if not _TRACEPARENT.fullmatch(headers.get("traceparent", "")):
        return {}
    return {k: headers[k] for k in ("traceparent", "tracestate") if k in headers}


def _consumed(record: Record, event_id: uuid.UUID) -> inbox_store.Consumed:
    return inbox_store.Consumed(event_id, record.topic, record.partition, record.offset)


def _record_key(record: Record) -> str:
    return f"{record.topic}/{record.partition}@{record.offset}"


def _event_id_of(record: Record) -> uuid.UUID:
    """The message's own event id if it has a readable one, else one derived from its position."""
    try:
        value = json.loads(record.value or b"")
        return uuid.UUID(str(value["event_id"]))
    except (ValueError, KeyError, TypeError):
        return derived_id("position", record.topic, record.partition, record.offset)
