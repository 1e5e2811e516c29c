"""Read-model rules, pure: how an order's or withdrawal's status moves, what its fills add up to.

Messages from different topics (decisions, ledger, execution) may arrive in any
order, so a status only moves forward by rank, and a terminal status is final.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Context, Decimal, localcontext
from enum import StrEnum

from shared.money import multiply, quantize_down


class OrderStatus(StrEnum):
    REQUESTED = "requested"
    APPROVED = "approved"
    FUNDS_HELD = "funds_held"
    SUBMITTED = "submitted"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    REJECTED = "rejected"
    CANCELLED = "cancelled"
    FAILED = "failed"


class WithdrawalStatus(StrEnum):
    REQUESTED = "requested"
    APPROVED = "approved"
    FUNDS_HELD = "funds_held"
    SENT = "sent"
    REJECTED = "rejected"
    FAILED = "failed"


class DepositStatus(StrEnum):
    REQUESTED = "requested"
    CREDITED = "credited"
    REJECTED = "rejected"
    """Both end states are final: the ledger decides a deposit once."""


ORDER_RANK: dict[OrderStatus, int] = {
    OrderStatus.REQUESTED: 0,
    OrderStatus.APPROVED: 1,
    OrderStatus.FUNDS_HELD: 2,
    OrderStatus.SUBMITTED: 3,
    OrderStatus.PARTIALLY_FILLED: 4,
}
ORDER_TERMINAL = frozenset(
    {OrderStatus.FILLED, OrderStatus.REJECTED, OrderStatus.CANCELLED, OrderStatus.FAILED}
)
WITHDRAWAL_RANK: dict[WithdrawalStatus, int] = {
    WithdrawalStatus.REQUESTED: 0,
    WithdrawalStatus.APPROVED: 1,
    WithdrawalStatus.FUNDS_HELD: 2,
}
WITHDRAWAL_TERMINAL = frozenset(
    {WithdrawalStatus.SENT, WithdrawalStatus.REJECTED, WithdrawalStatus.FAILED}
)


def next_order_status(current: OrderStatus, proposed: OrderStatus) -> OrderStatus:
    """`proposed` if it moves the order forward; otherwise `current` (late or stale news)."""
    if current in ORDER_TERMINAL:
        return current
    if proposed in ORDER_TERMINAL:
        return proposed
    return proposed if ORDER_RANK[proposed] > ORDER_RANK[current] else current


def next_withdrawal_status(
    current: WithdrawalStatus, proposed: WithdrawalStatus
) -> WithdrawalStatus:
    if current in WITHDRAWAL_TERMINAL:
        return current
    if proposed in WITHDRAWAL_TERMINAL:
        return proposed
    return proposed if WITHDRAWAL_RANK[proposed] > WITHDRAWAL_RANK[current] else current


@dataclass(frozen=True)
class Fill:
    trade_id: str
    amount: Decimal
    price: Decimal
    fee: Decimal
    fee_asset: str


@dataclass(frozen=True)
class FillSummary:
    filled_amount: Decimal
    average_price: Decimal | None
    fees: dict[str, Decimal]
    """Fee per asset, in the order the assets first appeared."""

    @property
    def fee_asset(self) -> str | None:
        return next(iter(self.fees), None)

    @property
    def fee(self) -> Decimal:
        asset = self.fee_asset
        return self.fees[asset] if asset is not None else Decimal(0)


def summarize_fills(fills: Iterable[Fill]) -> FillSummary:
    """Totals of an order's trades: amount, volume-weighted average price, fees per asset."""
    amount = Decimal(0)
    notional = Decimal(0)
    fees: dict[str, Decimal] = {}
    for fill in fills:
        amount += fill.amount
        notional += multiply(fill.amount, fill.price)
        fees[fill.fee_asset] = fees.get(fill.fee_asset, Decimal(0)) + fill.fee
    average = None
    if amount > 0:
        with localcontext(Context(prec=80)):
            average = quantize_down(notional / amount)
    return FillSummary(amount, average, fees)


def wire_decimal(value: Decimal) -> str:
    """How an amount leaves the API: plain notation, no trailing zeros (`"0.01"`, `"65000"`)."""
    if value == 0:
        return "0"
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text
