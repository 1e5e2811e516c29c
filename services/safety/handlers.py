"""Thin handlers: lock the account, load state, ask the domain, store the effects, emit.

Each runs inside the inbox's transaction, so the decision, the counters it moves
and the outbox message commit together or not at all.
"""

from __future__ import annotations

import dataclasses
import logging
from datetime import datetime

from services.safety.domain import (
    Limits,
    OrderCheck,
    WithdrawalCheck,
    decide_order,
    decide_withdrawal,
    flag_for,
    request_time,
)
from services.safety.domain.suspicious import Outcome
from services.safety.domain.valuation import VALUATION_QUOTE
from services.safety.errors import InvalidKillSwitch
from services.safety.fills import book_fill_event
from services.safety.post_trade import after_fill, after_order
from services.safety.reconciliation import halt_account
from services.safety.store import SafetyStore
from services.safety.store_controls import ControlsStore
from services.safety.store_facts import FactStore
from shared import metrics
from shared.contracts.accounts import KillSwitchChanged, UnenforceableKillSwitch, UserRegistered
from shared.contracts.decisions import SuspiciousActivityFlagged
from shared.contracts.envelope import Envelope
from shared.contracts.execution import (
    ExchangeKeyValidated,
    MarketsListed,
    OrderCancelled,
    OrderFailed,
    OrderFilled,
    PriceTick,
)
from shared.contracts.ledger import BalanceDiscrepancyDetected, FundsHoldRejected, HoldPurpose
from shared.contracts.orders import PlaceOrder
from shared.contracts.restrictions import RestrictionChanged
from shared.contracts.wallet import RequestWithdrawal
from shared.db import Connection
from shared.emitter import Emitter
from shared.ids import derived_id

log = logging.getLogger(__name__)


class SafetyHandlers:
    """Decides at `emitter`'s clock and stamps its decisions with that moment."""

    def __init__(self, limits: Limits, emitter: Emitter) -> None:
        self._limits = limits
        self._emitter = emitter
        self._clock = emitter.clock

    async def handle(self, conn: Connection, message: Envelope) -> None:
        """The inbox handler: every message safety consumes comes through here."""
        match message.payload:
            case PlaceOrder() as command:
                await self._place_order(conn, message, command)
            case RequestWithdrawal() as command:
                await self._request_withdrawal(conn, message, command)
            case PriceTick() as tick:
                await FactStore(conn).save_price(
                    tick.symbol, tick.venue, tick.price, tick.sequence, message.occurred_at
                )
            case MarketsListed() as listed:
                await FactStore(conn).save_listing(listed)
            case UserRegistered() as registered:
                await FactStore(conn).save_known_account(
                    registered.user_id, registered.role, message.occurred_at
                )
            case KillSwitchChanged() as change:
                await _change_kill_switch(conn, message, change)
            case RestrictionChanged() as change:
                await ControlsStore(conn).save_restriction(change, message.occurred_at)
            case OrderFilled() as fill:
                await SafetyStore(conn).lock_account(message.account_id)
                if await book_fill_event(conn, message, fill, self._limits, self._clock()):
                    await after_fill(conn, self._emitter, message, fill, self._limits)
            case OrderFailed() as failure:
                await _book_failure(conn, message, failure)
            case OrderCancelled() as cancelled:
                await FactStore(conn).close_order(cancelled.order_id)
            case ExchangeKeyValidated() as checked:
                await FactStore(conn).save_key_validation(
                    message.account_id,
                    checked.key_id,
                    checked.exchange,
                    valid=checked.valid,
                    checked_at=message.occurred_at,
                )
            case FundsHoldRejected(purpose=HoldPurpose.ORDER) as refused:
                await FactStore(conn).close_order(refused.hold_id)  # an order's hold id
            case BalanceDiscrepancyDetected():
                await halt_account(conn, self._emitter, message)
            case _:
                return  # CancelOrder, RecordDeposit and the rest: not safety's concern

    async def _place_order(self, conn: Connection, message: Envelope, command: PlaceOrder) -> None:
        store, order, account_id = SafetyStore(conn), command.order, message.account_id
        await store.lock_account(account_id)
        if await store.order_decided(order.order_id):
            log.warning("order %s already decided; %s ignored", order.order_id, message.event_id)
            return
        now = self._clock()
        requested_at = request_time(message.occurred_at, now, self._limits.request_max_skew)
        accepted_at = message.occurred_at
        symbols = [order.symbol, f"{order.quote}/{VALUATION_QUOTE}"]
        inputs = await store.decision_inputs(account_id, now, order.base, requested_at=requested_at)
        controls = ControlsStore(conn)
        sent = await controls.sent_orders(account_id, order.symbol, accepted_at)
        check = OrderCheck(
            account_id=account_id,
            command=command,
            account=dataclasses.replace(inputs.account, sent_orders=sent),
            limits=self._limits.with_overrides(inputs.limit_overrides),
            prices=await store.price_book(symbols),
            switches=inputs.switches,
            now=now,
            market=await store.market(order.exchange, order.symbol),
            requested_at=requested_at,
            accepted_at=accepted_at,
            restrictions=await controls.restrictions(account_id, order.symbol),
        )
        decision = decide_order(check)
        await store.record_order(account_id, order, decision, now, requested_at, accepted_at)
        await _emit(conn, self._emitter, message, decision.outcome, order.order_id, now)
        await after_order(conn, self._emitter, message, order.order_id, requested_at, check.limits)

    async def _request_withdrawal(
        self, conn: Connection, message: Envelope, command: RequestWithdrawal
    ) -> None:
        store, withdrawal, account_id = SafetyStore(conn), command.withdrawal, message.account_id
        await store.lock_account(account_id)
        if await store.withdrawal_decided(withdrawal.withdrawal_id):
            log.warning("withdrawal %s already decided; ignored", withdrawal.withdrawal_id)
            return
        now = self._clock()
        requested_at = request_time(message.occurred_at, now, self._limits.request_max_skew)
        inputs = await store.decision_inputs(account_id, now, requested_at=requested_at)
        check = WithdrawalCheck(
            account_id=account_id,
            command=command,
            account=inputs.account,
            limits=self._limits.with_overrides(inputs.limit_overrides),
            prices=await store.price_book([f"{withdrawal.asset}/{VALUATION_QUOTE}"]),
            switches=inputs.switches,
            now=now,
            requested_at=requested_at,
            restrictions=await ControlsStore(conn).restrictions(account_id),
        )
        decision = decide_withdrawal(check)
        await store.record_withdrawal(account_id, withdrawal, decision, now, requested_at)
        await _emit(conn, self._emitter, message, decision.outcome, withdrawal.withdrawal_id, now)


async def _emit(
    conn: Connection,
    emitter: Emitter,
    cause: Envelope,
    outcome: Outcome,
    correlation_id: str,
    now: datetime,
) -> None:
    """One decision per order or withdrawal: its event id is derived from the id it decides.
    A request held for suspicious activity is flagged too, in the same outbox transaction."""

    async def emit(payload: Outcome | SuspiciousActivityFlagged, kind: str) -> None:
        await emitter.emit(
            conn,
            payload,
            account_id=cause.account_id,
            correlation_id=correlation_id,
            cause=cause,
            now=now,
            event_id=derived_id(kind, correlation_id),
        )

    flag = flag_for(outcome)
    await emit(outcome, "safety.decision")
    if flag is not None:
        await emit(flag, "safety.flag")
        log.warning("%s %s held by rule %s", flag.request_kind, flag.request_id, flag.rule)
    reason = getattr(outcome, "reason", None)
    metrics.DECISIONS.labels(_snake_case(outcome.TYPE), str(reason or "")).inc()


def _snake_case(name: str) -> str:
    """`OrderRejected` → `order_rejected`: the metric's decision label."""
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name).lstrip("_")


async def _change_kill_switch(
    conn: Connection, message: Envelope, change: KillSwitchChanged
) -> None:
    try:
        scope, target = change.switch()
    except UnenforceableKillSwitch as exc:
        raise InvalidKillSwitch(str(exc)) from None
    await FactStore(conn).save_kill_switch(
        scope=scope,
        target=target or "",
        engaged=change.engaged,
        reason=change.reason,
        changed_by=change.changed_by,
        changed_at=message.occurred_at,
        mode=change.mode,
    )


async def _book_failure(conn: Connection, message: Envelope, failure: OrderFailed) -> None:
    """A failed order lengthens the account's failure streak (once per order) and closes it."""
    await SafetyStore(conn).lock_account(message.account_id)
    facts = FactStore(conn)
    if await facts.first_booking_of_failure(failure.order_id):
        await facts.count_failure(message.account_id, message.occurred_at)
    await facts.close_order(failure.order_id)
