"""Duplicative orders and the restricted list at safety, through the real broker and
PostgreSQL: what a user would see is the decision on each order and withdrawal."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer

from services.safety.store_facts import FactStore
from shared.contracts.decisions import (
    OrderApproved,
    OrderRejected,
    WithdrawalApproved,
    WithdrawalRejected,
)
from shared.contracts.reasons import RejectReason
from shared.contracts.restrictions import RestrictionScope
from shared.service import ServiceRuntime
from tests.integration.test_safety_service import (
    clock,
    producer,
    safety,
    symbol,
    user,
    wait_for_decisions,
)
from tests.support.topics import publish
from tests.support.waiting import eventually
from tests.unit.safety.messages import place, restriction, tick, withdraw

pytestmark = pytest.mark.integration
__all__ = ["clock", "producer", "safety", "symbol", "user"]


@pytest.fixture
def safety_overrides() -> dict[str, Any]:
    """Safety as shipped: the duplicate window at its default (1 s)."""
    return {}


async def test_an_identical_order_inside_the_window_is_a_duplicate_outside_it_is_not(
    safety: ServiceRuntime[Any], producer: AIOKafkaProducer, user: str, symbol: str
) -> None:
    start = datetime.now(UTC) - timedelta(seconds=10)
    await publish(producer, tick(symbol, "100", 1))
    await publish(
        producer,
        place(user, f"{user}-a", symbol=symbol, amount="1", at=start),
        place(user, f"{user}-b", symbol=symbol, amount="1", at=start + timedelta(seconds=0.5)),
        place(user, f"{user}-c", symbol=symbol, amount="1", at=start + timedelta(seconds=1)),
        place(user, f"{user}-d", symbol=symbol, amount="1.00", at=start + timedelta(seconds=1.9)),
        place(user, f"{user}-e", symbol=symbol, amount="1.5", at=start + timedelta(seconds=2)),
    )

    found = await wait_for_decisions(safety.pool, user, 5)

    assert [type(d) for d in found] == [
        OrderApproved,
        OrderRejected,
        OrderApproved,
        OrderRejected,
        OrderApproved,
    ]
    b, d = found[1], found[3]
    assert isinstance(b, OrderRejected) and isinstance(d, OrderRejected)
    assert (b.reason, b.values["duplicate_of"]) == (RejectReason.DUPLICATE_ORDER, f"{user}-a")
    assert (d.reason, d.values["duplicate_of"]) == (RejectReason.DUPLICATE_ORDER, f"{user}-c")


async def test_an_account_with_window_zero_sends_the_same_order_twice(
    safety: ServiceRuntime[Any], producer: AIOKafkaProducer, user: str, symbol: str
) -> None:
    async with safety.pool.acquire() as conn:
        await FactStore(conn).set_limit_override(user, "duplicate_window_seconds", Decimal(0))
    at = datetime.now(UTC)
    await publish(producer, tick(symbol, "100", 1))
    await publish(
        producer,
        place(user, f"{user}-1", symbol=symbol, amount="1", at=at),
        place(user, f"{user}-2", symbol=symbol, amount="1", at=at + timedelta(milliseconds=100)),
    )

    found = await wait_for_decisions(safety.pool, user, 2)

    assert [type(d) for d in found] == [OrderApproved, OrderApproved]


async def restricted(
    safety: ServiceRuntime[Any],
    producer: AIOKafkaProducer,
    scope: RestrictionScope,
    target: str,
    *,
    on: bool,
) -> None:
    await publish(producer, restriction(scope, target, restricted=on))
    await eventually(
        lambda: safety.pool.fetchval(
            "SELECT restricted FROM restrictions WHERE scope = $1 AND target = $2",
            scope.value,
            target,
        ),
        until=lambda stored: stored is on,
        what=f"{scope} {target} {'restricted' if on else 'released'} at safety",
    )


async def test_a_restricted_symbol_and_account_are_rejected_until_released(
    safety: ServiceRuntime[Any], producer: AIOKafkaProducer, user: str, symbol: str
) -> None:
    await publish(producer, tick(symbol, "100", 1))
    await restricted(safety, producer, RestrictionScope.SYMBOL, symbol, on=True)
    await publish(producer, place(user, f"{user}-1", symbol=symbol, amount="1"))
    await wait_for_decisions(safety.pool, user, 1)
    await restricted(safety, producer, RestrictionScope.SYMBOL, symbol, on=False)
    await publish(producer, tick(symbol, "100", 2), place(user, f"{user}-2", symbol=symbol))
    await wait_for_decisions(safety.pool, user, 2)
    await restricted(safety, producer, RestrictionScope.ACCOUNT, user, on=True)
    await publish(producer, place(user, f"{user}-3", symbol=symbol, amount="2"))
    await wait_for_decisions(safety.pool, user, 3)
    await publish(producer, withdraw(user, f"{user}-w1", "10"))
    await wait_for_decisions(safety.pool, user, 4)
    await restricted(safety, producer, RestrictionScope.ACCOUNT, user, on=False)
    await publish(producer, place(user, f"{user}-4", symbol=symbol, amount="3"))
    await wait_for_decisions(safety.pool, user, 5)
    await publish(producer, withdraw(user, f"{user}-w2", "10"))

    found = await wait_for_decisions(safety.pool, user, 6)

    assert [type(d) for d in found] == [
        OrderRejected,
        OrderApproved,
        OrderRejected,
        WithdrawalRejected,
        OrderApproved,
        WithdrawalApproved,
    ]
    symbol_refused, account_refused, withdrawal_refused = found[0], found[2], found[3]
    assert isinstance(symbol_refused, OrderRejected)
    assert (symbol_refused.reason, symbol_refused.values) == (
        RejectReason.RESTRICTED,
        {"scope": "symbol", "target": symbol},
    )
    assert isinstance(account_refused, OrderRejected)
    assert (account_refused.reason, account_refused.values["scope"]) == (
        RejectReason.RESTRICTED,
        "account",
    )
    assert isinstance(withdrawal_refused, WithdrawalRejected)
    assert withdrawal_refused.reason is RejectReason.RESTRICTED
