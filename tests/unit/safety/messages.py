"""Envelopes safety consumes, as other services would send them (for handler and broker tests)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from shared.clock import utc_now
from shared.contracts.accounts import KillSwitchChanged, UserRegistered
from shared.contracts.envelope import Envelope, Payload, new_message
from shared.contracts.execution import (
    ExchangeKeyValidated,
    FillStatus,
    ListedMarket,
    MarketsListed,
    OrderFailed,
    OrderFilled,
    PriceTick,
)
from shared.contracts.orders import Mode, OrderSpec, OrderType, PlaceOrder, Side
from shared.contracts.reasons import RejectReason
from shared.contracts.restrictions import RestrictionChanged, RestrictionScope
from shared.contracts.wallet import RequestWithdrawal, WithdrawalSpec
from shared.ids import SYSTEM_ACCOUNT


def wrap(
    payload: Payload, account: str, correlation: str, producer: str, at: datetime | None
) -> Envelope:
    return new_message(
        payload,
        producer=producer,
        account_id=account,
        correlation_id=correlation,
        now=at or utc_now(),
    )


def registered(account: str, role: str = "user") -> Envelope:
    """What the gateway publishes when the account is created: safety decides only for
    accounts it has seen this for (ACCOUNT_INACTIVE otherwise)."""
    return wrap(UserRegistered(user_id=account, role=role), account, account, "gateway", None)


def place(
    account: str,
    order_id: str,
    *,
    symbol: str = "BTC/USDT",
    amount: str = "0.001",
    side: Side = Side.BUY,
    at: datetime | None = None,
    exchange: str = "paper",
) -> Envelope:
    """A market order; on an exchange other than paper, a real-money one with 2FA verified."""
    spec = OrderSpec(
        order_id=order_id,
        symbol=symbol,
        side=side,
        type=OrderType.MARKET,
        amount=Decimal(amount),
        mode=Mode.PAPER if exchange == "paper" else Mode.REAL,
        exchange=exchange,
    )
    command = PlaceOrder(order=spec, two_factor_verified=exchange != "paper")
    return wrap(command, account, order_id, "gateway", at)


def withdraw(account: str, withdrawal_id: str, amount: str, asset: str = "USDT") -> Envelope:
    spec = WithdrawalSpec(
        withdrawal_id=withdrawal_id, asset=asset, amount=Decimal(amount), address="addr"
    )
    command = RequestWithdrawal(withdrawal=spec, two_factor_verified=True)
    return wrap(command, account, withdrawal_id, "gateway", None)


def tick(symbol: str, price: str, sequence: int, at: datetime | None = None) -> Envelope:
    body = PriceTick(venue="paper", symbol=symbol, price=Decimal(price), sequence=sequence)
    return wrap(body, SYSTEM_ACCOUNT, symbol, "execution", at)


def listing(venue: str, *markets: ListedMarket | str, at: datetime | None = None) -> Envelope:
    """The whole listing of `venue`, in one part (a bare symbol: a market with no own rules)."""
    listed = [ListedMarket(symbol=m) if isinstance(m, str) else m for m in markets]
    at = at or datetime.now(UTC)
    body = MarketsListed(venue=venue, listed_at=at, part=1, parts=1, markets=listed)
    return wrap(body, SYSTEM_ACCOUNT, f"markets:{venue}", "execution", at)


def kill_switch(scope: str, target: str | None, *, engaged: bool) -> Envelope:
    change = KillSwitchChanged(
        scope=scope, target=target, engaged=engaged, reason="test", changed_by="admin"
    )
    key = target if scope == "account" and target else SYSTEM_ACCOUNT
    return wrap(change, key, f"kill-switch:{scope}:{target}", "gateway", None)


def restriction(scope: RestrictionScope, target: str, *, restricted: bool) -> Envelope:
    """`RestrictionChanged` as the gateway emits it (keyed by the account for an account)."""
    change = RestrictionChanged(
        scope=scope, target=target, restricted=restricted, reason="test", changed_by="admin"
    )
    key = target if scope is RestrictionScope.ACCOUNT else SYSTEM_ACCOUNT
    return wrap(change, key, f"restriction:{scope}:{target}", "gateway", None)


def filled(
    account: str,
    order_id: str,
    trade_id: str,
    *,
    symbol: str = "BTC/USDT",
    amount: str = "0.001",
    price: str = "50000",
    side: Side = Side.BUY,
    fee: str = "0",
    at: datetime | None = None,
) -> Envelope:
    body = OrderFilled(
        order_id=order_id,
        trade_id=trade_id,
        symbol=symbol,
        side=side,
        amount=Decimal(amount),
        price=Decimal(price),
        fee=Decimal(fee),
        fee_asset=symbol.split("/")[1],
        status=FillStatus.FILLED,
        cumulative_amount=Decimal(amount),
    )
    return wrap(body, account, order_id, "execution", at)


def failed(account: str, order_id: str) -> Envelope:
    body = OrderFailed(order_id=order_id, reason=RejectReason.EXCHANGE_REJECTED, detail="-2010")
    return wrap(body, account, order_id, "execution", None)


def key_checked(account: str, exchange: str, *, valid: bool) -> Envelope:
    body = ExchangeKeyValidated(
        key_id=f"{account}-key", exchange=exchange, valid=valid, changed_by="execution"
    )
    return wrap(body, account, f"{account}-key", "execution", None)
