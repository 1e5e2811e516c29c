"""Where an order's time goes, hop by hop (issue 15): for every topic and every service that
consumes it, the delay from the producer's outbox commit to the relay's publish, and from the
publish to the consumer applying it, p50 / p99, over the messages of a measured window.

Read afterwards from the services' own tables, so it adds nothing to the path it measures:
`outbox.created_at` (the producing transaction's time), `outbox.published_at` (the relay's
acknowledged publish) and `inbox.processed_at` (the consuming transaction's time). All three
are PostgreSQL's clock, one server, so the differences need no synchronised clocks.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import datetime

import asyncpg

from benchmarks.harness import p50_p99
from shared.settings import database_url_for


async def _fetch(url: str, query: str, since: datetime) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(url)
    try:
        rows: list[asyncpg.Record] = await conn.fetch(query, since)
        return rows
    finally:
        await conn.close()


async def hop_delays(
    server_url: str, prefix: str, services: list[str], since: datetime
) -> list[str]:
    """One printable line per (topic, consumer): count, commit → publish, publish → applied."""
    published: dict[uuid.UUID, tuple[str, str, datetime, datetime]] = {}
    applied: dict[str, list[tuple[uuid.UUID, str, datetime]]] = {}
    for service in services:
        url = database_url_for(server_url, f"{prefix}_{service}")
        for row in await _fetch(
            url,
            "SELECT event_id, topic, created_at, published_at FROM outbox "
            "WHERE created_at >= $1 AND published_at IS NOT NULL",
            since,
        ):
            published[row["event_id"]] = (
                service,
                row["topic"],
                row["created_at"],
                row["published_at"],
            )
        applied[service] = [
            (r["event_id"], r["topic"], r["processed_at"])
            for r in await _fetch(
                url,
                "SELECT event_id, topic, processed_at FROM inbox "
                "WHERE processed_at >= $1 AND outcome = 'applied'",
                since,
            )
        ]
    relay: dict[tuple[str, str, str], list[float]] = defaultdict(list)
    consume: dict[tuple[str, str, str], list[float]] = defaultdict(list)
    for consumer, rows in applied.items():
        for event_id, topic, processed_at in rows:
            if (origin := published.get(event_id)) is None:
                continue
            producer, _, created_at, published_at = origin
            key = (topic, producer, consumer)
            relay[key].append((published_at - created_at).total_seconds())
            consume[key].append((processed_at - published_at).total_seconds())
    lines = []
    for key in sorted(consume):
        topic, producer, consumer = key
        r50, r99 = p50_p99(relay[key])
        c50, c99 = p50_p99(consume[key])
        lines.append(
            f"{topic:<26} {producer:>9} → {consumer:<9} {len(consume[key]):>6}  "
            f"commit→publish {r50 * 1000:6.1f} / {r99 * 1000:6.1f} ms   "
            f"publish→applied {c50 * 1000:6.1f} / {c99 * 1000:6.1f} ms"
        )
    return lines
