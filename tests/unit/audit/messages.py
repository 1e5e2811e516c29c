"""Messages of one filled paper order, with fixed ids and times, for the audit tests."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from shared.contracts import Envelope, Payload, new_message
from shared.contracts.decisions import OrderApproved
from shared.contracts.execution import FillStatus, OrderFilled, OrderSubmitted
from shared.contracts.ledger import FundsHeld, HoldPurpose, HoldReleased, HoldSettled
from shared.contracts.orders import OrderSpec, OrderType, PlaceOrder, Side

START = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)


def spec(order_id: str = "ord-1") -> OrderSpec:
    return OrderSpec(
        order_id=order_id, symbol="BTC/USDT", side=Side.BUY, type=OrderType.MARKET, amount="0.01"
    )


def message(
    payload: Payload,
    *,
    producer: str,
    cause: Envelope | None = None,
    correlation_id: str = "ord-1",
    number: int = 0,
    second: int = 0,
) -> Envelope:
    return new_message(
        payload,
        producer=producer,
        account_id="user-1",
        correlation_id=correlation_id,
        cause=cause,
        now=START + timedelta(seconds=second or number),
        event_id=uuid.uuid4() if number == 0 else uuid.UUID(int=number),
    )


def filled_order_flow(order_id: str = "ord-1") -> list[Envelope]:
    """PlaceOrder → approved → held → submitted → filled → settled → released, causally linked."""
    order = spec(order_id)
    place = message(PlaceOrder(order=order), producer="gateway", correlation_id=order_id)
    approved = message(
        OrderApproved(order=order, reference_price="65000", price_band="0.10"),
        producer="safety",
        cause=place,
        correlation_id=order_id,
        second=1,
    )
    held = message(
        FundsHeld(
            hold_id=order_id, purpose=HoldPurpose.ORDER, asset="USDT", amount="716.5", order=order
        ),
        producer="ledger",
        cause=approved,
        correlation_id=order_id,
        second=2,
    )
    submitted = message(
        OrderSubmitted(order_id=order_id, client_order_id="c-" + order_id, venue="paper"),
        producer="execution",
        cause=held,
        correlation_id=order_id,
        second=3,
    )
    filled = message(
        OrderFilled(
            order_id=order_id,
            trade_id="t-1",
            symbol="BTC/USDT",
            side="buy",
            amount="0.01",
            price="65010",
            fee="0.6501",
            fee_asset="USDT",
            status=FillStatus.FILLED,
            cumulative_amount="0.01",
        ),
        producer="execution",
        cause=submitted,
        correlation_id=order_id,
        second=4,
    )
    settled = message(
        HoldSettled(hold_id=order_id, asset="USDT", amount="650.7501", remaining="65.7499"),
        producer="ledger",
        cause=filled,
        correlation_id=order_id,
        second=5,
    )
    released = message(
        HoldReleased(hold_id=order_id, asset="USDT", amount="65.7499", reason="filled"),
        producer="ledger",
        cause=filled,
        correlation_id=order_id,
        second=6,
    )
    return [place, approved, held, submitted, filled, settled, released]
