"""Execution's SQL: orders by client order id, reported fills, early cancels, withdrawals, the
kill switches and dead man's switches it was told of.

Every method runs on the caller's connection, inside the caller's transaction.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Protocol

import asyncpg

from services.execution.domain.orders import (
    OrderRecord,
    OrderStatus,
    Trade,
    WithdrawalRecord,
    WithdrawalStatus,
)
from services.execution.remote.keys_store import KeyStore
from shared.contracts.accounts import KillSwitchMode, KillSwitchScope
from shared.contracts.orders import OrderType, Side
from shared.db import Connection


class ExecutionStore(Protocol):
    async def insert_order(self, order: OrderRecord) -> bool:
        """Record a new order; False when one with this order id exists already."""
        ...

    async def claim(self, order_id: str) -> None:
        """Serialise, until commit, every transaction about this order (place vs. cancel)."""
        ...

    async def order(self, order_id: str, *, lock: bool) -> OrderRecord | None:
        """The order; with `lock`, locked for the rest of the transaction."""
        ...

    async def order_by_client_id(self, client_order_id: str) -> OrderRecord | None: ...

    async def save_order_state(
        self,
        order_id: str,
        status: OrderStatus,
        filled_amount: Decimal,
        venue_order_id: str | None,
    ) -> None: ...

    async def record_fill(self, order_id: str, venue: str, trade: Trade) -> bool:
        """False when this venue trade was recorded before (it is then not reported again)."""
        ...

    async def remember_cancel(self, order_id: str, account_id: str) -> None: ...

    async def take_early_cancel(self, order_id: str) -> str | None:
        """The account that asked to cancel before the order arrived (the request is consumed)."""
        ...

    async def request_cancel(self, order_id: str) -> None:
        """Mark the order to be cancelled at its (network) venue by the background sender."""
        ...

    async def has_valid_key(self, account_id: str, exchange: str) -> bool:
        """Whether the account has an exchange key for `exchange` that execution validated."""
        ...

    async def add_key(self, key_id: str, account_id: str, exchange: str, sealed: str) -> None:
        """Keep a user's key, sealed, to be checked in the background."""
        ...

    async def orders_in_scope(
        self,
        *,
        account_id: str | None,
        symbol: str | None,
        side: Side | None,
        created_before: datetime,
    ) -> list[OrderRecord]:
        """Non-terminal orders of an account, a symbol and a side (None: every one) that
        existed at `created_before`, for a kill switch."""
        ...

    async def save_kill_switch(
        self,
        scope: KillSwitchScope,
        target: str,
        *,
        engaged: bool,
        mode: KillSwitchMode,
        changed_at: datetime,
    ) -> bool:
        """Remember a switch's state (target '' for a global one) unless a change as new or
        newer is stored; False when it was not newer."""
        ...

    async def engaged_switch_modes(self, account_id: str, symbol: str) -> list[KillSwitchMode]:
        """The modes of the engaged switches covering an order of `account_id` for `symbol`."""
        ...

    async def arm_cancel_all_after(
        self, account_id: str, armed_at: datetime, armed_until: datetime | None
    ) -> bool:
        """Set the account's dead man's switch (None: disarm) unless an arming as new or newer
        is stored; False when it was not newer."""
        ...

    async def insert_withdrawal(self, withdrawal: WithdrawalRecord) -> bool: ...

    async def finish_withdrawal(
        self, withdrawal_id: str, status: WithdrawalStatus, txid: str | None, detail: str | None
    ) -> None: ...


ORDER_COLUMNS = (
    "order_id, account_id, client_order_id, venue, symbol, side, type, amount, price, status, "
    "filled_amount, venue_order_id"
)
_ORDER_LOCK_SPACE = 0x65786563  # "exec"


def order_from_row(row: asyncpg.Record | None) -> OrderRecord | None:
    if row is None:
        return None
    return OrderRecord(
        order_id=row["order_id"],
        account_id=row["account_id"],
        client_order_id=row["client_order_id"],
        venue=row["venue"],
        symbol=row["symbol"],
        side=Side(row["side"]),
        type=OrderType(row["type"]),
        amount=row["amount"],
        price=row["price"],
        status=OrderStatus(row["status"]),
        filled_amount=row["filled_amount"],
        venue_order_id=row["venue_order_id"],
    )


class PostgresExecutionStore:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    async def insert_order(self, order: OrderRecord) -> bool:
        inserted = await self._conn.fetchval(
            "INSERT INTO orders (order_id, account_id, client_order_id, venue, symbol, side, "
            "type, amount, price, status, filled_amount) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) "
            "ON CONFLICT (order_id) DO NOTHING RETURNING 1",
            order.order_id,
            order.account_id,
            order.client_order_id,
            order.venue,
            order.symbol,
            order.side.value,
            order.type.value,
            order.amount,
            order.price,
            order.status.value,
            order.filled_amount,
        )
        return inserted is not None

    async def claim(self, order_id: str) -> None:
        await self._conn.execute(
            "SELECT pg_advisory_xact_lock($1, hashtext($2))", _ORDER_LOCK_SPACE, order_id
        )

    async def order(self, order_id: str, *, lock: bool) -> OrderRecord | None:
        suffix = " FOR UPDATE" if lock else ""
        return order_from_row(
            await self._conn.fetchrow(
                f"SELECT {ORDER_COLUMNS} FROM orders WHERE order_id = $1{suffix}", order_id
            )
        )

    async def order_by_client_id(self, client_order_id: str) -> OrderRecord | None:
        return order_from_row(
            await self._conn.fetchrow(
                f"SELECT {ORDER_COLUMNS} FROM orders WHERE client_order_id = $1 FOR UPDATE",
                client_order_id,
            )
        )

    async def save_order_state(
        self,
        order_id: str,
        status: OrderStatus,
        filled_amount: Decimal,
        venue_order_id: str | None,
    ) -> None:
        await self._conn.execute(
            "UPDATE orders SET status = $2, filled_amount = $3, "
            "venue_order_id = COALESCE($4, venue_order_id), updated_at = now() "
            "WHERE order_id = $1",
            order_id,
            status.value,
            filled_amount,
            venue_order_id,
        )

    async def record_fill(self, order_id: str, venue: str, trade: Trade) -> bool:
        inserted = await self._conn.fetchval(
            "INSERT INTO order_fills (venue, trade_id, order_id, amount, price, fee, fee_asset) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING RETURNING 1",
            venue,
            trade.trade_id,
            order_id,
            trade.amount,
            trade.price,
            trade.fee,
            trade.fee_asset,
        )
        return inserted is not None

    async def remember_cancel(self, order_id: str, account_id: str) -> None:
        await self._conn.execute(
            "INSERT INTO early_cancels (order_id, account_id) VALUES ($1, $2) "
            "ON CONFLICT (order_id) DO NOTHING",
            order_id,
            account_id,
        )

    async def take_early_cancel(self, order_id: str) -> str | None:
        account: str | None = await self._conn.fetchval(
            "DELETE FROM early_cancels WHERE order_id = $1 RETURNING account_id", order_id
        )
        return account

    async def request_cancel(self, order_id: str) -> None:
        await self._conn.execute(
            "UPDATE orders SET cancel_requested = true, next_check_at = now(), "
            "updated_at = now() WHERE order_id = $1",
            order_id,
        )

    async def has_valid_key(self, account_id: str, exchange: str) -> bool:
        return await KeyStore(self._conn).valid_key(account_id, exchange) is not None

    async def add_key(self, key_id: str, account_id: str, exchange: str, sealed: str) -> None:
        await KeyStore(self._conn).add(key_id, account_id, exchange, sealed)

    async def orders_in_scope(
        self,
        *,
        account_id: str | None,
        symbol: str | None,
        side: Side | None,
        created_before: datetime,
    ) -> list[OrderRecord]:
        rows = await self._conn.fetch(
            f"SELECT {ORDER_COLUMNS} FROM orders WHERE status IN ('pending', 'open', 'unknown') "
            "AND ($1::text IS NULL OR account_id = $1) AND ($2::text IS NULL OR symbol = $2) "
            "AND ($3::text IS NULL OR side = $3) AND created_at <= $4 ORDER BY created_at",
            account_id,
            symbol,
            side.value if side is not None else None,
            created_before,
        )
        return [o for o in (order_from_row(r) for r in rows) if o is not None]

    async def save_kill_switch(
        self,
        scope: KillSwitchScope,
        target: str,
        *,
        engaged: bool,
        mode: KillSwitchMode,
        changed_at: datetime,
    ) -> bool:
        saved = await self._conn.fetchval(
            "INSERT INTO kill_switches (scope, target, engaged, mode, changed_at) "
            "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (scope, target) DO UPDATE SET "
            "engaged = EXCLUDED.engaged, mode = EXCLUDED.mode, changed_at = EXCLUDED.changed_at "
            "WHERE kill_switches.changed_at < EXCLUDED.changed_at RETURNING 1",
            scope.value,
            target,
            engaged,
            mode.value,
            changed_at,
        )
        return saved is not None

    async def engaged_switch_modes(self, account_id: str, symbol: str) -> list[KillSwitchMode]:
        rows = await self._conn.fetch(
            "SELECT mode FROM kill_switches WHERE engaged AND (scope = 'global' "
            "OR (scope = 'account' AND target = $1) OR (scope = 'symbol' AND target = $2))",
            account_id,
            symbol,
        )
        return [KillSwitchMode(r["mode"]) for r in rows]

    async def arm_cancel_all_after(
        self, account_id: str, armed_at: datetime, armed_until: datetime | None
    ) -> bool:
        saved = await self._conn.fetchval(
            "INSERT INTO cancel_all_after (account_id, armed_at, armed_until) "
            "VALUES ($1, $2, $3) ON CONFLICT (account_id) DO UPDATE SET "
            "armed_at = EXCLUDED.armed_at, armed_until = EXCLUDED.armed_until, "
            "fired_at = NULL, venues_told = false "
            "WHERE cancel_all_after.armed_at < EXCLUDED.armed_at RETURNING 1",
            account_id,
            armed_at,
            armed_until,
        )
        return saved is not None

    async def insert_withdrawal(self, withdrawal: WithdrawalRecord) -> bool:
        inserted = await self._conn.fetchval(
            "INSERT INTO withdrawals (withdrawal_id, account_id, venue, asset, amount, address, "
            "network, status) VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending') "
            "ON CONFLICT (withdrawal_id) DO NOTHING RETURNING 1",
            withdrawal.withdrawal_id,
            withdrawal.account_id,
            withdrawal.venue,
            withdrawal.asset,
            withdrawal.amount,
            withdrawal.address,
            withdrawal.network,
        )
        return inserted is not None

    async def finish_withdrawal(
        self, withdrawal_id: str, status: WithdrawalStatus, txid: str | None, detail: str | None
    ) -> None:
        await self._conn.execute(
            "UPDATE withdrawals SET status = $2, txid = $3, detail = $4, updated_at = now() "
            "WHERE withdrawal_id = $1",
            withdrawal_id,
            status.value,
            txid,
            detail,
        )
