"""In-memory stand-ins for execution's store, a venue and the outbox (no I/O)."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from decimal import Decimal

from services.execution.domain.errors import VenueOutcomeUnknown, VenueRejected
from services.execution.domain.orders import (
    OrderRecord,
    OrderStatus,
    Trade,
    VenueOrderStatus,
    WithdrawalRecord,
    WithdrawalStatus,
    limit_crossed,
    plan_trades,
)
from services.execution.venues.base import (
    OrderRequest,
    VenueOrder,
    WithdrawalReceipt,
    WithdrawalRequest,
)
from shared.contracts.accounts import KillSwitchMode, KillSwitchScope
from shared.contracts.envelope import Envelope
from shared.contracts.orders import OrderType, Side
from shared.db import Connection


class FakeStore:
    def __init__(self) -> None:
        self.orders: dict[str, OrderRecord] = {}
        self.fills: dict[tuple[str, str], Trade] = {}
        self.early_cancels: dict[str, str] = {}
        self.withdrawals: dict[str, tuple[WithdrawalRecord, WithdrawalStatus, str | None]] = {}
        self.valid_keys: set[tuple[str, str]] = set()
        self.keys: dict[str, tuple[str, str, str]] = {}
        self.cancel_requested: set[str] = set()
        self.switches: dict[tuple[KillSwitchScope, str], tuple[bool, KillSwitchMode, datetime]] = {}
        self.dead_man: dict[str, tuple[datetime, datetime | None]] = {}

    async def insert_order(self, order: OrderRecord) -> bool:
        if order.order_id in self.orders:
            return False
        self.orders[order.order_id] = order
        return True

    async def claim(self, order_id: str) -> None:
        return None

    async def order(self, order_id: str, *, lock: bool) -> OrderRecord | None:
        return self.orders.get(order_id)

    async def order_by_client_id(self, client_order_id: str) -> OrderRecord | None:
        return next((o for o in self.orders.values() if o.client_order_id == client_order_id), None)

    async def save_order_state(
        self, order_id: str, status: OrderStatus, filled_amount: Decimal, venue_order_id: str | None
    ) -> None:
        old = self.orders[order_id]
        self.orders[order_id] = dataclasses.replace(
            old,
            status=status,
            filled_amount=filled_amount,
            venue_order_id=venue_order_id or old.venue_order_id,
        )

    async def record_fill(self, order_id: str, venue: str, trade: Trade) -> bool:
        if (venue, trade.trade_id) in self.fills:
            return False
        self.fills[(venue, trade.trade_id)] = trade
        return True

    async def remember_cancel(self, order_id: str, account_id: str) -> None:
        self.early_cancels.setdefault(order_id, account_id)

    async def take_early_cancel(self, order_id: str) -> str | None:
        return self.early_cancels.pop(order_id, None)

    async def request_cancel(self, order_id: str) -> None:
        self.cancel_requested.add(order_id)

    async def has_valid_key(self, account_id: str, exchange: str) -> bool:
        return (account_id, exchange) in self.valid_keys

    async def add_key(self, key_id: str, account_id: str, exchange: str, sealed: str) -> None:
        self.keys.setdefault(key_id, (account_id, exchange, sealed))

    async def orders_in_scope(
        self,
        *,
        account_id: str | None,
        symbol: str | None,
        side: Side | None,
        created_before: datetime,
    ) -> list[OrderRecord]:
        return [
            o
            for o in self.orders.values()
            if o.status in (OrderStatus.PENDING, OrderStatus.OPEN, OrderStatus.UNKNOWN)
            and account_id in (None, o.account_id)
            and symbol in (None, o.symbol)
            and side in (None, o.side)
        ]

    async def save_kill_switch(
        self,
        scope: KillSwitchScope,
        target: str,
        *,
        engaged: bool,
        mode: KillSwitchMode,
        changed_at: datetime,
    ) -> bool:
        stored = self.switches.get((scope, target))
        if stored is not None and stored[2] >= changed_at:
            return False
        self.switches[(scope, target)] = (engaged, mode, changed_at)
        return True

    async def engaged_switch_modes(self, account_id: str, symbol: str) -> list[KillSwitchMode]:
        covering = {
            (KillSwitchScope.GLOBAL, ""),
            (KillSwitchScope.ACCOUNT, account_id),
            (KillSwitchScope.SYMBOL, symbol),
        }
        return [
            mode for key, (engaged, mode, _) in self.switches.items() if engaged and key in covering
        ]

    async def arm_cancel_all_after(
        self, account_id: str, armed_at: datetime, armed_until: datetime | None
    ) -> bool:
        stored = self.dead_man.get(account_id)
        if stored is not None and stored[0] >= armed_at:
            return False
        self.dead_man[account_id] = (armed_at, armed_until)
        return True

    async def insert_withdrawal(self, withdrawal: WithdrawalRecord) -> bool:
        if withdrawal.withdrawal_id in self.withdrawals:
            return False
        self.withdrawals[withdrawal.withdrawal_id] = (withdrawal, WithdrawalStatus.PENDING, None)
        return True

    async def finish_withdrawal(
        self, withdrawal_id: str, status: WithdrawalStatus, txid: str | None, detail: str | None
    ) -> None:
        record, _, _ = self.withdrawals[withdrawal_id]
        self.withdrawals[withdrawal_id] = (record, status, txid)


class FakeVenue:
    """Fills market orders and marketable limits at `price`; rests the others."""

    name = "paper"

    def __init__(self, price: Decimal = Decimal("65000.00"), parts: int = 1) -> None:
        self.price = price
        self.parts = parts
        self.placed: list[OrderRequest] = []
        self.books: dict[str, VenueOrder] = {}
        self.sent: list[WithdrawalRequest] = []
        self.refuse: str | None = None
        self.time_out: bool = False

    async def place_order(self, request: OrderRequest) -> VenueOrder:
        if self.refuse:
            raise VenueRejected(self.refuse)
        if self.time_out:
            raise VenueOutcomeUnknown("read timed out")
        self.placed.append(request)
        fill_at = self.price if request.type is OrderType.MARKET else request.price
        assert fill_at is not None
        if request.type is OrderType.LIMIT and not limit_crossed(request.side, fill_at, self.price):
            answer = VenueOrder(request.client_order_id, "v-1", VenueOrderStatus.OPEN, ())
        else:
            trades = plan_trades(
                request.client_order_id,
                request.amount,
                fill_at,
                Decimal("0.001"),
                self.parts,
                request.symbol.split("/")[1],
            )
            answer = VenueOrder(
                request.client_order_id, "v-1", VenueOrderStatus.CLOSED, tuple(trades)
            )
        self.books[request.client_order_id] = answer
        return answer

    async def fetch_order_by_client_id(
        self, symbol: str, client_order_id: str
    ) -> VenueOrder | None:
        return self.books.get(client_order_id)

    async def cancel_order(self, symbol: str, client_order_id: str) -> VenueOrder:
        answer = self.books[client_order_id]
        if answer.status is VenueOrderStatus.OPEN:
            answer = dataclasses.replace(answer, status=VenueOrderStatus.CANCELED)
            self.books[client_order_id] = answer
        return answer

    async def withdraw(self, request: WithdrawalRequest) -> WithdrawalReceipt:
        self.sent.append(request)
        return WithdrawalReceipt(txid="tx-" + request.withdrawal_id)


class Outbox:
    def __init__(self) -> None:
        self.messages: list[Envelope] = []

    async def __call__(self, conn: Connection, *messages: Envelope, headers: object = None) -> None:
        self.messages.extend(messages)

    def types(self) -> list[str]:
        return [m.type for m in self.messages]
