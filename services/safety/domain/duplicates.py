"""Duplicative orders (SEC 15c3-5 (c)(1)(ii)): the same order twice within a short window.

The classic case is a client whose request timed out and who sent it again under a new
Idempotency-Key: the gateway sees two requests, the user meant one. Identical means the same
symbol, side, type, amount, price, mode and exchange, amounts and prices compared as numbers
(1.0 and 1.00 are the same). Only orders safety approved count: a rejected order moved no
money, so retrying it is not a duplicate of anything.

Times are the gateway's acceptance times of both orders (the commands' `occurred_at`), never
when safety got to them: a backlog delivered at once after an outage, or a redelivery, gives
the same decision as prompt delivery would have.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from services.safety.domain.checks import OrderCheck
from services.safety.domain.rejection import Rejection, shown
from shared.contracts.orders import OrderSpec
from shared.contracts.reasons import RejectReason


def same_request(one: OrderSpec, other: OrderSpec) -> bool:
    """Everything the user chose but the order id; Decimals compare by value."""
    return (
        one.symbol == other.symbol
        and one.side is other.side
        and one.type is other.type
        and one.amount == other.amount
        and one.price == other.price
        and one.mode is other.mode
        and one.exchange == other.exchange
    )


def duplicate_order(check: OrderCheck) -> Rejection | None:
    window = check.limits.duplicate_window
    if window <= timedelta(0):
        return None
    order, at = check.order, check.acceptance_time
    for sent in check.account.sent_orders:
        apart = abs(at - sent.accepted_at)
        if sent.spec.order_id == order.order_id or apart >= window:
            continue
        if same_request(order, sent.spec):
            seconds = shown(Decimal(apart.total_seconds()).quantize(Decimal("0.001")))
            return Rejection(
                RejectReason.DUPLICATE_ORDER,
                "duplicate_order",
                f"an identical order ({sent.spec.order_id}) was accepted {seconds} s apart "
                "from this one; send it again after the window if both are meant",
                {
                    "duplicate_of": sent.spec.order_id,
                    "seconds_apart": seconds,
                    "duplicate_window_seconds": shown(check.limits.duplicate_window_seconds),
                },
            )
    return None
