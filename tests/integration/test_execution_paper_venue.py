"""The paper venue and execution's store against real PostgreSQL (no broker: the outbox is read)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
import pytest

import services.execution
from services.execution.app import paper_rules, seed_paper_prices, venue_factory
from services.execution.handlers import ExecutionHandler
from services.execution.paper.ticker import PaperMarket
from services.execution.settings import ExecutionSettings
from shared.clock import utc_now
from shared.contracts import Envelope, Payload, decode, new_message
from shared.contracts.execution import FillStatus, OrderFilled, PriceTick, WithdrawalSent
from shared.contracts.ledger import FundsHeld, HoldPurpose
from shared.contracts.orders import CancelOrder, OrderSpec, OrderType, Side
from shared.contracts.wallet import WithdrawalSpec
from shared.db import create_pool, drop_database
from shared.emitter import Emitter
from shared.ids import SYSTEM_ACCOUNT
from shared.service import prepare_database

pytestmark = pytest.mark.integration
MIGRATIONS = Path(services.execution.__file__).parent / "migrations"
EXECUTION = Emitter("execution")


class Paper:
    def __init__(self, pool: asyncpg.Pool, settings: ExecutionSettings) -> None:
        self.pool = pool
        self.settings = settings
        rules = paper_rules(settings)
        self.handler = ExecutionHandler(venue_for=venue_factory(rules), emitter=EXECUTION)
        self.market = PaperMarket(
            pool,
            rules=rules,
            seed=settings.paper_seed,
            volatility=settings.paper_volatility,
            tick_seconds=settings.paper_tick_seconds,
            emitter=EXECUTION,
        )

    async def deliver(self, payload: Payload, *, account: str = "alice") -> Envelope:
        message = new_message(
            payload, producer="test", account_id=account, correlation_id="c", now=utc_now()
        )
        async with self.pool.acquire() as conn, conn.transaction():
            await self.handler(conn, message)
        return message

    async def outbox(self) -> list[Envelope]:
        rows = await self.pool.fetch("SELECT value FROM outbox ORDER BY id")
        return [decode(bytes(r["value"])) for r in rows]

    async def events_of(self, correlation_id: str) -> list[Envelope]:
        return [m for m in await self.outbox() if m.correlation_id == correlation_id]

    async def set_price(self, symbol: str, price: str) -> None:
        await self.pool.execute(
            "UPDATE paper_prices SET price = $2 WHERE symbol = $1", symbol, Decimal(price)
        )


@pytest.fixture
async def paper(settings_factory: Callable[..., Any], db_prefix: str) -> AsyncIterator[Paper]:
    settings: ExecutionSettings = settings_factory(ExecutionSettings, paper_volatility="0")
    url = await prepare_database(settings, "execution", MIGRATIONS)
    pool = await create_pool(url, size=4)
    async with pool.acquire() as conn:
        await seed_paper_prices(conn, settings.paper_start_prices)
    try:
        yield Paper(pool, settings)
    finally:
        await pool.close()
        await drop_database(settings.database_url, f"{db_prefix}_execution")


def order_held(order_id: str, *, price: str | None = None, side: Side = Side.BUY) -> FundsHeld:
    spec = OrderSpec(
        order_id=order_id,
        symbol="BTC/USDT",
        side=side,
        type=OrderType.LIMIT if price else OrderType.MARKET,
        amount=Decimal("0.01"),
        price=Decimal(price) if price else None,
    )
    return FundsHeld(
        hold_id="h-" + order_id, purpose=HoldPurpose.ORDER, asset="USDT", amount="700", order=spec
    )


async def test_a_market_buy_fills_at_the_walk_price_with_a_tenth_of_a_percent_fee(
    paper: Paper,
) -> None:
    await paper.deliver(order_held("o-market"))
    await paper.deliver(order_held("o-market"))  # redelivered by the ledger: placed once

    events = await paper.events_of("o-market")
    assert [m.type for m in events] == ["OrderSubmitted", "OrderFilled"]
    fill = events[1].body(OrderFilled)
    assert (fill.price, fill.fee, fill.status) == (
        Decimal("65000.00"),
        Decimal("0.65"),
        FillStatus.FILLED,
    )
    assert await paper.pool.fetchval("SELECT count(*) FROM paper_orders") == 1
    assert await paper.pool.fetchval("SELECT status FROM orders") == "filled"


@pytest.mark.parametrize(("side", "limit"), [(Side.BUY, "70200.00"), (Side.SELL, "59800.00")])
async def test_a_limit_that_crosses_on_arrival_fills_at_the_market_price_not_its_limit(
    paper: Paper, side: Side, limit: str
) -> None:
    await paper.deliver(order_held("o-cross", price=limit, side=side))  # 8% through the market

    _submitted, filled = await paper.events_of("o-cross")
    fill = filled.body(OrderFilled)
    assert (fill.price, fill.fee, fill.status) == (
        Decimal("65000.00"),
        Decimal("0.65"),  # 0.1% of what was paid, not of the limit's notional
        FillStatus.FILLED,
    )


async def test_a_resting_limit_fills_at_its_price_when_a_tick_crosses_it(paper: Paper) -> None:
    await paper.deliver(order_held("o-limit", price="60000.00"))
    assert [m.type for m in await paper.events_of("o-limit")] == ["OrderSubmitted"]

    await paper.set_price("BTC/USDT", "59990.00")
    await paper.market.tick_all()

    tick = next(m for m in await paper.outbox() if m.correlation_id == "BTC/USDT")
    assert tick.account_id == SYSTEM_ACCOUNT
    assert tick.body(PriceTick).price == Decimal("59990.00")
    _submitted, filled = await paper.events_of("o-limit")
    fill = filled.body(OrderFilled)
    assert (fill.price, fill.fee) == (Decimal("60000.00"), Decimal("0.60"))  # its limit: a maker
    assert filled.causation_id == tick.event_id
    assert filled.account_id == "alice"


async def test_a_cancelled_resting_order_is_not_filled_by_a_later_tick(paper: Paper) -> None:
    await paper.deliver(order_held("o-cancel", price="70000.00", side=Side.SELL))
    await paper.deliver(CancelOrder(order_id="o-cancel"))
    await paper.set_price("BTC/USDT", "71000.00")
    await paper.market.tick_all()

    assert [m.type for m in await paper.events_of("o-cancel")] == [
        "OrderSubmitted",
        "OrderCancelled",
    ]


async def test_a_cancel_before_the_funds_means_the_order_is_never_placed(paper: Paper) -> None:
    await paper.deliver(CancelOrder(order_id="o-early"))
    await paper.deliver(order_held("o-early"))

    assert [m.type for m in await paper.events_of("o-early")] == ["OrderCancelled"]
    assert await paper.pool.fetchval("SELECT count(*) FROM paper_orders") == 0


async def test_a_restart_continues_the_walk_instead_of_starting_over(paper: Paper) -> None:
    first = await paper.market.tick_all()
    async with paper.pool.acquire() as conn:  # what a restarted service does first
        await seed_paper_prices(conn, {"BTC/USDT": Decimal("1.00")})
    second = await paper.market.tick_all()

    btc = [p for p in first + second if p.symbol == "BTC/USDT"]
    assert [p.sequence for p in btc] == [1, 2]
    assert all(p.price == Decimal("65000.00") for p in btc)  # volatility 0 in this test


async def test_a_paper_withdrawal_is_sent_at_once_with_a_made_up_txid(paper: Paper) -> None:
    spec = WithdrawalSpec(withdrawal_id="w-1", asset="USDT", amount="25", address="0xabc")
    held = FundsHeld(
        hold_id="h-w", purpose=HoldPurpose.WITHDRAWAL, asset="USDT", amount="25", withdrawal=spec
    )
    await paper.deliver(held)
    await paper.deliver(held)

    (sent,) = [m.body(WithdrawalSent) for m in await paper.events_of("w-1")]
    assert sent.amount == Decimal("25") and sent.txid.startswith("paper-")
