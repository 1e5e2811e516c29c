"""The gateway's read models, a consumed batch at a time, end exactly where they end a message
at a time: orders (status, reason, fills and totals), balances, trail entries, audit links."""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import asyncpg
import pytest

from services.gateway.metrics import GatewayMetrics
from services.gateway.readmodels import ReadModels
from services.gateway.readmodels_batch import BatchedReadModels
from services.gateway.store import orders, trail
from shared.clock import utc_now
from shared.contracts import Envelope, Payload, new_message
from shared.contracts.audit import AuditChainLinks, AuditLink
from shared.contracts.decisions import OrderApproved, OrderRejected
from shared.contracts.execution import (
    FillStatus,
    OrderCancelled,
    OrderFailed,
    OrderFilled,
    OrderOutcomeUnknown,
    OrderSubmitted,
)
from shared.contracts.ledger import BalanceChanged, FundsHeld, FundsHoldRejected, HoldPurpose
from shared.contracts.orders import OrderSpec, OrderType, PlaceOrder, Side
from shared.contracts.reasons import RejectReason
from shared.db import create_pool
from shared.service import prepare_database
from tests.support.gateway_service import MIGRATIONS

pytestmark = pytest.mark.integration
USERS = ("ra", "rb", "rc")
HASH = "0" * 64


def _spec(order_id: str) -> OrderSpec:
    return OrderSpec(
        order_id=order_id,
        symbol="BTC/USDT",
        side=Side.BUY,
        type=OrderType.MARKET,
        amount=Decimal("0.5"),
    )


def _message(payload: Payload, user: str, correlation: str) -> Envelope:
    return new_message(
        payload, producer="test", account_id=user, correlation_id=correlation, now=utc_now()
    )


def _news(rng: random.Random, order_id: str, n: int) -> Payload:
    """One thing some service may say about an order (stale, repeated, contradictory)."""
    reason = rng.choice([RejectReason.INSUFFICIENT_FUNDS, RejectReason.EXCHANGE_REJECTED])
    trade = f"t{rng.randint(0, 3)}"
    status = rng.choice([FillStatus.PARTIALLY_FILLED, FillStatus.FILLED])
    return rng.choice(
        [
            OrderApproved(
                order=_spec(order_id), reference_price=Decimal(100), price_band=Decimal("0.1")
            ),
            OrderRejected(order_id=order_id, reason=reason, rule="r", detail=f"no {n}"),
            FundsHeld(
                hold_id=order_id, purpose=HoldPurpose.ORDER, asset="USDT", amount=Decimal(55)
            ),
            FundsHoldRejected(
                hold_id=order_id,
                purpose=HoldPurpose.ORDER,
                reason=RejectReason.INSUFFICIENT_FUNDS,
                asset="USDT",
                requested=Decimal(55),
                available=Decimal(1),
            ),
            OrderSubmitted(order_id=order_id, client_order_id=order_id, venue="paper"),
            OrderOutcomeUnknown(order_id=order_id, client_order_id=order_id, detail="timeout"),
            OrderFilled(
                order_id=order_id,
                trade_id=trade,
                symbol="BTC/USDT",
                side="buy",
                amount=Decimal(f"0.{rng.randint(1, 9)}"),
                price=Decimal(f"{rng.randint(90, 110)}.{rng.randint(0, 99)}"),
                fee=Decimal("0.01"),
                fee_asset="USDT",
                status=status,
                cumulative_amount=Decimal("0.5"),
            ),
            OrderFilled(
                order_id=order_id,
                trade_id=trade,
                symbol="BTC/USDT",
                side="buy",
                amount=Decimal("0.2"),
                price=Decimal(100),
                fee=Decimal("0.01"),
                fee_asset="USDT",
                status=FillStatus.PARTIALLY_FILLED,
                cumulative_amount=Decimal("0.2"),
            ),
            OrderCancelled(order_id=order_id),
            OrderFailed(order_id=order_id, reason=reason, detail=f"failed {n}"),
        ]
    )


def history(rng: random.Random, order_ids: list[str], owner: dict[str, str]) -> list[Envelope]:
    """Order news (some for another user's order or an unknown one), balance reports with
    versions out of order, audit links."""
    log: list[Envelope] = []
    for n in range(700):
        kind = rng.random()
        if kind < 0.7:
            order_id = rng.choice([*order_ids, "unknown-order"])
            user = owner.get(order_id, USERS[0])
            if rng.random() < 0.05:
                user = next(u for u in USERS if u != user)  # someone else's order: ignored
            log.append(_message(_news(rng, order_id, n), user, order_id))
        elif kind < 0.9:
            user, asset = rng.choice(USERS), rng.choice(["USDT", "BTC"])
            report = BalanceChanged(
                asset=asset,
                available=Decimal(rng.randint(0, 999)),
                held=Decimal(rng.randint(0, 99)),
                version=rng.randint(1, 40),
            )
            log.append(_message(report, user, f"balance-{user}"))
        else:
            links = [
                AuditLink(event_id=rng.choice(log).event_id if log else uuid.uuid4(), seq=n + 1,
                          prev_hash=HASH, hash=HASH)
            ]  # fmt: skip
            payload = AuditChainLinks(after_seq=n, through_seq=n + 1, links=links)
            log.append(_message(payload, "system", "audit"))
    return log


async def snapshot(pool: asyncpg.Pool) -> dict[str, list[tuple[Any, ...]]]:
    queries = {
        "orders": "SELECT order_id, user_id, status, reject_reason, reject_detail, "
        "filled_amount, average_price, fees::text, fee_asset FROM orders ORDER BY order_id",
        "fills": "SELECT order_id, trade_id, amount, price, fee, fee_asset FROM order_fills "
        "ORDER BY order_id, trade_id",
        "balances": "SELECT user_id, asset, available, held, version FROM balances "
        "ORDER BY user_id, asset",
        "trail": "SELECT event_id, user_id, correlation_id, type FROM audit_entries ORDER BY seq",
        "links": "SELECT event_id, seq FROM audit_links ORDER BY event_id",
    }
    async with pool.acquire() as conn:
        return {name: [tuple(r) for r in await conn.fetch(q)] for name, q in queries.items()}


async def test_a_batch_moves_the_read_models_exactly_as_one_message_at_a_time(
    settings_factory: Callable[..., Any],
) -> None:
    rng = random.Random(5)
    order_ids = [f"rm-{n}-{uuid.uuid4().hex[:4]}" for n in range(40)]
    owner = {order_id: rng.choice(USERS) for order_id in order_ids}
    log = history(rng, order_ids, owner)
    one = ReadModels(GatewayMetrics(), utc_now)
    batched = BatchedReadModels(one)
    settings = settings_factory()
    pools = [
        await create_pool(await prepare_database(settings, name, MIGRATIONS), size=2)
        for name in ("gateway", "gatewaybatch")
    ]
    placed = [_message(PlaceOrder(order=_spec(o)), owner[o], o) for o in order_ids]
    try:
        for pool in pools:
            async with pool.acquire() as conn:
                for order in placed:  # accepted over HTTP: the order and its first entry
                    await orders.insert_order(
                        conn, order.account_id, _spec(order.correlation_id), utc_now()
                    )
                    await trail.add_entry(conn, order, order.account_id)
        async with pools[0].acquire() as conn:
            for message in log:
                async with conn.transaction():
                    await one.handle(conn, message)
        async with pools[1].acquire() as conn:
            rest = list(log)
            while rest:
                size = rng.randint(2, 60)
                batch, rest = rest[:size], rest[size:]
                async with conn.transaction():
                    await batched.handle(conn, batch)
        expected, got = await snapshot(pools[0]), await snapshot(pools[1])
        for table in expected:
            assert got[table] == expected[table], table
        statuses = {row[2] for row in expected["orders"]}
        assert len(statuses) >= 4 and expected["fills"] and expected["links"], statuses
    finally:
        for pool in pools:
            await pool.close()
