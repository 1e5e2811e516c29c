"""Execution's own memory of kill switches, on the real broker and PostgreSQL with the ledger:
an order safety approved just before a switch, reaching execution after it, is cancelled there
without ever reaching the venue, and the ledger releases its funds."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from typing import Any

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer

from services.execution.app import build as build_execution
from services.execution.domain.orders import client_order_id
from services.execution.settings import ExecutionSettings
from services.ledger import store as ledger_store
from services.ledger.app import MIGRATIONS as LEDGER_MIGRATIONS
from services.ledger.app import build as build_ledger
from services.ledger.settings import LedgerSettings
from shared.contracts import decode
from shared.contracts.accounts import KillSwitchChanged
from shared.kafka import make_producer
from shared.service import ServiceRuntime
from tests.integration.test_execution_service import MIGRATIONS as EXECUTION_MIGRATIONS
from tests.support.running import running_service
from tests.support.topics import publish
from tests.support.waiting import eventually
from tests.unit.ledger.messages import approve, deposit, envelope

pytestmark = pytest.mark.integration


@pytest.fixture
def user() -> str:
    return "u-" + uuid.uuid4().hex[:10]


@pytest.fixture
async def ledger(settings_factory: Callable[..., Any]) -> AsyncIterator[ServiceRuntime[Any]]:
    settings = settings_factory(LedgerSettings, consumer_batch_size=50)
    async with running_service("ledger", settings, LEDGER_MIGRATIONS, build_ledger) as runtime:
        yield runtime


@pytest.fixture
async def execution(settings_factory: Callable[..., Any]) -> AsyncIterator[ServiceRuntime[Any]]:
    settings = settings_factory(ExecutionSettings, paper_tick_seconds=0.2)
    async with running_service(
        "execution", settings, EXECUTION_MIGRATIONS, build_execution
    ) as runtime:
        yield runtime


@pytest.fixture
async def producer(ledger: ServiceRuntime[Any]) -> AsyncIterator[AIOKafkaProducer]:
    producer = make_producer(ledger.settings.kafka_access)
    await producer.start()
    yield producer
    await producer.stop()


async def usdt(ledger: ServiceRuntime[Any], user: str) -> tuple[Decimal, Decimal] | None:
    async with ledger.pool.acquire() as conn:
        return (await ledger_store.balances(conn, user)).get("USDT")


async def emitted_for(pool: asyncpg.Pool, order_id: str) -> list[str]:
    rows = await pool.fetch("SELECT value FROM outbox ORDER BY id")
    messages = [decode(bytes(r["value"])) for r in rows]
    return [m.type for m in messages if m.correlation_id == order_id]


async def test_an_order_approved_before_an_account_halt_but_arriving_after_it_is_cancelled(
    ledger: ServiceRuntime[Any],
    execution: ServiceRuntime[Any],
    producer: AIOKafkaProducer,
    user: str,
) -> None:
    await publish(producer, deposit("10000", reference=f"{user}-d", account=user))
    await eventually(
        lambda: usdt(ledger, user),
        until=lambda b: b == (Decimal("10000"), Decimal(0)),
        what="the deposit credited",
    )
    halt = KillSwitchChanged(
        scope="account", target=user, engaged=True, reason="drill", changed_by="admin"
    )
    await publish(producer, envelope(halt, account=user, correlation=f"kill-switch:{user}"))
    await eventually(
        lambda: execution.pool.fetchval(
            "SELECT engaged FROM kill_switches WHERE scope = 'account' AND target = $1", user
        ),
        what="execution remembering the engaged switch",
    )

    # safety approved this limit buy (far under the market: it would rest) before the switch
    order_id = f"{user}-late"
    await publish(producer, approve(order_id, "0.01", price="30000", account=user))

    status = await eventually(
        lambda: execution.pool.fetchval("SELECT status FROM orders WHERE order_id = $1", order_id),
        until=lambda s: s is not None and s != "pending",
        what="the late order settled at execution",
    )
    assert status == "cancelled"
    await eventually(
        lambda: usdt(ledger, user),
        until=lambda b: b == (Decimal("10000"), Decimal(0)),
        what="the hold released by the ledger",
    )
    never_at_venue = await execution.pool.fetchval(
        "SELECT count(*) FROM paper_orders WHERE client_order_id = $1", client_order_id(order_id)
    )
    assert never_at_venue == 0
    assert await emitted_for(execution.pool, order_id) == ["OrderCancelled"]
