"""Thin handlers: lock the account, load state, ask the domain, store the effects, emit.

A consumer batch comes in at once (`handle_batch`), inside the inbox's transaction, so a
decision, the counters it moves and its outbox message commit together or not at all. It is
applied in order as runs: consecutive requests (orders, withdrawals) each of another account
are decided together (`batch.decide_run`); every other message alone, between the runs.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from services.safety.batch import Run, decide_run, request_of
from services.safety.domain import Limits
from services.safety.errors import InvalidKillSwitch
from services.safety.fills import book_fill_event
from services.safety.post_trade import after_fill
from services.safety.reconciliation import halt_account
from services.safety.store import SafetyStore
from services.safety.store_controls import ControlsStore
from services.safety.store_facts import FactStore
from shared.contracts.accounts import KillSwitchChanged, UnenforceableKillSwitch, UserRegistered
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
from shared.contracts.restrictions import RestrictionChanged
from shared.db import Connection
from shared.emitter import Emitter
from shared.inbox import in_trace_of

log = logging.getLogger(__name__)


class SafetyHandlers:
    """Decides at `emitter`'s clock and stamps its decisions with that moment."""

    def __init__(self, limits: Limits, emitter: Emitter) -> None:
        self._limits = limits
        self._emitter = emitter
        self._clock = emitter.clock

    async def handle_batch(self, conn: Connection, messages: Sequence[Envelope]) -> None:
        """The inbox's batch handler: every message safety consumes comes through here."""
        run = Run()
        for message in messages:
            request = request_of(message)
            if request is None or not run.admits(message, request):
                if run.messages:
                    await decide_run(conn, self._emitter, self._limits, run.messages)
                run = Run()
            if request is not None:
                run.add(message, request)
                continue
            with in_trace_of(message):
                await self._apply(conn, message)
        if run.messages:
            await decide_run(conn, self._emitter, self._limits, run.messages)

    async def _apply(self, conn: Connection, message: Envelope) -> None:
        """A message that is not a request: applied alone."""
        match message.payload:
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
