"""Publish where each message sits in the chain (`AuditChainLinks`), so readers can show it.

Services share no database: the gateway learns a message's `hash`/`prev_hash` for
`GET /v1/audit` only from what the audit service publishes. A background task reads the
rows appended since the last batch and enqueues them, at most `MAX_LINKS` per message,
in the transaction that moves the cursor on (outbox: at least once; readers are
idempotent by `event_id`). Prices and audit's own topic are left out: prices belong to
no one's entries, and linking audit's own messages would publish links of links forever.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime

import asyncpg

from services.audit import store
from shared.contracts import Topic
from shared.contracts.audit import MAX_LINKS, AuditChainLinks, AuditLink
from shared.db import TRANSIENT_ERRORS, Connection
from shared.emitter import Emitter
from shared.ids import SYSTEM_ACCOUNT, derived_id

log = logging.getLogger(__name__)
UNLINKED_TOPICS = [
    Topic.MARKET_PRICES.value,
    Topic.MARKET_PRICES.dlq,
    Topic.AUDIT_CHECKPOINTS.value,
    Topic.AUDIT_CHECKPOINTS.dlq,
]


def batch_through(links: list[AuditLink], head_seq: int, limit: int) -> int:
    """Where a batch ends: its last link when it is full (more may follow), else the head."""
    return links[-1].seq if len(links) >= limit else head_seq


async def publish_links(
    conn: Connection, emitter: Emitter, *, database: str, now: datetime, limit: int = MAX_LINKS
) -> int | None:
    """Enqueue the links of the next rows and move the cursor, in one transaction.

    Returns how many links were enqueued, or None when the cursor is at the head.
    """
    async with conn.transaction():
        after = await store.lock_links_cursor(conn)
        head = await store.read_head(conn)
        if head.seq <= after:
            return None
        links = await store.links_after(
            conn, after, head.seq, skip_topics=UNLINKED_TOPICS, limit=limit
        )
        through = batch_through(links, head.seq, limit)
        if links:
            await emitter.emit(
                conn,
                AuditChainLinks(after_seq=after, through_seq=through, links=links),
                account_id=SYSTEM_ACCOUNT,
                correlation_id=f"audit-links-{through}",
                now=now,
                event_id=derived_id("audit-links", database, after, through),
            )
        await store.advance_links_cursor(conn, through)
    return len(links)


class ChainLinksTask:
    """Background task: every `poll_seconds`, publish links until the cursor is at the head."""

    def __init__(
        self, pool: asyncpg.Pool, emitter: Emitter, *, database: str, poll_seconds: float
    ) -> None:
        self._pool = pool
        self._emitter = emitter
        self._database = database
        self._poll = poll_seconds

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.catch_up(stop)
            except TRANSIENT_ERRORS as exc:  # database unavailable: the next look retries
                log.warning("audit: chain links not published (%s); retrying", exc)
            try:
                await asyncio.wait_for(stop.wait(), timeout=self._poll)
            except TimeoutError:
                pass

    async def catch_up(self, stop: asyncio.Event | None = None) -> None:
        async with self._pool.acquire() as conn:
            while stop is None or not stop.is_set():
                now = self._emitter.clock()
                if (
                    await publish_links(conn, self._emitter, database=self._database, now=now)
                    is None
                ):
                    return
