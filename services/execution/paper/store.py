"""The paper venue's SQL: its prices, its order book, its trades and its withdrawals."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import asyncpg

from services.execution.domain.orders import Trade, VenueOrderStatus
from services.execution.paper.market import WalkPoint
from services.execution.venues.base import OrderRequest, WithdrawalRequest
from shared.contracts.orders import OrderType, Side
from shared.db import Connection


@dataclass(frozen=True)
class PaperOrder:
    client_order_id: str
    venue_order_id: str
    symbol: str
    side: Side
    type: OrderType
    amount: Decimal
    price: Decimal | None
    status: VenueOrderStatus


_PAPER_ORDER_COLUMNS = "client_order_id, venue_order_id, symbol, side, type, amount, price, status"


def _paper_order(row: asyncpg.Record) -> PaperOrder:
    return PaperOrder(
        client_order_id=row["client_order_id"],
        venue_order_id=row["venue_order_id"],
        symbol=row["symbol"],
        side=Side(row["side"]),
        type=OrderType(row["type"]),
        amount=row["amount"],
        price=row["price"],
        status=VenueOrderStatus(row["status"]),
    )


class PaperStore:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    async def seed_prices(self, points: list[WalkPoint]) -> None:
        """Start a walk for each symbol that has none; an existing walk is left where it is."""
        await self._conn.executemany(
            "INSERT INTO paper_prices (symbol, price, sequence) VALUES ($1, $2, $3) "
            "ON CONFLICT (symbol) DO NOTHING",
            [(p.symbol, p.price, p.sequence) for p in points],
        )

    async def symbols(self) -> list[str]:
        return [r["symbol"] for r in await self._conn.fetch("SELECT symbol FROM paper_prices")]

    async def price(self, symbol: str, *, for_update: bool) -> WalkPoint | None:
        """The current price, locked: shared by order placement, exclusive by the market tick.

        The lock orders placement and ticks per symbol: a resting order placed while the
        price moves is either matched by that tick or sees the new price itself.
        """
        lock = "FOR UPDATE" if for_update else "FOR SHARE"
        row = await self._conn.fetchrow(
            f"SELECT symbol, price, sequence FROM paper_prices WHERE symbol = $1 {lock}", symbol
        )
        return None if row is None else WalkPoint(row["symbol"], row["price"], row["sequence"])

    async def save_price(self, point: WalkPoint) -> None:
        await self._conn.execute(
            "UPDATE paper_prices SET price = $2, sequence = $3, updated_at = now() "
            "WHERE symbol = $1",
            point.symbol,
            point.price,
            point.sequence,
        )

    async def insert_order(
        self, request: OrderRequest, venue_order_id: str, status: VenueOrderStatus
    ) -> None:
        await self._conn.execute(
            f"INSERT INTO paper_orders ({_PAPER_ORDER_COLUMNS}) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            request.client_order_id,
            venue_order_id,
            request.symbol,
            request.side.value,
            request.type.value,
            request.amount,
            request.price,
            status.value,
        )

    async def order(self, client_order_id: str) -> PaperOrder | None:
        row = await self._conn.fetchrow(
            f"SELECT {_PAPER_ORDER_COLUMNS} FROM paper_orders WHERE client_order_id = $1 "
            "FOR UPDATE",
            client_order_id,
        )
        return None if row is None else _paper_order(row)

    async def set_status(self, client_order_id: str, status: VenueOrderStatus) -> None:
        await self._conn.execute(
            "UPDATE paper_orders SET status = $2 WHERE client_order_id = $1",
            client_order_id,
            status.value,
        )

    async def crossed_resting_orders(self, symbol: str, price: Decimal) -> list[PaperOrder]:
        """Resting limit orders the price `price` reaches, oldest first, locked."""
        rows = await self._conn.fetch(
            f"SELECT {_PAPER_ORDER_COLUMNS} FROM paper_orders "
            "WHERE symbol = $1 AND status = 'open' "
            "AND ((side = 'buy' AND price >= $2) OR (side = 'sell' AND price <= $2)) "
            "ORDER BY created_at, client_order_id FOR UPDATE",
            symbol,
            price,
        )
        return [_paper_order(r) for r in rows]

    async def insert_trades(self, client_order_id: str, trades: list[Trade]) -> None:
        await self._conn.executemany(
            "INSERT INTO paper_trades (trade_id, client_order_id, amount, price, fee, fee_asset) "
            "VALUES ($1, $2, $3, $4, $5, $6)",
            [(t.trade_id, client_order_id, t.amount, t.price, t.fee, t.fee_asset) for t in trades],
        )

    async def trades(self, client_order_id: str) -> list[Trade]:
        rows = await self._conn.fetch(
            "SELECT trade_id, amount, price, fee, fee_asset FROM paper_trades "
            "WHERE client_order_id = $1 ORDER BY seq",
            client_order_id,
        )
        return [
            Trade(r["trade_id"], r["amount"], r["price"], r["fee"], r["fee_asset"]) for r in rows
        ]

    async def record_withdrawal(self, request: WithdrawalRequest, txid: str) -> str:
        """Record the withdrawal once; return the txid it was sent with (the first one)."""
        await self._conn.execute(
            "INSERT INTO paper_withdrawals (withdrawal_id, txid, asset, amount, address, network) "
            "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (withdrawal_id) DO NOTHING",
            request.withdrawal_id,
            txid,
            request.asset,
            request.amount,
            request.address,
            request.network,
        )
        sent: str = await self._conn.fetchval(
            "SELECT txid FROM paper_withdrawals WHERE withdrawal_id = $1", request.withdrawal_id
        )
        return sent
