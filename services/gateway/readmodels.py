"""The inbox handler that builds the read models from decisions, ledger, execution and account
events.

Each message moves an order or withdrawal forward (never back, never out of a
terminal status: see `domain.py`), records a fill once per trade id, keeps the
newest balance and the newest state of a kill switch another service changed
(`controls.py`), and lands in the owner's audit entries when it belongs to a
correlation the gateway started. The audit service's `AuditChainLinks` give those entries
their chain `hash`/`prev_hash`. Messages of no interest are ignored.

`readmodels_batch.BatchedReadModels` applies a consumed batch at once with the same rules.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from services.gateway import controls
from services.gateway.domain import (
    DepositStatus,
    Fill,
    OrderStatus,
    WithdrawalStatus,
    next_order_status,
    next_withdrawal_status,
    summarize_fills,
)
from services.gateway.metrics import GatewayMetrics
from services.gateway.store import accounts, orders, trail, wallet
from shared.contracts import decisions, execution, ledger
from shared.contracts.accounts import KillSwitchChanged
from shared.contracts.audit import AuditChainLinks
from shared.contracts.envelope import Envelope
from shared.db import Connection

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class OrderNews:
    """What a message says about an order's status (a fill is told apart: it has a trade)."""

    order_id: str
    proposed: OrderStatus
    reason: str | None = None
    detail: str | None = None


HOLD_REFUSED = "the ledger could not hold the funds"


def order_news(message: Envelope) -> OrderNews | None:
    match message.payload:
        case decisions.OrderApproved(order=spec):
            return OrderNews(spec.order_id, OrderStatus.APPROVED)
        case decisions.OrderRejected(order_id=order_id, reason=reason, detail=detail):
            return OrderNews(order_id, OrderStatus.REJECTED, reason, detail)
        case ledger.FundsHeld(purpose=ledger.HoldPurpose.ORDER):
            return OrderNews(message.correlation_id, OrderStatus.FUNDS_HELD)
        case ledger.FundsHoldRejected(purpose=ledger.HoldPurpose.ORDER, reason=reason):
            return OrderNews(message.correlation_id, OrderStatus.REJECTED, reason, HOLD_REFUSED)
        case execution.OrderSubmitted(order_id=order_id):
            return OrderNews(order_id, OrderStatus.SUBMITTED)
        case execution.OrderOutcomeUnknown(order_id=order_id):
            return OrderNews(order_id, OrderStatus.SUBMITTED)
        case execution.OrderCancelled(order_id=order_id):
            return OrderNews(order_id, OrderStatus.CANCELLED)
        case execution.OrderFailed(order_id=order_id, reason=reason, detail=detail):
            return OrderNews(order_id, OrderStatus.FAILED, reason, detail)
    return None


class ReadModels:
    def __init__(self, metrics: GatewayMetrics, clock: Callable[[], datetime]) -> None:
        self.metrics = metrics
        self.clock = clock

    async def handle(self, conn: Connection, message: Envelope) -> None:
        """Inbox handler: apply `message` inside the inbox's transaction."""
        now = self.clock()
        news = order_news(message)
        if news is not None:
            await _order(conn, message.account_id, news, now)
        elif isinstance(message.payload, execution.OrderFilled):
            await _fill(conn, message.account_id, message.payload, now)
        else:
            await self.apply_other(conn, message, now)
        await trail.add_entry_if_followed(conn, message)
        self.metrics.read_model_messages.labels(message.type).inc()

    async def apply_other(self, conn: Connection, message: Envelope, now: datetime) -> None:
        """Every read model but the order's (`order_news`, fills): withdrawals, deposits,
        balances, keys, kill switches, audit links."""
        user = message.account_id
        match message.payload:
            case ledger.FundsHeld(purpose=ledger.HoldPurpose.WITHDRAWAL):
                held = WithdrawalStatus.FUNDS_HELD
                await _withdrawal(conn, user, message.correlation_id, held, now)
            case ledger.FundsHoldRejected(purpose=ledger.HoldPurpose.WITHDRAWAL, reason=reason):
                refused = WithdrawalStatus.REJECTED
                await _withdrawal(
                    conn, user, message.correlation_id, refused, now, reason, HOLD_REFUSED
                )
            case ledger.DepositCredited(deposit_id=deposit_id):
                await wallet.end_deposit(conn, deposit_id, user, DepositStatus.CREDITED, now)
            case ledger.DepositRejected(deposit_id=deposit_id, reason=reason, detail=detail):
                ended = DepositStatus.REJECTED
                why = {"reject_reason": reason.value, "reject_detail": detail}
                await wallet.end_deposit(conn, deposit_id, user, ended, now, **why)
            case ledger.BalanceChanged(asset=asset, available=available, held=held, version=v):
                await wallet.save_balance(conn, user, asset, available, held, v, now)
            case decisions.WithdrawalApproved(withdrawal=w_spec):
                approved = WithdrawalStatus.APPROVED
                await _withdrawal(conn, user, w_spec.withdrawal_id, approved, now)
            case decisions.WithdrawalRejected(withdrawal_id=w_id, reason=reason, detail=detail):
                refused = WithdrawalStatus.REJECTED
                await _withdrawal(conn, user, w_id, refused, now, reason, detail)
            case execution.WithdrawalSent(withdrawal_id=w_id, txid=txid):
                await _withdrawal(conn, user, w_id, WithdrawalStatus.SENT, now, txid=txid)
            case execution.WithdrawalFailed(withdrawal_id=w_id, reason=reason, detail=detail):
                await _withdrawal(conn, user, w_id, WithdrawalStatus.FAILED, now, reason, detail)
            case execution.ExchangeKeyValidated(key_id=key_id, valid=valid):
                await accounts.mark_key_validated(conn, user, key_id, valid)
            case KillSwitchChanged():
                await controls.record_kill_switch_change(conn, message)
            case AuditChainLinks(links=links):
                await trail.save_links(conn, links)
            case _:
                pass


async def _order(conn: Connection, user_id: str, news: OrderNews, now: datetime) -> None:
    order = await orders.order_of(conn, news.order_id, user_id, lock=True)
    if order is None:
        log.debug("read model: no order %s of %s; ignored", news.order_id, user_id)
        return
    status = next_order_status(order.status, news.proposed)
    if status is not order.status:
        kept = kept_reason(status, news)
        await orders.save_status(conn, news.order_id, status, now, *kept)


def kept_reason(status: OrderStatus, news: OrderNews) -> tuple[str | None, str | None]:
    """The reason and detail an order's row keeps when `news` moved it to `status`: only the
    news that decided the status leaves its reason (None: the row keeps what it had)."""
    if status is not news.proposed:
        return None, None
    return (str(news.reason) if news.reason else None), news.detail


async def _fill(
    conn: Connection, user_id: str, filled: execution.OrderFilled, now: datetime
) -> None:
    order = await orders.order_of(conn, filled.order_id, user_id, lock=True)
    if order is None:
        log.debug("read model: fill of unknown order %s; ignored", filled.order_id)
        return
    fill = Fill(filled.trade_id, filled.amount, filled.price, filled.fee, filled.fee_asset)
    if await orders.insert_fill(conn, filled.order_id, fill):
        summary = summarize_fills(await orders.fills_of(conn, filled.order_id))
        await orders.save_fill_summary(conn, filled.order_id, summary, now)
    proposed = OrderStatus(filled.status.value)
    status = next_order_status(order.status, proposed)
    if status is not order.status:
        await orders.save_status(conn, filled.order_id, status, now)


async def _withdrawal(
    conn: Connection,
    user_id: str,
    withdrawal_id: str,
    proposed: WithdrawalStatus,
    now: datetime,
    reason: str | None = None,
    detail: str | None = None,
    *,
    txid: str | None = None,
) -> None:
    row = await wallet.withdrawal_of(conn, withdrawal_id, user_id, lock=True)
    if row is None:
        log.debug("read model: no withdrawal %s of %s; ignored", withdrawal_id, user_id)
        return
    status = next_withdrawal_status(row.status, proposed)
    if status is not row.status:
        await wallet.save_withdrawal(
            conn,
            withdrawal_id,
            status,
            now,
            reject_reason=str(reason) if reason else None,
            reject_detail=detail,
            txid=txid,
        )
