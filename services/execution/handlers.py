"""The inbox handler: `FundsHeld` places the order or sends the withdrawal; `CancelOrder` cancels.

Thin: it picks the flow and gives it this transaction's store, venues and announcer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from services.execution.announce import Announcer, Emit
from services.execution.errors import MalformedHold
from services.execution.orders import OrderFlow
from services.execution.store import ExecutionStore, PostgresExecutionStore
from services.execution.venues.base import Venue
from services.execution.withdrawals import WithdrawalFlow
from shared.contracts.envelope import Envelope
from shared.contracts.ledger import FundsHeld, HoldPurpose
from shared.contracts.orders import CancelOrder
from shared.db import Connection
from shared.outbox import enqueue

VenueFactory = Callable[[Connection, str], Venue | None]
"""The adapter for a venue name on this connection, or None when this build has none."""


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class ExecutionHandler:
    venue_for: VenueFactory
    store_for: Callable[[Connection], ExecutionStore] = PostgresExecutionStore
    emit: Emit = field(default=enqueue)
    clock: Callable[[], datetime] = utc_now

    async def __call__(self, conn: Connection, message: Envelope) -> None:
        payload = message.payload
        if isinstance(payload, FundsHeld):
            await self._on_funds_held(conn, message, payload)
        elif isinstance(payload, CancelOrder):
            await self._order_flow(conn, message).cancel(payload.order_id, message.account_id)

    async def _on_funds_held(self, conn: Connection, message: Envelope, held: FundsHeld) -> None:
        if held.purpose is HoldPurpose.ORDER:
            if held.order is None:
                raise MalformedHold(f"order hold {held.hold_id} carries no order")
            await self._order_flow(conn, message).place(held.order, message.account_id)
        elif held.purpose is HoldPurpose.WITHDRAWAL:
            if held.withdrawal is None:
                raise MalformedHold(f"withdrawal hold {held.hold_id} carries no withdrawal")
            flow = WithdrawalFlow(
                self.store_for(conn), self._venues(conn), self._announcer(conn, message)
            )
            await flow.send(held.withdrawal, message.account_id)

    def _order_flow(self, conn: Connection, message: Envelope) -> OrderFlow:
        return OrderFlow(self.store_for(conn), self._venues(conn), self._announcer(conn, message))

    def _venues(self, conn: Connection) -> Callable[[str], Venue | None]:
        return lambda name: self.venue_for(conn, name)

    def _announcer(self, conn: Connection, cause: Envelope) -> Announcer:
        return Announcer(conn, self.emit, self.clock(), cause)
