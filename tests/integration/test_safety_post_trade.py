"""The post-trade controls at safety, through the real broker and PostgreSQL: the execution
throttle halts an account at N+1 fills (not at N) until an operator releases it; the wash
trade and order-to-trade ratio patterns are flagged once per episode, also when the messages
are delivered again."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer

from shared.contracts import Payload
from shared.contracts.accounts import KillSwitchChanged
from shared.contracts.decisions import OrderRejected, SuspiciousActivityFlagged
from shared.contracts.orders import Side
from shared.contracts.reasons import RejectReason
from shared.service import ServiceRuntime
from tests.integration.test_safety_service import (
    clock,
    decisions,
    producer,
    safety,
    symbol,
    user,
    wait_for_decisions,
)
from tests.support.topics import publish
from tests.support.waiting import eventually
from tests.unit.safety.messages import filled, kill_switch, place, tick

pytestmark = pytest.mark.integration
__all__ = ["clock", "producer", "safety", "symbol", "user"]
THROTTLE = 3
"""The test's N: fills per window an account may have."""


@pytest.fixture
def safety_overrides() -> dict[str, Any]:
    return {
        "duplicate_window_seconds": 0,
        "execution_throttle_fills": THROTTLE,
        "execution_throttle_window_seconds": 60,
        "wash_trade_window_seconds": 60,
        "order_to_trade_ratio": "2",
        "order_to_trade_min_orders": 4,
    }


async def booked(pool: asyncpg.Pool, user: str, count: int) -> None:
    """Wait until `count` fills of the account are booked: the throttle and the wash-trade
    check run in the same transaction as the booking, so their effects are then visible."""
    await eventually(
        lambda: pool.fetchval("SELECT count(*) FROM booked_fills WHERE account_id = $1", user),
        until=lambda n: n == count,
        what=f"{count} fills booked for {user}",
    )


async def account_switch(pool: asyncpg.Pool, user: str) -> asyncpg.Record | None:
    row: asyncpg.Record | None = await pool.fetchrow(
        "SELECT engaged, mode, reason, changed_by FROM kill_switches "
        "WHERE scope = 'account' AND target = $1",
        user,
    )
    return row


def emitted(found: list[Payload], kind: type[Payload]) -> list[Any]:
    return [p for p in found if isinstance(p, kind)]


async def test_the_execution_throttle_halts_at_n_plus_one_fills_until_an_operator_releases(
    safety: ServiceRuntime[Any], producer: AIOKafkaProducer, user: str, symbol: str
) -> None:
    fills = [filled(user, f"{user}-o{n}", f"{user}-t{n}", symbol=symbol) for n in range(1, 5)]
    again = filled(user, f"{user}-o3", f"{user}-t3", symbol=symbol)  # trade 3 in a new message
    await publish(producer, fills[0], fills[0], fills[1], fills[2], fills[1], again)
    await booked(safety.pool, user, THROTTLE)
    assert await account_switch(safety.pool, user) is None  # N fills: trading goes on

    await publish(producer, fills[3])
    await booked(safety.pool, user, THROTTLE + 1)
    halted = await account_switch(safety.pool, user)
    assert halted is not None
    assert (halted["engaged"], halted["mode"], halted["changed_by"]) == (
        True,
        "halt",
        "safety:execution_throttle",
    )
    assert halted["reason"] == "execution throttle: 4 fills within 60 s (limit 3)"
    changes = emitted(await decisions(safety.pool, user), KillSwitchChanged)
    assert [(c.changed_by, c.engaged) for c in changes] == [("safety:execution_throttle", True)]
    await publish(producer, tick(symbol, "100", 1), place(user, f"{user}-new", symbol=symbol))
    found = await eventually(
        lambda: decisions(safety.pool, user),
        until=lambda ds: bool(emitted(ds, OrderRejected)),
        what="the order decided",
    )
    [refused] = emitted(found, OrderRejected)
    assert refused.reason is RejectReason.KILL_SWITCH

    # Only an operator releases it; counting starts again from the release.
    await publish(producer, kill_switch("account", user, engaged=False))
    await eventually(
        lambda: account_switch(safety.pool, user),
        until=lambda row: row is not None and not row["engaged"],
        what="the operator's release stored",
    )
    more = [
        filled(user, f"{user}-p{n}", f"{user}-r{n}", symbol=symbol) for n in range(1, THROTTLE + 2)
    ]
    await publish(producer, *more[:THROTTLE])
    await booked(safety.pool, user, 2 * THROTTLE + 1)
    released = await account_switch(safety.pool, user)
    assert released is not None and not released["engaged"]  # N since the release
    await publish(producer, more[THROTTLE])
    await booked(safety.pool, user, 2 * THROTTLE + 2)
    again_halted = await account_switch(safety.pool, user)
    assert again_halted is not None
    assert (again_halted["engaged"], again_halted["changed_by"]) == (
        True,
        "safety:execution_throttle",
    )


async def test_a_wash_trade_is_flagged_once_per_episode_even_when_redelivered(
    safety: ServiceRuntime[Any], producer: AIOKafkaProducer, user: str, symbol: str
) -> None:
    then, now = datetime.now(UTC) - timedelta(seconds=300), datetime.now(UTC)
    buy = filled(user, f"{user}-b1", f"{user}-tb1", symbol=symbol, price="100", at=then)
    sell = filled(
        user,
        f"{user}-s1",
        f"{user}-ts1",
        symbol=symbol,
        price="99",
        side=Side.SELL,
        at=then + timedelta(seconds=5),
    )
    same_episode = filled(
        user,
        f"{user}-s2",
        f"{user}-ts2",
        symbol=symbol,
        price="99.5",
        side=Side.SELL,
        at=then + timedelta(seconds=30),
    )
    not_crossing = filled(
        user,
        f"{user}-s3",
        f"{user}-ts3",
        symbol=symbol,
        price="101",
        side=Side.SELL,
        at=then + timedelta(seconds=200),  # the first episode's window has passed
    )
    later_buy = filled(user, f"{user}-b2", f"{user}-tb2", symbol=symbol, price="100", at=now)
    later_sell = filled(
        user,
        f"{user}-s4",
        f"{user}-ts4",
        symbol=symbol,
        price="100",
        side=Side.SELL,
        at=now + timedelta(seconds=1),
    )
    await publish(producer, buy, sell, sell, buy, same_episode, not_crossing, same_episode)
    await booked(safety.pool, user, 4)
    await publish(producer, later_buy, later_sell, later_sell)
    await booked(safety.pool, user, 6)

    flags = emitted(await decisions(safety.pool, user), SuspiciousActivityFlagged)

    assert [(f.rule, f.request_id, f.held) for f in flags] == [
        ("wash_trade", f"{user}-s1", False),
        ("wash_trade", f"{user}-s4", False),
    ]
    assert flags[0].values == {
        "buy_order": f"{user}-b1",
        "buy_price": "100",
        "sell_order": f"{user}-s1",
        "sell_price": "99",
        "seconds_apart": "5",
        "wash_trade_window_seconds": "60",
    }


async def test_the_order_to_trade_ratio_is_flagged_once_above_the_threshold(
    safety: ServiceRuntime[Any], producer: AIOKafkaProducer, user: str, symbol: str
) -> None:
    await publish(
        producer,
        filled(user, f"{user}-x1", f"{user}-tx1", symbol=symbol),
        filled(user, f"{user}-x2", f"{user}-tx2", symbol=symbol),
    )
    await booked(safety.pool, user, 2)
    orders = [place(user, f"{user}-{n}", symbol=symbol, amount="1") for n in range(1, 7)]
    await publish(producer, tick(symbol, "100", 1), *orders[:4])
    await wait_for_decisions(safety.pool, user, 4)
    assert emitted(await decisions(safety.pool, user), SuspiciousActivityFlagged) == []

    await publish(producer, orders[4], orders[4], orders[5], orders[4])
    await wait_for_decisions(safety.pool, user, 6)
    flags = emitted(await decisions(safety.pool, user), SuspiciousActivityFlagged)

    assert [(f.rule, f.request_id, f.held) for f in flags] == [
        ("order_to_trade_ratio", f"{user}-5", False)
    ]
    assert flags[0].values == {
        "orders": "5",
        "fills": "2",
        "ratio": "2.5",
        "order_to_trade_ratio": "2",
        "order_to_trade_min_orders": "4",
        "window_seconds": "3600",
    }
