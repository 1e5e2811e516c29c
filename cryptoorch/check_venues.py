"""What a venue outside execution's database holds, for `check_system`.

The paper venue's books are in execution's database, so the checker reads them there. A network
exchange's books are not: the caller hands them in (a test reads the simulated Binance; an
operator would export them), as `VenueRecords` in the paper venue's terms, and the checker
treats them exactly as it treats the paper venue's: one venue order per order, every trade
reported once, balances recomputed from these trades and withdrawals.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from services.execution.venues.ccxt_venue import withdrawal_client_id

Row = dict[str, Any]


@dataclass(frozen=True)
class VenueOrderRecord:
    client_order_id: str
    venue_order_id: str
    symbol: str
    """As the contract writes it: `BTC/USDT`."""
    side: str
    """`buy` or `sell`."""
    open: bool


@dataclass(frozen=True)
class VenueTradeRecord:
    trade_id: str
    """As execution reports it (`services.execution.venues.ccxt_parse.trade_key`)."""
    client_order_id: str
    amount: Decimal
    price: Decimal
    fee: Decimal
    fee_asset: str


@dataclass(frozen=True)
class VenueWithdrawalRecord:
    client_id: str
    """The id execution gave the venue (`withdrawal_client_id` of the withdrawal id)."""
    asset: str
    amount: Decimal


@dataclass(frozen=True)
class VenueRecords:
    venue: str
    """The venue name orders and withdrawals carry (`binance`)."""
    orders: list[VenueOrderRecord] = field(default_factory=list)
    trades: list[VenueTradeRecord] = field(default_factory=list)
    withdrawals: list[VenueWithdrawalRecord] = field(default_factory=list)


ExternalVenues = Callable[[], Awaitable[list[VenueRecords]]]
"""Asked again on every pass of the check (the venue's books move while the system drains)."""


def merge_external(db: dict[str, list[Row]], records: VenueRecords, reported: list[Row]) -> None:
    """Add `records` to the paper venue's rows in `db`, as if the paper venue held them;
    `reported` is execution's `order_fills` rows (venue, trade_id) of that venue."""
    db["venue_orders"] += [
        {
            "client_order_id": o.client_order_id,
            "venue_order_id": o.venue_order_id,
            "symbol": o.symbol,
            "side": o.side,
            "status": "open" if o.open else "closed",
        }
        for o in records.orders
    ]
    db["venue_trades"] += [
        {
            "venue": records.venue,
            "trade_id": t.trade_id,
            "client_order_id": t.client_order_id,
            "amount": t.amount,
            "price": t.price,
            "fee": t.fee,
            "fee_asset": t.fee_asset,
        }
        for t in records.trades
    ]
    db["reported_fills"] += reported
    ours = {withdrawal_client_id(w["withdrawal_id"]): w["withdrawal_id"] for w in db["withdrawals"]}
    db["venue_withdrawals"] += [
        {
            "withdrawal_id": ours.get(w.client_id, f"{records.venue}:{w.client_id}"),
            "asset": w.asset,
            "amount": w.amount,
        }
        for w in records.withdrawals
    ]
