"""Parking a message an inbox consumer cannot apply (`shared.inbox`): its original bytes, headers
and the error go to `<topic>.dlq` through the outbox, in the transaction that records it in the
inbox, so the partition moves on and nothing is half-written.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import uuid

import asyncpg

from shared import inbox_store, metrics
from shared.clock import utc_now
from shared.contracts.deadletter import DeadLettered
from shared.contracts.envelope import encode, new_message
from shared.contracts.topics import dead_letter_topic
from shared.dlq import REDRIVEN_FROM
from shared.ids import SYSTEM_ACCOUNT, derived_id
from shared.inbox_apply import Failure, Record, consumed, header, record_key
from shared.outbox import enqueue_raw

log = logging.getLogger(__name__)
_TRACEPARENT = re.compile(r"00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}")


async def park(pool: asyncpg.Pool, group_id: str, failure: Failure, attempts: int) -> None:
    """Park `failure`'s record in its topic's `.dlq` (through the outbox, with the error), in
    the transaction that marks it dead-lettered in the inbox: once per message (a re-driven
    copy that fails again is parked again, as a dead letter of its own)."""
    record = failure.record
    original_id = event_id_of(record)
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
        consumer=group_id,
    )
    redriven_from = header(record, REDRIVEN_FROM)
    # A re-driven message that fails again is parked again, under a dead letter of its own.
    event_id = (
        derived_id("dlq", group_id, original_id)
        if redriven_from is None
        else derived_id("dlq", group_id, original_id, redriven_from)
    )
    message = new_message(
        parked,
        producer=group_id,
        account_id=key[:100],
        correlation_id=str(original_id),
        event_id=event_id,
        now=utc_now(),
    )
    log.error("inbox: dead-lettering %s: %s", record_key(record), parked.error)
    async with pool.acquire() as conn, conn.transaction():
        inserted = await inbox_store.record_dead_lettered(
            conn, consumed(record, original_id), redriven=redriven_from is not None
        )
        if inserted:
            await enqueue_raw(
                conn,
                event_id=message.event_id,
                topic=dead_letter_topic(record.topic),
                key=message.account_id,
                value=encode(message),
                headers={**trace_headers(record), "dlq.error": parked.error[:500]},
            )
    metrics.DEAD_LETTERED.labels(record.topic).inc()


def trace_headers(record: Record) -> dict[str, str]:
    """The parked message's W3C trace context, if it carried a well-formed one: its dead
    letter stays in its trace (else `enqueue_raw` starts a new one)."""
    headers = {k: v.decode(errors="replace") for k, v in record.headers or ()}
    if not _TRACEPARENT.fullmatch(headers.get("traceparent", "")):
        return {}
    return {k: headers[k] for k in ("traceparent", "tracestate") if k in headers}


def event_id_of(record: Record) -> uuid.UUID:
    """The message's own event id if it has a readable one, else one derived from its position."""
    try:
        value = json.loads(record.value or b"")
        return uuid.UUID(str(value["event_id"]))
    except (ValueError, KeyError, TypeError):
        return derived_id("position", record.topic, record.partition, record.offset)
