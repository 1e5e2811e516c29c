"""Builders for the messages the ledger consumes, so tests read like the order flow."""

from __future__ import annotations

from decimal import Decimal

from shared.clock import utc_now
from shared.contracts.decisions import OrderApproved, WithdrawalApproved
from shared.contracts.envelope import Envelope, Payload, new_message
from shared.contracts.execution import (
    DepositDetected,
    FillStatus,
    OrderCancelled,
    OrderFailed,
    OrderFilled,
    WithdrawalFailed,
    WithdrawalSent,
)
from shared.contracts.orders import OrderSpec, OrderType, Side
from shared.contracts.reasons import RejectReason
from shared.contracts.wallet import RecordDeposit, WithdrawalSpec

USER = "user-1"


def D(text: str | int) -> Decimal:
    return Decimal(text)


def envelope(payload: Payload, *, account: str = USER, correlation: str = "c-1") -> Envelope:
    return new_message(
        payload, producer="test", account_id=account, correlation_id=correlation, now=utc_now()
    )


def deposit(
    amount: str, asset: str = "USDT", *, reference: str = "ref-1", venue: str = "paper", **kw: str
) -> Envelope:
    body = RecordDeposit(
        deposit_id=reference, asset=asset, amount=D(amount), venue=venue, reference=reference
    )
    return envelope(body, **kw)


def detected(
    amount: str, asset: str = "USDT", *, txid: str = "tx-1", venue: str = "paper"
) -> Envelope:
    return envelope(DepositDetected(venue=venue, txid=txid, asset=asset, amount=D(amount)))


def approve(
    order_id: str,
    amount: str,
    *,
    side: Side = Side.BUY,
    price: str | None = None,
    reference: str = "100",
    band: str = "0.10",
    symbol: str = "BTC/USDT",
    **kw: str,
) -> Envelope:
    order = OrderSpec(
        order_id=order_id,
        symbol=symbol,
        side=side,
        type=OrderType.LIMIT if price is not None else OrderType.MARKET,
        amount=D(amount),
        price=D(price) if price is not None else None,
    )
    body = OrderApproved(order=order, reference_price=D(reference), price_band=D(band))
    return envelope(body, correlation=order_id, **kw)


def fill(
    order_id: str,
    trade_id: str,
    amount: str,
    price: str,
    *,
    fee: str = "0",
    side: Side = Side.BUY,
    done: bool = False,
    symbol: str = "BTC/USDT",
    fee_asset: str | None = None,
    **kw: str,
) -> Envelope:
    body = OrderFilled(
        order_id=order_id,
        trade_id=trade_id,
        symbol=symbol,
        side=side.value,
        amount=D(amount),
        price=D(price),
        fee=D(fee),
        fee_asset=fee_asset or symbol.split("/")[1],
        status=FillStatus.FILLED if done else FillStatus.PARTIALLY_FILLED,
        cumulative_amount=D(amount),
    )
    return envelope(body, correlation=order_id, **kw)


def cancelled(order_id: str, **kw: str) -> Envelope:
    return envelope(OrderCancelled(order_id=order_id), correlation=order_id, **kw)


def failed(order_id: str, **kw: str) -> Envelope:
    body = OrderFailed(order_id=order_id, reason=RejectReason.EXCHANGE_REJECTED, detail="no")
    return envelope(body, correlation=order_id, **kw)


def approve_withdrawal(withdrawal_id: str, amount: str, asset: str = "USDT", **kw: str) -> Envelope:
    spec = WithdrawalSpec(withdrawal_id=withdrawal_id, asset=asset, amount=D(amount), address="a")
    return envelope(WithdrawalApproved(withdrawal=spec), correlation=withdrawal_id, **kw)


def sent(withdrawal_id: str, amount: str, asset: str = "USDT", **kw: str) -> Envelope:
    body = WithdrawalSent(withdrawal_id=withdrawal_id, asset=asset, amount=D(amount), txid="t")
    return envelope(body, correlation=withdrawal_id, **kw)


def withdrawal_failed(withdrawal_id: str, **kw: str) -> Envelope:
    body = WithdrawalFailed(
        withdrawal_id=withdrawal_id, reason=RejectReason.EXCHANGE_REJECTED, detail="no"
    )
    return envelope(body, correlation=withdrawal_id, **kw)
