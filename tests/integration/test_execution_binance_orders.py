"""Orders at a (simulated) Binance through ccxt's real client: no duplicate, no lost order.

Each test runs execution on the real broker and PostgreSQL, sends it `FundsHeld` through the
broker, and injects a fault into the simulated exchange.
"""

from __future__ import annotations

import asyncio
import uuid
from decimal import Decimal

import pytest

from services.execution.domain.orders import client_order_id
from shared.contracts.execution import (
    FillStatus,
    OrderFailed,
    OrderFilled,
    OrderOutcomeUnknown,
)
from shared.contracts.orders import CancelOrder
from shared.contracts.reasons import RejectReason
from tests.support import execution_service as support
from tests.support.execution_service import (
    Execution,
    at_least,
    real_order_held,
    types,
)
from tests.support.simbinance import Fault
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration
execution = support.execution  # the fixture
ORDER_PATH = "/api/v3/order"


async def test_an_order_accepted_then_timed_out_is_looked_up_not_resent_and_ends_filled(
    execution: Execution,
) -> None:
    account = execution.new_account()
    order_id = str(uuid.uuid4())
    execution.sim.inject(Fault.accept_then_timeout(hold_seconds=10))

    async with execution.running():
        await execution.add_valid_key(account)
        await execution.publish(
            real_order_held(order_id), account=account.user, correlation_id=order_id
        )
        events = await execution.wait_for_type(order_id, "OrderFilled")

    assert types(events) == ["OrderOutcomeUnknown", "OrderSubmitted", "OrderFilled"]
    assert events[0].body(OrderOutcomeUnknown).client_order_id == client_order_id(order_id)
    filled = events[2].body(OrderFilled)
    assert (filled.amount, filled.price, filled.fee) == (
        Decimal("0.01"),
        Decimal("65000"),
        Decimal("0.65"),
    )
    assert filled.status is FillStatus.FILLED
    assert len(execution.sim.orders_with(client_order_id(order_id))) == 1
    assert len(execution.sim.requests_to("POST", ORDER_PATH)) == 1
    row = await execution.row(
        "SELECT status, filled_amount FROM orders WHERE order_id = $1", order_id
    )
    assert (row["status"], row["filled_amount"]) == ("filled", Decimal("0.01"))


async def test_a_5xx_before_the_order_was_made_ends_with_exactly_one_order(
    execution: Execution,
) -> None:
    account = execution.new_account()
    order_id = str(uuid.uuid4())
    execution.sim.inject(Fault.server_error(status=503))

    async with execution.running():
        await execution.add_valid_key(account)
        await execution.publish(
            real_order_held(order_id), account=account.user, correlation_id=order_id
        )
        events = await execution.wait_for_type(order_id, "OrderFilled")

    assert types(events) == ["OrderOutcomeUnknown", "OrderSubmitted", "OrderFilled"]
    assert "503" in events[0].body(OrderOutcomeUnknown).detail
    assert len(execution.sim.orders_with(client_order_id(order_id))) == 1
    posts = execution.sim.requests_to("POST", ORDER_PATH)
    assert [p.params["newClientOrderId"] for p in posts] == [client_order_id(order_id)] * 2
    lookups = execution.sim.requests_to("GET", ORDER_PATH)
    assert [s.status for s in lookups[:3]] == [400, 400, 400]  # "does not exist", 3 times
    assert posts[0].at < lookups[2].at < posts[1].at  # resent only after the third one


async def test_a_5xx_after_the_order_was_made_is_found_and_never_sent_again(
    execution: Execution,
) -> None:
    account = execution.new_account()
    order_id = str(uuid.uuid4())
    execution.sim.inject(Fault.server_error(status=502, applied=True))

    async with execution.running():
        await execution.add_valid_key(account)
        await execution.publish(
            real_order_held(order_id), account=account.user, correlation_id=order_id
        )
        events = await execution.wait_for_type(order_id, "OrderFilled")

    assert types(events) == ["OrderOutcomeUnknown", "OrderSubmitted", "OrderFilled"]
    assert len(execution.sim.orders_with(client_order_id(order_id))) == 1
    assert len(execution.sim.requests_to("POST", ORDER_PATH)) == 1


async def test_insufficient_balance_at_the_venue_fails_the_order_as_exchange_rejected(
    execution: Execution,
) -> None:
    account = execution.new_account()
    order_id = str(uuid.uuid4())
    execution.sim.inject(Fault.insufficient_balance())

    async with execution.running():
        await execution.add_valid_key(account)
        await execution.publish(
            real_order_held(order_id), account=account.user, correlation_id=order_id
        )
        (failed,) = await execution.wait_for_type(order_id, "OrderFailed")

    refusal = failed.body(OrderFailed)
    assert refusal.reason is RejectReason.EXCHANGE_REJECTED
    assert "-2010" in refusal.detail and "insufficient balance" in refusal.detail
    assert execution.sim.orders_with(client_order_id(order_id)) == []
    assert execution.sim.requests_to("GET", ORDER_PATH) == []  # a refusal is not looked up
    row = await execution.row("SELECT status FROM orders WHERE order_id = $1", order_id)
    assert row["status"] == "failed"


async def test_a_429_backs_off_for_its_retry_after_and_never_duplicates_the_order(
    execution: Execution,
) -> None:
    account = execution.new_account()
    order_id = str(uuid.uuid4())
    execution.sim.inject(Fault.rate_limited(retry_after_seconds=2))

    async with execution.running():
        await execution.add_valid_key(account)
        await execution.publish(
            real_order_held(order_id), account=account.user, correlation_id=order_id
        )
        events = await execution.wait_for_type(order_id, "OrderFilled")

    assert types(events) == ["OrderOutcomeUnknown", "OrderSubmitted", "OrderFilled"]
    assert len(execution.sim.orders_with(client_order_id(order_id))) == 1
    seen = execution.sim.seen
    refused = next(i for i, s in enumerate(seen) if s.status == 429)
    after = seen[refused + 1 :]
    assert after[0].at - seen[refused].at >= 1.9  # silent for the whole Retry-After
    orders_after = [s for s in after if s.path == ORDER_PATH]
    assert orders_after[0].method == "GET"  # looked up first, never resent blindly
    assert len(execution.sim.requests_to("POST", ORDER_PATH)) == 2


async def test_partial_fills_are_reported_once_each_even_when_polled_again(
    execution: Execution,
) -> None:
    account = execution.new_account()
    order_id = str(uuid.uuid4())

    async with execution.running():
        await execution.add_valid_key(account)
        held = real_order_held(order_id, amount="0.03", price="60000.00")
        await execution.publish(held, account=account.user, correlation_id=order_id)
        await execution.wait_for_type(order_id, "OrderSubmitted")
        (resting,) = execution.sim.orders_with(client_order_id(order_id))

        for reported in (1, 2, 3):
            execution.sim.book.fill(resting, Decimal("0.01"))
            await execution.wait_for(order_id, at_least(reported, "OrderFilled"), "a fill")
            if reported < 3:
                await polled_again(execution)  # the same trades seen again: nothing new
        events = await execution.events_of(order_id)

    fills = [m.body(OrderFilled) for m in events if m.type == "OrderFilled"]
    assert [(f.amount, f.status, f.cumulative_amount) for f in fills] == [
        (Decimal("0.01"), FillStatus.PARTIALLY_FILLED, Decimal("0.01")),
        (Decimal("0.01"), FillStatus.PARTIALLY_FILLED, Decimal("0.02")),
        (Decimal("0.01"), FillStatus.FILLED, Decimal("0.03")),
    ]
    assert len({f.trade_id for f in fills}) == 3
    assert all(f.price == Decimal("60000") for f in fills)
    row = await execution.row("SELECT status FROM orders WHERE order_id = $1", order_id)
    assert row["status"] == "filled"


async def polled_again(execution: Execution) -> None:
    """Wait until execution has asked the venue about its orders twice more."""
    asked = len(execution.sim.requests_to("GET", ORDER_PATH))
    await eventually(
        lambda: asyncio.sleep(0, len(execution.sim.requests_to("GET", ORDER_PATH))),
        until=lambda now: now >= asked + 2,
        what="two more polls",
    )


async def test_cancelling_a_resting_order_cancels_it_at_the_venue(execution: Execution) -> None:
    account = execution.new_account()
    order_id = str(uuid.uuid4())

    async with execution.running():
        await execution.add_valid_key(account)
        held = real_order_held(order_id, price="60000.00")
        await execution.publish(held, account=account.user, correlation_id=order_id)
        await execution.wait_for_type(order_id, "OrderSubmitted")
        await execution.publish(
            CancelOrder(order_id=order_id), account=account.user, correlation_id=order_id
        )
        events = await execution.wait_for_type(order_id, "OrderCancelled")

    assert types(events) == ["OrderSubmitted", "OrderCancelled"]
    (at_venue,) = execution.sim.orders_with(client_order_id(order_id))
    assert at_venue.status == "CANCELED"


async def test_an_order_from_an_account_without_a_validated_key_is_never_sent(
    execution: Execution,
) -> None:
    account = execution.new_account()
    order_id = str(uuid.uuid4())

    async with execution.running():
        await execution.publish(
            real_order_held(order_id), account=account.user, correlation_id=order_id
        )
        (failed,) = await execution.wait_for_type(order_id, "OrderFailed")

    assert failed.body(OrderFailed).reason is RejectReason.EXCHANGE_KEY_INVALID
    assert execution.sim.requests_to("POST", ORDER_PATH) == []
