"""Execution stopped or killed mid-flow: startup reconciliation (before consuming) compares every
non-terminal order with the (simulated) Binance and emits what was missed."""

from __future__ import annotations

import asyncio
import uuid
from decimal import Decimal

import pytest

from services.execution.domain.orders import OrderRecord, client_order_id
from shared.contracts.execution import FillStatus, OrderFilled, OrderSubmitted
from tests.support import execution_service as support
from tests.support.execution_service import Execution, real_order_held, types
from tests.support.waiting import eventually

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


async def test_a_crash_after_one_send_leaves_the_other_due_orders_uncharged(
    execution: Execution,
) -> None:
    """Only the order being sent counts a send: the others due in the same pass are untouched
    (each order has `max_submissions` sends; one never sent must not use them up)."""
    account = execution.new_account()
    first, *others = [str(uuid.uuid4()) for _ in range(4)]
    first_sent = asyncio.Event()
    crashed = asyncio.Event()
    sends = 0

    async def others_pending() -> int:
        found = await execution.rows(
            "SELECT 1 FROM orders WHERE order_id = ANY($1) AND status = 'pending'", others
        )
        return len(found)

    async def crash_on_the_second_send(order: OrderRecord) -> None:
        nonlocal sends
        sends += 1
        if sends == 1:  # the others arrive meanwhile: all due together once this one is done
            first_sent.set()
            await eventually(others_pending, until=lambda n: n == len(others), what="others due")
            return
        crashed.set()
        raise asyncio.CancelledError  # killed after the second send, before recording it

    async with execution.running(after_send=crash_on_the_second_send):
        await execution.add_valid_key(account)
        await execution.publish(real_order_held(first), account=account.user, correlation_id=first)
        await asyncio.wait_for(first_sent.wait(), timeout=45)
        for order_id in others:
            await execution.publish(
                real_order_held(order_id), account=account.user, correlation_id=order_id
            )
        await asyncio.wait_for(crashed.wait(), timeout=45)

    assert len(execution.sim.requests_to("POST", ORDER_PATH)) == 2
    rows = await execution.rows(
        "SELECT status, submissions FROM orders WHERE order_id = ANY($1) ORDER BY status", others
    )
    assert [(r["status"], r["submissions"]) for r in rows] == [
        ("pending", 0),
        ("pending", 0),
        ("unknown", 1),  # sent, its answer lost: looked up, never sent blindly
    ]

    async with execution.running():  # restart: every order ends filled, once at the venue
        for order_id in [first, *others]:
            events = await execution.wait_for_type(order_id, "OrderFilled")
            assert "OrderFailed" not in types(events)
    for order_id in [first, *others]:
        assert len(execution.sim.orders_with(client_order_id(order_id))) == 1
    assert len(execution.sim.requests_to("POST", ORDER_PATH)) == 4
