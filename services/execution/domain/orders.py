"""Pure execution decisions: client order ids, fill prices, fees, limit crosses, fill reports.

No I/O and no clock. Money is `Decimal` throughout; prices are kept to cents.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Context, Decimal, localcontext
from enum import StrEnum

from shared.contracts.accounts import KillSwitchMode
from shared.contracts.execution import FillStatus
from shared.contracts.orders import Mode, OrderType, Side
from shared.ids import derived_id
from shared.money import multiply, quantize_down, quantize_up

EXACT = Context(prec=80)
"""Sums and splits of NUMERIC(38, 18) amounts need more than the default 28 digits."""
PRICE_QUANTUM = Decimal("0.01")
"""Paper prices are quoted to cents."""
PAPER_VENUE = "paper"
KILL_SWITCH_REASON = "kill_switch"
"""`OrderCancelled.reason` of an order a kill switch cancelled (resting, or stopped on arrival)."""
CLIENT_ORDER_ID_PATTERN = re.compile(r"^[\.A-Z\:/a-z0-9_-]{1,36}$")
"""Binance's `newClientOrderId` format; the strictest venue we target."""


class OrderStatus(StrEnum):
    PENDING = "pending"  # recorded, not yet acknowledged by the venue
    OPEN = "open"  # accepted by the venue, (partly) unfilled
    UNKNOWN = "unknown"  # sent, outcome not known: to be looked up, never resent
    FILLED = "filled"
    CANCELLED = "cancelled"
    FAILED = "failed"


TERMINAL = frozenset({OrderStatus.FILLED, OrderStatus.CANCELLED, OrderStatus.FAILED})


class VenueOrderStatus(StrEnum):
    """An order's state at the venue, in ccxt's unified vocabulary."""

    OPEN = "open"
    CLOSED = "closed"
    CANCELED = "canceled"
    REJECTED = "rejected"


@dataclass(frozen=True)
class OrderRecord:
    """Execution's record of one order, written before the venue is asked anything."""

    order_id: str
    account_id: str
    client_order_id: str
    venue: str
    symbol: str
    side: Side
    type: OrderType
    amount: Decimal
    price: Decimal | None
    status: OrderStatus
    filled_amount: Decimal
    venue_order_id: str | None = None

    @property
    def quote(self) -> str:
        return self.symbol.split("/")[1]


class WithdrawalStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class WithdrawalRecord:
    withdrawal_id: str
    account_id: str
    venue: str
    asset: str
    amount: Decimal
    address: str
    network: str | None


@dataclass(frozen=True)
class Trade:
    """One execution at the venue; `trade_id` is the venue's and makes it apply once."""

    trade_id: str
    amount: Decimal
    price: Decimal
    fee: Decimal
    fee_asset: str


@dataclass(frozen=True)
class FillReport:
    """A new trade with what the order looks like after it (for `OrderFilled`)."""

    trade: Trade
    status: FillStatus
    cumulative_amount: Decimal


def client_order_id(order_id: str) -> str:
    """The id the venue knows the order by: the same for the same order id, on every retry.

    `co-` + 32 hex digits (35 characters) fits Binance's `newClientOrderId` format.
    """
    return "co-" + derived_id("client-order", order_id).hex


def quantize_price(price: Decimal, *, up: bool) -> Decimal:
    return price.quantize(PRICE_QUANTUM, rounding=ROUND_CEILING if up else ROUND_FLOOR)


def market_fill_price(side: Side, current: Decimal, spread: Decimal) -> Decimal:
    """A market buy pays `spread` over the current price, a sell gets `spread` under it.

    Rounded against the user (up for a buy, down for a sell), never below one cent.
    """
    if side is Side.BUY:
        return quantize_price(multiply(current, 1 + spread), up=True)
    return max(quantize_price(multiply(current, 1 - spread), up=False), PRICE_QUANTUM)


def limit_crossed(side: Side, limit: Decimal, current: Decimal) -> bool:
    """A buy limit fills when the market is at or below it; a sell limit at or above it."""
    return limit >= current if side is Side.BUY else limit <= current


def arrival_fill_price(
    side: Side, order_type: OrderType, limit: Decimal | None, current: Decimal, spread: Decimal
) -> Decimal | None:
    """The price an order fills at when it reaches the venue, or None when it rests.

    A market order fills at the market (`market_fill_price`). A limit order that crosses on
    arrival (a buy limit at or above the current price, a sell limit at or below it) takes the
    market's price too, never worse than its limit: the buyer of a limit 8% above the market pays
    the market, as at a real venue (price improvement). A limit that does not cross rests, and
    fills at its own limit when a later price reaches it (`limit_crossed`).
    """
    market = market_fill_price(side, current, spread)
    if order_type is OrderType.MARKET:
        return market
    if limit is None:
        raise ValueError("a limit order needs a limit price")
    if not limit_crossed(side, limit, current):
        return None
    return min(market, limit) if side is Side.BUY else max(market, limit)


def trade_fee(amount: Decimal, price: Decimal, rate: Decimal) -> Decimal:
    """`rate` of the notional, rounded up to 18 decimals (a fee is never under-counted)."""
    return quantize_up(multiply(multiply(amount, price), rate))


def split_amount(amount: Decimal, parts: int) -> list[Decimal]:
    """`amount` in `parts` positive pieces summing to it exactly (fewer if it is too small)."""
    with localcontext(EXACT):
        piece = quantize_down(amount / parts)
        if parts <= 1 or piece <= 0:
            return [amount]
        pieces = [piece] * (parts - 1)
        return [*pieces, amount - piece * (parts - 1)]


def plan_trades(
    client_id: str, amount: Decimal, price: Decimal, fee_rate: Decimal, parts: int, fee_asset: str
) -> list[Trade]:
    """The trades of one paper fill of `amount` at `price`.

    Fees are taken as differences of the rounded cumulative fee, so the trades' fees add up to
    exactly `trade_fee(amount, price, fee_rate)`, however the fill is split.
    """
    trades: list[Trade] = []
    cumulative = Decimal(0)
    fee_so_far = Decimal(0)
    for index, piece in enumerate(split_amount(amount, parts)):
        with localcontext(EXACT):
            cumulative += piece
            fee_to_here = trade_fee(cumulative, price, fee_rate)
            fee = fee_to_here - fee_so_far
        trade_id = "pt-" + derived_id("paper-trade", client_id, index).hex
        trades.append(Trade(trade_id, piece, price, fee, fee_asset))
        fee_so_far = fee_to_here
    return trades


def fill_reports(order: OrderRecord, new_trades: list[Trade]) -> list[FillReport]:
    """Status and cumulative amount after each new trade, in order."""
    reports: list[FillReport] = []
    cumulative = order.filled_amount
    for trade in new_trades:
        with localcontext(EXACT):
            cumulative += trade.amount
        status = FillStatus.FILLED if cumulative >= order.amount else FillStatus.PARTIALLY_FILLED
        reports.append(FillReport(trade, status, cumulative))
    return reports


def status_after(
    order: OrderRecord, filled: Decimal, venue_status: VenueOrderStatus
) -> OrderStatus:
    """Our status once the venue's view (and the fills up to `filled`) are applied.

    Fully filled wins over everything (a cancel that raced the last fill came too late). A venue
    that says `closed` before every trade is known leaves the order open until they arrive.
    """
    if filled >= order.amount:
        return OrderStatus.FILLED
    if venue_status is VenueOrderStatus.CANCELED:
        return OrderStatus.CANCELLED
    if venue_status is VenueOrderStatus.REJECTED:
        return OrderStatus.FAILED
    return OrderStatus.OPEN


def venue_refusal(mode: Mode, exchange: str) -> str | None:
    """Why an order may not go to `exchange` in `mode`, or None: paper money stays on paper."""
    if mode is Mode.PAPER and exchange != PAPER_VENUE:
        return f"a paper order cannot go to {exchange!r}: paper orders trade on the paper venue"
    if mode is Mode.REAL and exchange == PAPER_VENUE:
        return "a real-money order cannot go to the paper venue"
    return None


def kill_switch_stops(side: Side, modes: list[KillSwitchMode]) -> bool:
    """Whether the engaged switches covering an order (their modes) stop it before the venue:
    any `halt` stops every order, a `reduce_only` one stops buys (safety's rule, at execution)."""
    return KillSwitchMode.HALT in modes or (
        side is Side.BUY and KillSwitchMode.REDUCE_ONLY in modes
    )
