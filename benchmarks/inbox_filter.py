"""What a message a consumer ignores costs its inbox, before and after the type filter: batches of
`BalanceChanged` (what execution and safety read and ignore, 3 per order) through `BatchApplier`
with a handler that does nothing, against PostgreSQL, with and without `acts_on`; batches of 250
(a backlog) and of 1 (a quiet system: a batch of ignored messages was a whole transaction).

`python -m benchmarks.inbox_filter` (starts its own embedded PostgreSQL; `DATABASE_URL` to use
one). Prints CPU µs per ignored message (the process's CPU time, so other load counts less).
"""

from __future__ import annotations

import asyncio
import tempfile
import time
import uuid
from pathlib import Path

from aiokafka import ConsumerRecord
from opentelemetry import trace

from shared.clock import utc_now
from shared.contracts import Envelope, encode, new_message
from shared.contracts.envelope import TYPE_HEADER
from shared.contracts.ledger import BalanceChanged
from shared.db import Connection, create_pool, ensure_database
from shared.inbox_apply import BatchApplier, InboxStats, Record
from shared.infra.resolve import provide
from shared.migrate import migrate

MESSAGES = 10_000


def batch(start: int, size: int) -> list[Record]:
    records = []
    for offset in range(start, start + size):
        payload = BalanceChanged(asset="USDT", available="100.5", held="2", version=offset + 1)
        value = encode(
            new_message(
                payload, producer="ledger", account_id="u-1", correlation_id="o-1", now=utc_now()
            )
        )
        headers = [(TYPE_HEADER, b"BalanceChanged"), ("traceparent", b"00-" + b"0" * 50)]
        records.append(
            ConsumerRecord(
                "ledger.events.v1", 0, offset, 0, 0, b"u-1", value, None, 3, len(value), headers
            )
        )
    return records


async def nothing(conn: Connection, message: Envelope) -> None:
    return None


async def measure(url: str, acts_on: frozenset[str] | None, size: int) -> float:
    pool = await create_pool(url, size=2)
    try:
        applier = BatchApplier(pool, nothing, None, InboxStats(), trace.get_tracer("b"), acts_on)
        batches = [batch(i * size, size) for i in range(MESSAGES // size)]
        cpu = time.process_time()
        for records in batches:
            assert (await applier.apply(records))[1] is None
        return 1e6 * (time.process_time() - cpu) / MESSAGES
    finally:
        await pool.close()


async def run(server_url: str, no_migrations: Path) -> None:
    for round_, size in ((1, 250), (2, 250), (3, 1), (4, 1)):
        for label, acts_on in (
            ("decoded + inbox row", None),
            ("skipped by type", frozenset({"X"})),
        ):
            url = await ensure_database(server_url, "filter" + uuid.uuid4().hex[:8])
            await migrate(url, no_migrations)  # the shared inbox and outbox only
            cost = await measure(url, acts_on, size)
            print(f"  {round_}. batches of {size:3}, {label:20} {cost:7.1f} CPU µs/message")


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="cryptoorch-filter-") as folder:
        infra = provide(Path(folder), durable=True, allow_containers=False)
        try:
            (Path(folder) / "none").mkdir()
            asyncio.run(run(infra.database_url, Path(folder) / "none"))
        finally:
            infra.stop()


if __name__ == "__main__":
    main()
