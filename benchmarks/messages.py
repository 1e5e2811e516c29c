"""How many messages one order costs (issue 16, "fewer, cheaper messages"): produced per topic
and type (the services' outboxes), and read per consumer group, split into those its handler
acts on (`shared.contracts.access.ACTS_ON`) and those it ignores (skipped by the inbox undecoded), with the
inbox rows it wrote as a check. Read afterwards from the services' own tables, over a window.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime

import asyncpg

from shared.contracts.access import acts_on, readable_by
from shared.settings import database_url_for


async def _counts(
    url: str, since: datetime, until: datetime
) -> tuple[Counter[tuple[str, str]], int]:
    conn = await asyncpg.connect(url)
    try:
        produced = await conn.fetch(
            "SELECT topic, convert_from(value, 'UTF8')::jsonb ->> 'type' AS type, count(*) AS n "
            "FROM outbox WHERE created_at >= $1 AND created_at < $2 GROUP BY 1, 2",
            since,
            until,
        )
        inbox = await conn.fetchval(
            "SELECT count(*) FROM inbox WHERE processed_at >= $1 AND processed_at < $2",
            since,
            until,
        )
    finally:
        await conn.close()
    return Counter({(r["topic"], r["type"]): r["n"] for r in produced}), int(inbox)


async def message_counts(
    server_url: str, prefix: str, services: list[str], since: datetime, until: datetime, orders: int
) -> list[str]:
    """Printable lines: messages per order produced (by topic and type), then read, acted on,
    ignored and recorded in the inbox by each consumer group, over [since, until)."""
    produced: Counter[tuple[str, str]] = Counter()
    recorded: dict[str, int] = {}
    for service in services:
        url = database_url_for(server_url, f"{prefix}_{service}")
        counts, recorded[service] = await _counts(url, since, until)
        produced.update(counts)
    per = max(1, orders)
    lines = [f"produced per order ({orders} orders): {sum(produced.values()) / per:.2f}"]
    for (topic, kind), n in sorted(produced.items()):
        lines.append(f"  {topic:24} {kind:28} {n / per:6.2f}")
    lines.append("read per order by each consumer group: read = acted on + ignored (inbox rows)")
    for service in services:
        topics = set(readable_by(service))
        acted_on = acts_on(service)
        read = {key: n for key, n in produced.items() if key[0] in topics}
        acted = sum(n for (_, kind), n in read.items() if acted_on is None or kind in acted_on)
        total = sum(read.values())
        lines.append(
            f"  {service:10} read {total / per:6.2f} = acted on {acted / per:6.2f} + ignored "
            f"{(total - acted) / per:6.2f}   (inbox rows {recorded[service] / per:6.2f})"
        )
    return lines
