"""Builders for safety's unit tests: a fixed clock, fresh prices, an order, a check."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from services.safety.domain import (
    AccountState,
    KillSwitches,
    Limits,
    OrderCheck,
    PriceBook,
    ReferencePrice,
    Restrictions,
    WithdrawalCheck,
)
from services.safety.domain.markets import UNRESTRICTED, MarketListing, MarketRules
from services.safety.settings import SafetySettings
from shared.contracts.orders import Mode, OrderSpec, OrderType, PlaceOrder, Side
from shared.contracts.wallet import RequestWithdrawal, WithdrawalSpec

NOW = datetime(2025, 3, 14, 12, 0, 0, tzinfo=UTC)
BTC_PRICE = Decimal("50000")
ACCOUNT = "user-1"


def default_limits(**changes: Any) -> Limits:
    """The shipped defaults (not read from this process's environment), with changes."""
    limits = SafetySettings.model_construct().limits()
    return dataclasses.replace(limits, **changes)


def prices(*, at: datetime = NOW, **by_symbol: Decimal | str) -> PriceBook:
    """Reference prices observed `at`; `prices(ETH_BTC="0.05")` adds or replaces ETH/BTC."""
    book = {"BTC/USDT": BTC_PRICE, "ETH/USDT": Decimal("2500"), "SOL/USDT": Decimal("150")}
    book.update({k.replace("_", "/"): Decimal(str(v)) for k, v in by_symbol.items()})
    return PriceBook({symbol: ReferencePrice(price, at) for symbol, price in book.items()})


def order(
    *,
    amount: str = "0.01",
    price: str | None = None,
    side: Side = Side.BUY,
    symbol: str = "BTC/USDT",
    mode: Mode = Mode.PAPER,
    exchange: str = "paper",
    order_id: str = "order-1",
) -> OrderSpec:
    return OrderSpec(
        order_id=order_id,
        symbol=symbol,
        side=side,
        type=OrderType.LIMIT if price is not None else OrderType.MARKET,
        amount=Decimal(amount),
        price=Decimal(price) if price is not None else None,
        mode=mode,
        exchange=exchange,
    )


def order_check(
    spec: OrderSpec | None = None,
    *,
    account: AccountState | None = None,
    limits: Limits | None = None,
    book: PriceBook | None = None,
    switches: KillSwitches | None = None,
    now: datetime = NOW,
    two_factor_verified: bool = False,
    market: MarketListing | None = None,
    restrictions: Restrictions | None = None,
    accepted_at: datetime | None = None,
) -> OrderCheck:
    spec = spec or order()
    return OrderCheck(
        account_id=ACCOUNT,
        command=PlaceOrder(order=spec, two_factor_verified=two_factor_verified),
        account=account or AccountState(registered=True),
        limits=limits or default_limits(),
        prices=book or prices(at=now),
        switches=switches or KillSwitches(),
        now=now,
        market=market or paper_listing(spec),
        accepted_at=accepted_at,
        restrictions=restrictions or Restrictions(),
    )


PAPER_SYMBOLS = frozenset({"BTC/USDT", "ETH/USDT", "SOL/USDT"})


def paper_listing(spec: OrderSpec) -> MarketListing:
    """The paper venue lists BTC, ETH and SOL against USDT with no rules of its own; safety
    has no listing of any other venue."""
    if spec.exchange != "paper":
        return MarketListing(venue_known=False, rules=None)
    return MarketListing(True, UNRESTRICTED if spec.symbol in PAPER_SYMBOLS else None)


def listed(rules: MarketRules = UNRESTRICTED) -> MarketListing:
    return MarketListing(venue_known=True, rules=rules)


def withdrawal_check(
    *,
    asset: str = "USDT",
    amount: str = "100",
    exchange: str = "paper",
    two_factor_verified: bool = True,
    account: AccountState | None = None,
    limits: Limits | None = None,
    book: PriceBook | None = None,
    switches: KillSwitches | None = None,
    now: datetime = NOW,
    restrictions: Restrictions | None = None,
) -> WithdrawalCheck:
    spec = WithdrawalSpec(
        withdrawal_id="withdrawal-1",
        asset=asset,
        amount=Decimal(amount),
        address="addr-1",
        exchange=exchange,
    )
    return WithdrawalCheck(
        account_id=ACCOUNT,
        command=RequestWithdrawal(withdrawal=spec, two_factor_verified=two_factor_verified),
        account=account or AccountState(registered=True),
        limits=limits or default_limits(),
        prices=book or prices(at=now),
        switches=switches or KillSwitches(),
        now=now,
        restrictions=restrictions or Restrictions(),
    )


def times(count: int, *, ending: datetime = NOW, spacing: timedelta) -> tuple[datetime, ...]:
    """`count` moments, the last at `ending`, `spacing` apart."""
    return tuple(ending - spacing * i for i in range(count))
