"""What the simulated exchange holds: markets, accounts, orders, trades, withdrawals, deposits,
and Binance's refusals."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from decimal import Decimal

FEE_RATE = Decimal("0.001")
"""Binance's base spot fee: 0.1% of the notional, charged here in the quote asset."""


class Refused(Exception):
    """A definite refusal in Binance's vocabulary: HTTP status, error code and message."""

    def __init__(self, status: int, code: int, msg: str) -> None:
        super().__init__(f"{status} {code} {msg}")
        self.status = status
        self.code = code
        self.msg = msg


def insufficient_balance() -> Refused:
    return Refused(400, -2010, "Account has insufficient balance for requested action.")


def duplicate_order() -> Refused:
    return Refused(400, -2010, "Duplicate order sent.")


def unknown_order() -> Refused:
    return Refused(400, -2013, "Order does not exist.")


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass
class Market:
    base: str
    quote: str
    price: Decimal

    @property
    def symbol_id(self) -> str:
        return self.base + self.quote


@dataclass
class Trade:
    trade_id: int
    order_id: int
    symbol_id: str
    price: Decimal
    qty: Decimal
    commission: Decimal
    commission_asset: str
    is_buyer: bool
    time_ms: int = field(default_factory=now_ms)


@dataclass
class Order:
    order_id: int
    account: str
    client_order_id: str
    symbol_id: str
    side: str  # BUY / SELL
    type: str  # MARKET / LIMIT
    qty: Decimal
    price: Decimal | None
    status: str = "NEW"  # NEW, PARTIALLY_FILLED, FILLED, CANCELED
    executed: Decimal = Decimal(0)
    quote_executed: Decimal = Decimal(0)
    time_ms: int = field(default_factory=now_ms)
    update_ms: int = field(default_factory=now_ms)

    @property
    def remaining(self) -> Decimal:
        return self.qty - self.executed

    @property
    def is_open(self) -> bool:
        return self.status in ("NEW", "PARTIALLY_FILLED")


@dataclass
class Withdrawal:
    withdrawal_id: str
    account: str
    coin: str
    amount: Decimal
    address: str
    network: str | None
    withdraw_order_id: str | None
    tx_id: str
    apply_ms: int = field(default_factory=now_ms)


@dataclass
class Deposit:
    deposit_id: str
    account: str
    coin: str
    amount: Decimal
    tx_id: str
    status: int = 1  # 1 = success
    insert_ms: int = field(default_factory=now_ms)


@dataclass
class Account:
    api_key: str
    secret: str
    balances: dict[str, Decimal] = field(default_factory=dict)
