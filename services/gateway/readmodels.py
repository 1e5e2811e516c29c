"""The inbox handler that builds the read models from decisions, ledger, execution and account
events.

Each message moves an order or withdrawal forward (never back, never out of a
terminal status: see `domain.py`), records a fill once per trade id, keeps the
newest balance and the newest state of a kill switch another service changed
(`controls.py`), and lands in the owner's audit entries when it belongs to a
correlation the gateway started. The audit service's `AuditChainLinks` give those entries
their chain `hash`/`prev_hash`. Messages of no interest are ignored.

A batch handler: each message's change in order, then the batch's audit entries with one
statement (only HTTP requests start a correlation, so none of them depends on another).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Sequence
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


class ReadModels:
    def __init__(self, metrics: GatewayMetrics, clock: Callable[[], datetime]) -> None:
        self._metrics = metrics
        self._clock = clock

    async def handle(self, conn: Connection, messages: Sequence[Envelope]) -> None:
        """Inbox batch handler: apply `messages` in order inside the inbox's transaction."""
        for message in messages:
            await self._apply(conn, message)
        await trail.add_entries_if_followed(conn, messages)
        for kind, count in Counter(message.type for message in messages).items():
            self._metrics.read_model_messages.labels(kind).inc(count)

    async def _apply(self, conn: Connection, message: Envelope) -> None:
        now = self._clock()
        user = message.account_id
        match message.payload:
            case decisions.OrderApproved(order=spec):
                await _order(conn, user, spec.order_id, OrderStatus.APPROVED, now)
            case decisions.OrderRejected(order_id=order_id, reason=reason, detail=detail):
                await _order(conn, user, order_id, OrderStatus.REJECTED, now, reason, detail)
            case ledger.FundsHeld(purpose=ledger.HoldPurpose.ORDER):
                await _order(conn, user, message.correlation_id, OrderStatus.FUNDS_HELD, now)
            case ledger.FundsHeld(purpose=ledger.HoldPurpose.WITHDRAWAL):
                held = WithdrawalStatus.FUNDS_HELD
                await _withdrawal(conn, user, message.correlation_id, held, now)
            case ledger.FundsHoldRejected(purpose=ledger.HoldPurpose.ORDER, reason=reason):
                detail = "the ledger could not hold the funds"
                rejected = OrderStatus.REJECTED
                await _order(conn, user, message.correlation_id, rejected, now, reason, detail)
            case ledger.FundsHoldRejected(purpose=ledger.HoldPurpose.WITHDRAWAL, reason=reason):
                detail = "the ledger could not hold the funds"
                refused = WithdrawalStatus.REJECTED
                await _withdrawal(conn, user, message.correlation_id, refused, now, reason, detail)
            case ledger.DepositCredited(deposit_id=deposit_id):
                await wallet.end_deposit(conn, deposit_id, user, DepositStatus.CREDITED, now)
            case ledger.DepositRejected(deposit_id=deposit_id, reason=reason, detail=detail):
                ended = DepositStatus.REJECTED
                why = {"reject_reason": reason.value, "reject_detail": detail}
                await wallet.end_deposit(conn, deposit_id, user, ended, now, **why)
            case ledger.BalanceChanged(asset=asset, available=available, held=held, version=v):
                await wallet.save_balance(conn, user, asset, available, held, v, now)
            case execution.OrderSubmitted(order_id=order_id):
                await _order(conn, user, order_id, OrderStatus.SUBMITTED, now)
            case execution.OrderOutcomeUnknown(order_id=order_id):
                await _order(conn, user, order_id, OrderStatus.SUBMITTED, now)
            case execution.OrderFilled() as filled:
                await _fill(conn, user, filled, now)
            case execution.OrderCancelled(order_id=order_id):
                await _order(conn, user, order_id, OrderStatus.CANCELLED, now)
            case execution.OrderFailed(order_id=order_id, reason=reason, detail=detail):
                await _order(conn, user, order_id, OrderStatus.FAILED, now, reason, detail)
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


async def _order(
    conn: Connection,
    user_id: str,
    order_id: str,
    proposed: OrderStatus,
    now: datetime,
    reason: str | None = None,
    detail: str | None = None,
) -> None:
    order = await orders.order_of(conn, order_id, user_id, lock=True)
    if order is None:
        log.debug("read model: no order %s of %s; ignored", order_id, user_id)
        return
    status = next_order_status(order.status, proposed)
    if status is not order.status:
        keep_reason = status is proposed
        await orders.save_status(
            conn,
            order_id,
            status,
            now,
            str(reason) if keep_reason and reason else None,
            detail if keep_reason else None,
        )


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
