"""The idempotent consumer: batches in one transaction, offsets after commit, poison to the DLQ.

For each batch from the broker: skip event ids already in `inbox`, apply the
rest through the handler, record their ids (one statement), commit, and only then
commit the offsets. A handler takes one message, or (`batch_handler`) every message
of the batch at once, so a service can write the batch as one set of statements.
A message that keeps failing is retried with backoff `max_attempts` times and
then dead-lettered: its original bytes go to
`<topic>.dlq` through the outbox, with the error, in the same transaction that
records it in the inbox, so the partition moves on and nothing is half-written.
A database outage is not the message's fault: it is retried without limit. A consumer that
declares the types it acts on (`InboxSettings.acts_on`) skips the others undecoded, with no
inbox row (`shared.inbox_apply`).

A re-driven message (header `redriven_from`, shared/dlq.py) whose event this inbox
dead-lettered is applied again, once: its mark becomes `applied`. If it fails again it is
parked again, as a new dead letter.

Applying one batch is `shared.inbox_apply`, parking a message `shared.inbox_dead_letters`,
the SQL `shared.inbox_store`.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass

import asyncpg
from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import CommitFailedError, KafkaError

from shared import metrics
from shared.contracts.envelope import UndecodableMessage
from shared.db import TRANSIENT_ERRORS
from shared.inbox_apply import (
    BatchApplier,
    BatchHandler,
    Handler,
    InboxStats,
    Record,
    in_trace_of,
    record_key,
)
from shared.inbox_dead_letters import park
from shared.kafka import FETCH_MAX_WAIT_MS, METADATA_MAX_AGE_MS, ClusterIdentity
from shared.kafka_access import KafkaAccess
from shared.telemetry import tracer

log = logging.getLogger(__name__)
__all__ = [
    "BatchHandler",
    "Handler",
    "InboxConsumer",
    "InboxSettings",
    "InboxStats",
    "in_trace_of",
]
_TRACEPARENT = re.compile(r"00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}")


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
    acts_on: frozenset[str] | None = None
    """The message types the handler acts on; records of other types are skipped undecoded
    (`shared.inbox_apply`). None: every type (the audit's trail, the gateway's read models)."""


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
        self.stats = InboxStats()
        self._applier = BatchApplier(
            pool,
            handler,
            batch_handler,
            self.stats,
            tracer("cryptoorch.inbox"),
            settings.acts_on,
        )
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
                done, failure = await self._applier.apply(pending)
            except TRANSIENT_ERRORS as exc:
                log.warning("inbox: database unavailable (%s); retrying", exc)
                await asyncio.sleep(transient_delay)
                transient_delay = min(transient_delay * 2, 5.0)
                continue
            await self._commit_offsets(pending[:done])
            if failure is None:
                return
            pending = pending[done:]
            key = record_key(failure.record)
            attempts = self.stats.attempts.get(key, 0) + 1
            self.stats.attempts[key] = attempts
            permanent = isinstance(failure.error, UndecodableMessage)
            if not permanent and isinstance(failure.error, TRANSIENT_ERRORS):
                await asyncio.sleep(transient_delay)
                continue
            if permanent or attempts >= self._max_attempts:
                await park(self._pool, self._group_id, failure, attempts)
                self.stats.dead_lettered += 1
                await self._commit_offsets(pending[:1])
                self.stats.attempts.pop(key, None)
                pending = pending[1:]
            else:
                log.warning("inbox: %s failed (attempt %d): %r", key, attempts, failure.error)
                await asyncio.sleep(self._backoff * 2 ** (attempts - 1))

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
