"""The ledger against the real broker and PostgreSQL: messages in, balances and events out."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from typing import Any

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer

from services.ledger import store
from services.ledger.app import MIGRATIONS, NAME, build
from services.ledger.domain import LedgerPolicy
from services.ledger.handlers import make_handler
from services.ledger.invariants import check_invariants
from services.ledger.settings import LedgerSettings
from shared.contracts import Envelope, Payload, decode
from shared.contracts.ledger import FundsHeld, FundsHoldRejected, HoldReleased
from shared.contracts.orders import Side
from shared.contracts.reasons import RejectReason
from shared.db import connect, create_pool
from shared.emitter import Emitter
from shared.kafka import make_producer
from shared.service import ServiceRuntime, prepare_database
from tests.support.running import running_service
from tests.support.topics import publish
from tests.support.waiting import eventually
from tests.unit.ledger.messages import D, approve, cancelled, deposit, fill

pytestmark = pytest.mark.integration


@pytest.fixture
def user() -> str:
    return "u-" + uuid.uuid4().hex[:10]


@pytest.fixture
async def ledger(settings_factory: Callable[..., Any]) -> AsyncIterator[ServiceRuntime[Any]]:
    settings = settings_factory(LedgerSettings, consumer_batch_size=100)
    async with running_service(NAME, settings, MIGRATIONS, build) as runtime:
        yield runtime


@pytest.fixture
async def producer(ledger: ServiceRuntime[Any]) -> AsyncIterator[AIOKafkaProducer]:
    producer = make_producer(ledger.settings.kafka_access)
    await producer.start()
    yield producer
    await producer.stop()


async def emitted(pool: asyncpg.Pool, user: str) -> list[Payload]:
    rows = await pool.fetch("SELECT value FROM outbox WHERE key = $1 ORDER BY id", user)
    return [decode(bytes(r["value"])).payload for r in rows]


async def balances_of(pool: asyncpg.Pool, user: str) -> dict[str, tuple[Decimal, Decimal]]:
    async with pool.acquire() as conn:
        return await store.balances(conn, user)


async def funded(pool: asyncpg.Pool, user: str, amount: str) -> None:
    """Deposits and approvals travel on different topics: wait for the money before spending."""
    await eventually(
        lambda: balances_of(pool, user),
        until=lambda b: b.get("USDT") == (D(amount), D(0)),
        what=f"{amount} USDT credited",
    )


async def test_deposit_buy_and_fill_move_exactly_cost_and_fee_through_the_broker(
    ledger: ServiceRuntime[Any], producer: AIOKafkaProducer, user: str
) -> None:
    first = deposit("10000", reference=f"{user}-d1", account=user)
    await publish(
        producer,
        first,
        first,  # redelivered: the inbox skips it
        deposit("10000", reference=f"{user}-d1", account=user),  # same deposit, new event
    )
    await funded(ledger.pool, user, "10000")
    await publish(producer, approve(f"{user}-o1", "0.01", reference="60000", account=user))
    await eventually(
        lambda: balances_of(ledger.pool, user),
        until=lambda b: b.get("USDT") == (D("9339.34"), D("660.66")),
        what="the deposit credited once and the buy held",
    )
    await publish(
        producer,
        fill(f"{user}-o1", "t1", "0.01", "60000", fee="0.6", done=True, account=user),
        approve(f"{user}-o2", "1", price="60000", account=user),
    )
    final = await eventually(
        lambda: balances_of(ledger.pool, user),
        until=lambda b: "BTC" in b and b["USDT"][1] == 0,
        what="the fill settled and the rest released",
    )
    assert final == {"USDT": (D("9399.4"), D(0)), "BTC": (D("0.01"), D(0))}
    events = await eventually(
        lambda: emitted(ledger.pool, user),
        until=lambda es: any(isinstance(e, FundsHoldRejected) for e in es),
        what="the second, too large, order refused",
    )
    refused = next(e for e in events if isinstance(e, FundsHoldRejected))
    assert refused.reason is RejectReason.INSUFFICIENT_FUNDS
    assert refused.available == D("9399.4")
    assert any(isinstance(e, HoldReleased) and e.amount == D("60.06") for e in events)
    async with ledger.pool.acquire() as conn:
        assert await check_invariants(conn) == []


async def test_two_hundred_orders_racing_through_the_broker_hold_exactly_what_fits(
    ledger: ServiceRuntime[Any], producer: AIOKafkaProducer, user: str
) -> None:
    await publish(producer, deposit("1000", reference=f"{user}-d", account=user))
    await funded(ledger.pool, user, "1000")
    orders = [approve(f"{user}-{n}", "1", price="10", account=user) for n in range(200)]
    await asyncio.gather(*(publish(producer, order) for order in orders))
    events = await eventually(
        lambda: emitted(ledger.pool, user),
        until=lambda es: sum(isinstance(e, FundsHeld | FundsHoldRejected) for e in es) == 200,
        timeout=60,
        what="a decision on every order",
    )
    held = [e for e in events if isinstance(e, FundsHeld)]
    assert len(held) == 99  # 99 * 10.01 = 990.99 fits in 1000; a 100th does not
    assert await balances_of(ledger.pool, user) == {"USDT": (D("9.01"), D("990.99"))}
    async with ledger.pool.acquire() as conn:
        assert await check_invariants(conn) == []


async def test_two_hundred_concurrent_transactions_never_overdraw_one_account(
    settings_factory: Callable[..., Any], user: str
) -> None:
    """Straight into the handler, 200 transactions at once: the row lock decides, not luck."""
    settings = settings_factory(LedgerSettings)
    url = await prepare_database(settings, NAME, MIGRATIONS)
    pool = await create_pool(url, size=40)
    handle = make_handler(LedgerPolicy(), emitter=Emitter(NAME))
    try:
        async with pool.acquire() as conn, conn.transaction():
            await handle(conn, deposit("500.5", reference=f"{user}-d", account=user))

        async def apply(message: Envelope) -> None:
            async with pool.acquire() as conn, conn.transaction():
                await handle(conn, message)

        approvals = [
            approve(f"{user}-{n}", "1", side=Side.BUY, price="10", account=user) for n in range(200)
        ]
        await asyncio.gather(*(apply(m) for m in approvals))
        open_holds = await pool.fetchval(
            "SELECT count(*) FROM holds WHERE account_id = $1 AND status = 'open'", user
        )
        assert open_holds == 50
        assert await balances_of(pool, user) == {"USDT": (D(0), D("500.5"))}
        await asyncio.gather(*(apply(cancelled(f"{user}-{n}", account=user)) for n in range(200)))
        assert await balances_of(pool, user) == {"USDT": (D("500.5"), D(0))}
        async with pool.acquire() as conn:
            assert await check_invariants(conn) == []
    finally:
        await pool.close()


async def test_the_journal_cannot_be_rewritten_or_unbalanced(
    settings_factory: Callable[..., Any], user: str
) -> None:
    settings = settings_factory(LedgerSettings)
    url = await prepare_database(settings, NAME, MIGRATIONS)
    conn = await connect(url)
    try:
        async with conn.transaction():
            await make_handler(LedgerPolicy(), emitter=Emitter(NAME))(
                conn, deposit("5", reference=user, account=user)
            )
        for statement in (
            "UPDATE journal SET reference = 'x'",
            "DELETE FROM postings",
            "TRUNCATE journal CASCADE",
            "TRUNCATE postings",
        ):
            with pytest.raises(asyncpg.InsufficientPrivilegeError, match="insert-only"):
                await conn.execute(statement)
        entry_id = await conn.fetchval("SELECT max(entry_id) FROM journal")
        with pytest.raises(asyncpg.CheckViolationError, match="does not balance"):
            await conn.execute(
                "INSERT INTO postings (entry_id, owner, asset, bucket, amount) "
                "VALUES ($1, $2, 'USDT', 'available', 1)",
                entry_id,
                user,
            )
        with pytest.raises(asyncpg.CheckViolationError):
            await conn.execute(
                "UPDATE balances SET amount = amount - 6 WHERE owner = $1 AND bucket = 'available'",
                user,
            )
        assert await check_invariants(conn) == []
    finally:
        await conn.close()
