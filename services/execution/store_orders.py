"""Execution's SQL for its orders: the order by id and by client order id, its state, the
venue's fills (each trade recorded once), cancels that arrived before their order, and the
open orders a kill switch covers.

Every method runs on the caller's connection, inside the caller's transaction. The remote
venues' work queue reads the same rows (`ORDER_COLUMNS`, `order_from_row`).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Protocol

import asyncpg

from services.execution.domain.orders import OrderRecord, OrderStatus, Trade
from shared.contracts.orders import OrderType, Side
from shared.db import Connection


class OrderStore(Protocol):
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


class PostgresOrderStore:
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
