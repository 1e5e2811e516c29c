"""Execution as a service on the real broker and PostgreSQL: FundsHeld in, fills and ticks out."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

import services.execution
from services.execution.app import build
from services.execution.settings import ExecutionSettings
from shared.clock import utc_now
from shared.contracts import Envelope, Topic, decode, new_message
from shared.contracts.execution import FillStatus, OrderFilled, OrderSubmitted, PriceTick
from shared.contracts.ledger import FundsHeld, HoldPurpose
from shared.contracts.orders import OrderSpec, OrderType, Side
from tests.support.running import running_service
from tests.support.topics import publish_to, read_topic
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration
MIGRATIONS = Path(services.execution.__file__).parent / "migrations"


async def messages_on(bootstrap: str, topic: Topic, correlation_id: str) -> list[Envelope]:
    records = await read_topic(bootstrap, topic.value)
    decoded = [decode(r.value or b"") for r in records]
    return [m for m in decoded if m.correlation_id == correlation_id]


async def test_funds_held_for_a_market_buy_comes_back_submitted_and_filled(
    settings_factory: Callable[..., Any],
) -> None:
    settings: ExecutionSettings = settings_factory(ExecutionSettings, paper_tick_seconds=0.2)
    bootstrap = settings.kafka_bootstrap_servers
    order_id = str(uuid.uuid4())
    spec = OrderSpec(
        order_id=order_id,
        symbol="BTC/USDT",
        side=Side.BUY,
        type=OrderType.MARKET,
        amount=Decimal("0.01"),
    )
    held = new_message(
        FundsHeld(hold_id="h-1", purpose=HoldPurpose.ORDER, asset="USDT", amount="700", order=spec),
        producer="ledger",
        account_id="alice",
        correlation_id=order_id,
        now=utc_now(),
    )

    async with running_service("execution", settings, MIGRATIONS, build):
        await publish_to(bootstrap, held)
        events = await eventually(
            lambda: messages_on(bootstrap, Topic.EXECUTION_EVENTS, order_id),
            until=lambda found: len(found) >= 2,
            what="OrderSubmitted and OrderFilled",
        )
        ticks = await eventually(
            lambda: messages_on(bootstrap, Topic.MARKET_PRICES, "SOL/USDT"),
            until=lambda found: any(m.producer == "execution" for m in found),
            what="a SOL/USDT price tick",
        )

    assert [m.type for m in events] == ["OrderSubmitted", "OrderFilled"]
    submitted, filled = events[0].body(OrderSubmitted), events[1].body(OrderFilled)
    assert submitted.venue == "paper" and submitted.client_order_id.startswith("co-")
    assert filled.status is FillStatus.FILLED
    assert filled.amount == Decimal("0.01")
    assert filled.fee == (filled.amount * filled.price * Decimal("0.001"))
    assert all(m.account_id == "alice" and m.causation_id == held.event_id for m in events)
    tick = ticks[-1].body(PriceTick)
    assert tick.venue == "paper" and tick.price > 0
