"""Positions and realised P&L from fills, by the average-cost method, in USD.

A buy adds to the position at its price; a sale realises (price - average cost)
on what it closes. Fees always count as a loss. Quantities may go negative
(coins deposited outside safety's view and then sold): the same method then
treats the sale as opening a short, so realised P&L stays well defined.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Context, Decimal, localcontext

from services.safety.domain.limits import Limits
from services.safety.domain.state import ZERO, Position, PriceBook
from services.safety.domain.valuation import usd_rate_at_any_age
from shared.contracts.orders import Side
from shared.money import multiply, quantize_down, quantize_up

_DIVISION = Context(prec=80)


@dataclass(frozen=True)
class FillBooking:
    position: Position
    realised_usd: Decimal
    """P&L this fill realised, fee included; negative is a loss (rounded towards the loss)."""


def book_fill(
    position: Position, side: Side, amount: Decimal, price_usd: Decimal, fee_usd: Decimal
) -> FillBooking:
    quantity, average = position.quantity, position.average_cost_usd
    change = amount if side is Side.BUY else -amount
    realised = ZERO
    after = quantity + change
    if quantity == 0 or (quantity > 0) == (change > 0):
        with localcontext(_DIVISION):
            total_cost = abs(quantity) * average + amount * price_usd
            new_average = quantize_up(total_cost / abs(after))
    else:
        closed = min(amount, abs(quantity))
        direction = 1 if quantity > 0 else -1
        realised = multiply(closed, price_usd - average) * direction
        if after == 0:
            new_average = ZERO
        elif (after > 0) == (quantity > 0):
            new_average = average
        else:
            new_average = price_usd
    booked = Position(after, new_average, position.open_buy)
    return FillBooking(booked, quantize_down(realised - fee_usd))


def fee_in_usd(
    *,
    fee: Decimal,
    fee_asset: str,
    base: str,
    quote: str,
    fill_price: Decimal,
    quote_usd: Decimal,
    prices: PriceBook,
    limits: Limits,
) -> Decimal | None:
    """The fee's USD value; None when its asset has never had a price (the fill is parked)."""
    if fee == 0:
        return ZERO
    if fee_asset == quote:
        return multiply(fee, quote_usd)
    if fee_asset == base:
        return multiply(multiply(fee, fill_price), quote_usd)
    rate = usd_rate_at_any_age(fee_asset, prices, limits)
    return multiply(fee, rate) if rate is not None else None
