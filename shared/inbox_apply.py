"""Applying one batch of an inbox consumer (`shared.inbox`): one transaction, the duplicates
skipped by event id, one inbox insert; if a message fails, the batch is redone a savepoint per
message so the failing one is found and the ones before it are kept.

A consumer that declares the message types it acts on (`acts_on`) skips every other type before
any of that: its type is read from the record's `TYPE_HEADER` (or, without it, a plain JSON peek
at `type`), and such a record is neither decoded, nor recorded in the inbox, nor handed to the
handler; its offset is committed with the rest. A record whose type cannot be read at all takes
the normal path (and is dead-lettered as undecodable).
"""

from __future__ import annotations

import logging
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TypeAlias

import asyncpg
from aiokafka import ConsumerRecord
from opentelemetry import context, trace

from shared import inbox_store, metrics, telemetry
from shared.contracts.envelope import (
    TYPE_HEADER,
    Envelope,
    UndecodableMessage,
    decode,
    peek_type,
)
from shared.db import TRANSIENT_ERRORS, Connection
from shared.dlq import REDRIVEN_FROM
from shared.telemetry import extract_context

log = logging.getLogger(__name__)
Handler = Callable[[Connection, Envelope], Awaitable[None]]
BatchHandler = Callable[[Connection, Sequence[Envelope]], Awaitable[None]]
"""Applies the messages of a batch (in order, none a duplicate) in the caller's transaction.
It is called again with one message at a time, each in a savepoint, when the batch fails, so
a poison message is found, retried and dead-lettered alone. Each message still gets its
consumer span when spans are recorded, but none is current while the handler runs: what it
writes to the outbox takes the trace of its cause (`causation_id`, see
`shared.telemetry.batch_causes`), so each message's trace goes on."""
Record: TypeAlias = "ConsumerRecord[bytes, bytes]"


@contextmanager
def in_trace_of(message: Envelope) -> Iterator[None]:
    """Inside a batch handler: `message`'s trace is current in the block (its consumer span, or
    the context its record's headers carry when spans are not recorded), so what is logged or
    traced for it continues its trace as a one-message handler's would (what it writes to the
    outbox does anyway: see `BatchHandler`). Elsewhere: no-op."""
    found = telemetry.cause_context(message.event_id)
    if found is None:
        yield
        return
    token = context.attach(found)
    try:
        yield
    finally:
        context.detach(token)


@dataclass
class InboxStats:
    applied: int = 0
    duplicates: int = 0
    ignored: int = 0
    """Records of a type the consumer does not act on, skipped undecoded."""
    dead_lettered: int = 0
    batches: int = 0
    attempts: dict[str, int] = field(default_factory=dict)


class MessageFailed(Exception):
    """A message failed on the fast path: redo the batch a savepoint per message."""


def decode_record(record: Record) -> Envelope | UndecodableMessage:
    try:
        return decode(record.value or b"")
    except UndecodableMessage as exc:
        return exc


@dataclass(frozen=True)
class Failure:
    record: Record
    error: BaseException


class BatchApplier:
    """Applies batches for one consumer: through a handler (a message at a time) or a batch
    handler (every message at once), each message in its consumer span."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        handler: Handler | None,
        batch_handler: BatchHandler | None,
        stats: InboxStats,
        tracer: trace.Tracer,
        acts_on: frozenset[str] | None = None,
    ) -> None:
        self._pool = pool
        self._acts_on = acts_on
        self._handler = handler
        self._batch_handler = batch_handler
        self.stats = stats
        self._tracer = tracer

    async def apply(self, records: list[Record]) -> tuple[int, Failure | None]:
        """Apply the records of the types this consumer acts on (all of them without `acts_on`)
        and skip the others. Returns (records done, the failure that stopped it): the records
        before the failing one are done, the skipped ones among them included."""
        if self._acts_on is None:
            return await self._apply_acted(records)
        kinds = [message_type(r) for r in records]
        acted = [i for i, kind in enumerate(kinds) if kind is None or kind in self._acts_on]
        if len(acted) == len(records):
            return await self._apply_acted(records)
        done, failure = await self._apply_acted([records[i] for i in acted]) if acted else (0, None)
        end = len(records) if failure is None else acted[done]
        skipped = Counter(
            (records[i].topic, kinds[i]) for i in set(range(end)).difference(acted[:done])
        )
        for (topic, kind), count in skipped.items():
            metrics.IGNORED.labels(topic, str(kind)).inc(count)
        self.stats.ignored += end - done
        return end, failure

    async def _apply_acted(self, records: list[Record]) -> tuple[int, Failure | None]:
        """Apply in one transaction. Returns (records done, the failure that stopped it).

        Fast path: no savepoints and one inbox insert for the whole batch. If any
        message fails, that transaction is rolled back and the batch is redone
        carefully, a savepoint per message, stopping at the failing one.
        """
        decoded = [decode_record(r) for r in records]
        if not any(isinstance(m, UndecodableMessage) for m in decoded):
            try:
                return await self._apply_batch(records, decoded, careful=False)
            except MessageFailed as failed:
                log.info(
                    "inbox: a batch of %d failed (%r); applied again a message at a time",
                    len(records),
                    failed.__cause__,
                )
        return await self._apply_batch(records, decoded, careful=True)

    async def _apply_batch(
        self,
        records: list[Record],
        decoded: list[Envelope | UndecodableMessage],
        *,
        careful: bool,
    ) -> tuple[int, Failure | None]:
        done, failure = 0, None
        applying: list[tuple[Record, Envelope]] = []
        async with self._pool.acquire() as conn, conn.transaction():
            ids = [m.event_id for m in decoded if isinstance(m, Envelope)]
            seen = await inbox_store.outcomes(conn, ids)
            duplicates = 0
            for record, message in zip(records, decoded, strict=True):
                if isinstance(message, UndecodableMessage):
                    failure = Failure(record, message)
                    break
                if message.event_id in seen and not redrives(record, seen[message.event_id]):
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
                        failure = Failure(record, exc)
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
                    raise MessageFailed from exc
            if applying:
                await inbox_store.record_applied(
                    conn, [consumed(r, m.event_id) for r, m in applying]
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
        if telemetry.recording():
            spans = [self._span(r, m) for r, m in messages]
            causes = {
                m.event_id: trace.set_span_in_context(span)
                for (_, m), span in zip(messages, spans, strict=True)
            }
        else:  # nothing recorded: each message's own trace still goes on
            spans = []
            causes = {m.event_id: extract_context(_headers(r)) for r, m in messages}
        try:
            with telemetry.batch_causes(causes):
                await self._batch_handler(conn, [message for _, message in messages])
        finally:
            for span in spans:
                span.end()

    def _span(self, record: Record, message: Envelope) -> trace.Span:
        return self._tracer.start_span(
            f"apply {message.type}",
            context=extract_context(_headers(record)),
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


def _headers(record: Record) -> dict[str, str]:
    return {k: v.decode(errors="replace") for k, v in record.headers or ()}


def message_type(record: Record) -> str | None:
    """The record's message type, read cheaply: its `TYPE_HEADER`, else the JSON's `type`
    field (a record published before the header, a dead letter); None if neither is readable."""
    kind = header(record, TYPE_HEADER)
    return kind if kind is not None else peek_type(record.value or b"")


def header(record: Record, name: str) -> str | None:
    for key, value in record.headers or ():
        if key == name:
            return bytes(value).decode(errors="replace")
    return None


def redrives(record: Record, outcome: str) -> bool:
    """Whether `record` re-drives a message this inbox dead-lettered (applied once more)."""
    return outcome == "dead_lettered" and header(record, REDRIVEN_FROM) is not None


def consumed(record: Record, event_id: uuid.UUID) -> inbox_store.Consumed:
    return inbox_store.Consumed(event_id, record.topic, record.partition, record.offset)


def record_key(record: Record) -> str:
    return f"{record.topic}/{record.partition}@{record.offset}"
