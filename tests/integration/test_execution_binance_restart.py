"""Execution stopped or killed mid-flow: startup reconciliation (before consuming) compares every
non-terminal order with the (simulated) Binance and emits what was missed."""

from __future__ import annotations

import asyncio
import uuid
from decimal import Decimal

import pytest

from services.execution.domain import OrderRecord, client_order_id
from shared.contracts.execution import FillStatus, OrderFilled, OrderSubmitted
from tests.integration import test_execution_support as support
from tests.integration.test_execution_support import Execution, real_order_held, types

pytestmark = pytest.mark.integration
execution = support.execution  # the fixture
ORDER_PATH = "/api/v3/order"


async def test_a_crash_between_sending_and_recording_is_healed_by_startup_reconciliation(
    execution: Execution,
) -> None:
    account = execution.new_account()
    order_id = str(uuid.uuid4())
    answered = asyncio.Event()

    async def killed_after_the_request(order: OrderRecord) -> None:
        answered.set()
        raise asyncio.CancelledError  # the sender dies here: the answer is never recorded

    async with execution.running(after_send=killed_after_the_request):
        await execution.add_valid_key(account)
        await execution.publish(
            real_order_held(order_id), account=account.user, correlation_id=order_id
        )
        await asyncio.wait_for(answered.wait(), timeout=45)
    assert len(execution.sim.orders_with(client_order_id(order_id))) == 1
    assert await execution.events_of(order_id) == []  # the answer was never recorded

    async with execution.running():  # restart: reconciled before consuming
        events = await execution.wait_for_type(order_id, "OrderFilled")

    assert types(events) == ["OrderSubmitted", "OrderFilled"]
    assert events[0].body(OrderSubmitted).client_order_id == client_order_id(order_id)
    assert len(execution.sim.orders_with(client_order_id(order_id))) == 1
    assert len(execution.sim.requests_to("POST", ORDER_PATH)) == 1


async def test_fills_made_while_execution_was_down_are_reported_at_startup(
    execution: Execution,
) -> None:
    account = execution.new_account()
    order_id = str(uuid.uuid4())
    async with execution.running():
        await execution.add_valid_key(account)
        held = real_order_held(order_id, amount="0.02", price="60000.00")
        await execution.publish(held, account=account.user, correlation_id=order_id)
        await execution.wait_for_type(order_id, "OrderSubmitted")

    (resting,) = execution.sim.orders_with(client_order_id(order_id))
    execution.sim.book.fill(resting, Decimal("0.005"))
    execution.sim.book.fill(resting, Decimal("0.015"))  # filled while nobody watched

    async with execution.running():
        events = await execution.events_of(order_id)  # reconciled before it began consuming

    fills = [m.body(OrderFilled) for m in events if m.type == "OrderFilled"]
    assert [(f.amount, f.status) for f in fills] == [
        (Decimal("0.005"), FillStatus.PARTIALLY_FILLED),
        (Decimal("0.015"), FillStatus.FILLED),
    ]
    row = await execution.row("SELECT status FROM orders WHERE order_id = $1", order_id)
    assert row["status"] == "filled"
