"""The inbox handler: `FundsHeld` places the order or sends the withdrawal; `CancelOrder` cancels;
`ExchangeKeyAdded` stores a sealed key; a kill switch is remembered (an order arriving under an
engaged one is not placed) and, engaged, cancels the orders it covers; `CancelAllAfterArmed`
sets the account's dead man's switch (fired by `dead_man.DeadMan`).

Thin: it picks the flow and gives it this transaction's store, venues and announcer. Nothing
here calls a network venue: their orders and withdrawals are left `pending` for the
background sender (`venue_work`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from services.execution.announce import Announcer
from services.execution.domain.errors import InvalidKillSwitch, MalformedHold
from services.execution.domain.orders import KILL_SWITCH_REASON
from services.execution.orders import OrderFlow
from services.execution.store import ExecutionStore, PostgresExecutionStore
from services.execution.venues.base import Venue
from services.execution.venues.ccxt_client import is_ccxt_exchange
from services.execution.withdrawals import WithdrawalFlow
from shared.contracts.accounts import (
    ExchangeKeyAdded,
    KillSwitchChanged,
    KillSwitchMode,
    KillSwitchScope,
    UnenforceableKillSwitch,
)
from shared.contracts.envelope import Envelope
from shared.contracts.ledger import FundsHeld, HoldPurpose
from shared.contracts.orders import CancelAllAfterArmed, CancelOrder, Side
from shared.db import Connection
from shared.emitter import Emitter

VenueFactory = Callable[[Connection, str], Venue | None]
"""The in-transaction adapter for a venue name (the paper venue), or None."""
CLOCK_SKEW = timedelta(seconds=5)
"""Orders recorded this long after the switch's `occurred_at` (another clock) still count."""


@dataclass(frozen=True)
class ExecutionHandler:
    venue_for: VenueFactory
    emitter: Emitter
    """Its messages are stamped when the message that caused them is handled."""
    store_for: Callable[[Connection], ExecutionStore] = PostgresExecutionStore
    remote: Callable[[str], bool] = is_ccxt_exchange
    """Whether a venue name is a network exchange (served by the background sender)."""

    async def __call__(self, conn: Connection, message: Envelope) -> None:
        payload = message.payload
        if isinstance(payload, FundsHeld):
            await self._on_funds_held(conn, message, payload)
        elif isinstance(payload, CancelOrder):
            await self._order_flow(conn, message).cancel(payload.order_id, message.account_id)
        elif isinstance(payload, ExchangeKeyAdded):  # sealed; checked in the background
            await self.store_for(conn).add_key(
                payload.key_id, message.account_id, payload.exchange, payload.sealed_secret
            )
        elif isinstance(payload, KillSwitchChanged):
            await self._on_kill_switch(conn, message, payload)
        elif isinstance(payload, CancelAllAfterArmed):
            await self.store_for(conn).arm_cancel_all_after(
                message.account_id, message.occurred_at, payload.armed_until
            )

    async def _on_funds_held(self, conn: Connection, message: Envelope, held: FundsHeld) -> None:
        if held.purpose is HoldPurpose.ORDER:
            if held.order is None:
                raise MalformedHold(f"order hold {held.hold_id} carries no order")
            await self._order_flow(conn, message).place(held.order, message.account_id)
        elif held.purpose is HoldPurpose.WITHDRAWAL:
            if held.withdrawal is None:
                raise MalformedHold(f"withdrawal hold {held.hold_id} carries no withdrawal")
            flow = WithdrawalFlow(
                self.store_for(conn),
                self._venues(conn),
                self._announcer(conn, message),
                self.remote,
            )
            await flow.send(held.withdrawal, message.account_id)

    async def _on_kill_switch(
        self, conn: Connection, message: Envelope, switch: KillSwitchChanged
    ) -> None:
        """Remember the switch (newest by the event's time), for the orders still to arrive.
        Engaged (and newest): cancel every non-terminal order it covers that existed when it
        was engaged (a later order passed safety after the switch, so it was released since).
        A `reduce_only` switch cancels only the buys; the sells reduce the position."""
        try:
            scope, target = switch.switch()
        except UnenforceableKillSwitch as exc:
            raise InvalidKillSwitch(str(exc)) from None
        store = self.store_for(conn)
        newest = await store.save_kill_switch(
            scope,
            target or "",
            engaged=switch.engaged,
            mode=switch.mode,
            changed_at=message.occurred_at,
        )
        if not (newest and switch.engaged):
            return
        orders = await store.orders_in_scope(
            account_id=target if scope is KillSwitchScope.ACCOUNT else None,
            symbol=target if scope is KillSwitchScope.SYMBOL else None,
            side=Side.BUY if switch.mode is KillSwitchMode.REDUCE_ONLY else None,
            created_before=message.occurred_at + CLOCK_SKEW,
        )
        flow = self._order_flow(conn, message)
        for order in orders:
            await flow.cancel(order.order_id, order.account_id, KILL_SWITCH_REASON)

    def _order_flow(self, conn: Connection, message: Envelope) -> OrderFlow:
        return OrderFlow(
            self.store_for(conn), self._venues(conn), self._announcer(conn, message), self.remote
        )

    def _venues(self, conn: Connection) -> Callable[[str], Venue | None]:
        return lambda name: self.venue_for(conn, name)

    def _announcer(self, conn: Connection, cause: Envelope) -> Announcer:
        return Announcer.now_in(self.emitter, conn, cause)
