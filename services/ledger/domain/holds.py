"""Holds (two-phase transfers, after TigerBeetle's pending transfers) and how big they are."""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal
from enum import StrEnum

from services.ledger.domain.accounts import ZERO
from shared.contracts.ledger import HoldPurpose
from shared.contracts.orders import OrderSpec, OrderType, Side
from shared.money import multiply, quantize_up


class HoldStatus(StrEnum):
    OPEN = "open"
    """Money sits in `held`; fills settle from it."""
    CLOSED = "closed"
    """Settled and/or released: remaining is zero, later terminal events change nothing."""
    REJECTED = "rejected"
    """Never held (not enough available); kept so a second approval of the same id is ignored."""
    VOID = "void"
    """The order or withdrawal ended before it was approved: a late approval must not hold."""


@dataclass(frozen=True)
class Hold:
    hold_id: str
    owner: str
    purpose: HoldPurpose
    asset: str
    venue: str
    amount: Decimal
    remaining: Decimal
    status: HoldStatus

    @property
    def is_open(self) -> bool:
        return self.status is HoldStatus.OPEN

    def settle(self, amount: Decimal) -> Hold:
        if amount < 0 or amount > self.remaining:
            raise ValueError(f"hold {self.hold_id}: cannot settle {amount} of {self.remaining}")
        return replace(self, remaining=self.remaining - amount)

    def close(self) -> Hold:
        return replace(self, remaining=ZERO, status=HoldStatus.CLOSED)


def void_hold(hold_id: str, owner: str, purpose: HoldPurpose) -> Hold:
    """The tombstone of an order or withdrawal that ended before the ledger held anything."""
    return Hold(hold_id, owner, purpose, "", "", ZERO, ZERO, HoldStatus.VOID)


def order_hold_asset(order: OrderSpec) -> str:
    """A buy spends the quote asset; a sell, the base asset."""
    return order.quote if order.side is Side.BUY else order.base


def order_hold_size(
    order: OrderSpec,
    *,
    reference_price: Decimal,
    price_band: Decimal,
    max_fee_rate: Decimal,
) -> tuple[str, Decimal]:
    """(asset, amount) to hold for an approved order: the most it can cost, rounded up.

    Buy limit: amount * price * (1 + max fee rate). Buy market: amount *
    reference price * (1 + band) * (1 + max fee rate), the band being the most a
    market order may move. Sell: the amount, in the base asset.
    """
    if order.side is Side.SELL:
        return order.base, order.amount
    if order.type is OrderType.LIMIT:
        assert order.price is not None  # OrderSpec guarantees a limit order has a price
        worst_price = order.price
    else:
        worst_price = multiply(reference_price, 1 + price_band)
    cost = multiply(multiply(order.amount, worst_price), 1 + max_fee_rate)
    return order.quote, quantize_up(cost)
