"""Execution: market orders/s through the paper venue (FundsHeld in → OrderFilled on the broker),
beside the raw broker rate of the same run; and the startup reconciliation of open orders at a
simulated Binance (`benchmarks.execution_restart`).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator, Collection
from contextlib import asynccontextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer

from benchmarks import execution_restart
from benchmarks.execution_restart import MIGRATIONS, NAME
from benchmarks.harness import Report, publish, read_to_end, skip_backlog, stopwatch
from services.execution.app import build
from services.execution.settings import ExecutionSettings
from shared.clock import utc_now
from shared.contracts import Envelope, Payload, new_message
from shared.contracts.access import readable_by
from shared.contracts.execution import FillStatus
from shared.contracts.ledger import FundsHeld, HoldPurpose
from shared.contracts.orders import OrderSpec, OrderType, Side
from shared.contracts.topics import Topic
from shared.kafka import FETCH_MAX_WAIT_MS, ensure_topics
from shared.kafka_access import KafkaAccess
from shared.service import ServiceRuntime, Task
from tests.support.running import running_service

ACCOUNTS = 64


def market_order_held(order_id: str) -> FundsHeld:
    """A paper market buy of 0.001 BTC, its funds held (what the ledger sends execution)."""
    spec = OrderSpec(
        order_id=order_id,
        symbol="BTC/USDT",
        side=Side.BUY,
        type=OrderType.MARKET,
        amount=Decimal("0.001"),
    )
    return FundsHeld(
        hold_id="h-" + order_id, purpose=HoldPurpose.ORDER, asset="USDT", amount="70", order=spec
    )


def envelope(payload: Payload, account: str, correlation_id: str) -> Envelope:
    return new_message(
        payload, producer="bench", account_id=account, correlation_id=correlation_id, now=utc_now()
    )


class FillReader:
    """Reads `execution.events` from where it ended when opened; counts the orders whose last
    `OrderFilled` (status `filled`) went by. Plain JSON, not the contract models: the reader
    shares the event loop with the service it measures."""

    def __init__(self, consumer: AIOKafkaConsumer) -> None:
        self._consumer = consumer
        self.filled: set[str] = set()

    async def until_filled(self, orders: Collection[str], within: float) -> None:
        deadline = time.monotonic() + within
        while not self.filled.issuperset(orders):
            if time.monotonic() > deadline:
                missing = len(set(orders) - self.filled)
                raise TimeoutError(f"{missing} of {len(orders)} orders not filled in {within}s")
            batches = await self._consumer.getmany(timeout_ms=200, max_records=10_000)
            for records in batches.values():
                for record in records:
                    event = json.loads(record.value)
                    payload = event["payload"]
                    if event["type"] == "OrderFilled" and payload["status"] == FillStatus.FILLED:
                        self.filled.add(payload["order_id"])


@asynccontextmanager
async def fill_reader(bootstrap: str) -> AsyncIterator[FillReader]:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, fetch_max_wait_ms=FETCH_MAX_WAIT_MS
    )
    await consumer.start()
    try:
        await read_to_end(consumer, bootstrap, [Topic.EXECUTION_EVENTS.value])
        yield FillReader(consumer)
    finally:
        await consumer.stop()


async def paper_orders(server_url: str, bootstrap: str, report: Report, count: int) -> None:
    tag = "bench" + uuid.uuid4().hex[:8]
    settings = ExecutionSettings(
        KAFKA_BOOTSTRAP_SERVERS=bootstrap, DATABASE_URL=server_url, db_prefix=tag
    )
    await ensure_topics(KafkaAccess(bootstrap))
    await skip_backlog(bootstrap, f"{tag}.{NAME}", readable_by(NAME))
    ids = [f"{tag}-o{i}" for i in range(count + 1)]
    held = [envelope(market_order_held(o), f"{tag}-u{i % ACCOUNTS}", o) for i, o in enumerate(ids)]

    def relay_and_consumers(runtime: ServiceRuntime[Any]) -> list[Task]:
        # the paper market's ticks and the network venues' sender are not part of the figure
        return [runtime.relay.run, *(c.run for c in runtime.consumers)]

    async with (
        fill_reader(bootstrap) as fills,
        running_service(NAME, settings, MIGRATIONS, build, relay_and_consumers),
    ):
        await publish(bootstrap, held[:1])
        await fills.until_filled(ids[:1], within=60)  # group joined, relay going: not timed
        with stopwatch() as t:
            await publish(bootstrap, held[1:])
            await fills.until_filled(ids[1:], within=60 + count / 10)
    report.add(
        "execution_paper",
        "execution: paper market orders, FundsHeld → OrderFilled",
        count,
        t[0],
        "orders/s",
        baseline="broker",
    )


async def run(server_url: str, bootstrap: str, report: Report, scratch: Path, scale: float) -> None:
    await paper_orders(server_url, bootstrap, report, int(5_000 * scale))
    await execution_restart.run(server_url, bootstrap, report, int(1_000 * scale))
