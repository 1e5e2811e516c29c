"""The order read model: one row per order (status, totals) and its fills, one per trade."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import asyncpg

from services.gateway.domain import Fill, FillSummary, OrderStatus
from shared.contracts.orders import OrderSpec
from shared.db import Connection
from shared.money import format_decimal


@dataclass(frozen=True)
class OrderRow:
    seq: int
    order_id: str
    user_id: str
    symbol: str
    side: str
    type: str
    mode: str
    exchange: str
    amount: Decimal
    price: Decimal | None
    status: OrderStatus
    reject_reason: str | None
    reject_detail: str | None
    filled_amount: Decimal
    average_price: Decimal | None
    fees: dict[str, str]
    fee_asset: str | None
    created_at: datetime
    updated_at: datetime


_COLUMNS = (
    "seq, order_id, user_id, symbol, side, type, mode, exchange, amount, price, status, "
    "reject_reason, reject_detail, filled_amount, average_price, fees, fee_asset, "
    "created_at, updated_at"
)


def _order(row: asyncpg.Record | None) -> OrderRow | None:
    if row is None:
        return None
    values = dict(row)
    values["status"] = OrderStatus(values["status"])
    return OrderRow(**values)


async def insert_order(conn: Connection, user_id: str, spec: OrderSpec, now: datetime) -> OrderRow:
    row = await conn.fetchrow(
        "INSERT INTO orders (order_id, user_id, symbol, side, type, mode, exchange, amount, "
        "price, status, created_at, updated_at) "
        f"VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11) RETURNING {_COLUMNS}",
        spec.order_id,
        user_id,
        spec.symbol,
        spec.side.value,
        spec.type.value,
        spec.mode.value,
        spec.exchange,
        spec.amount,
        spec.price,
        OrderStatus.REQUESTED.value,
        now,
    )
    order = _order(row)
    assert order is not None
    return order


async def order_of(
    conn: Connection, order_id: str, user_id: str, *, lock: bool = False
) -> OrderRow | None:
    """The order if it belongs to `user_id` (another user's order does not exist for them)."""
    suffix = " FOR UPDATE" if lock else ""
    query = f"SELECT {_COLUMNS} FROM orders WHERE order_id = $1 AND user_id = $2{suffix}"
    return _order(await conn.fetchrow(query, order_id, user_id))


async def list_orders(
    conn: Connection, user_id: str, status: str | None, before_seq: int | None, limit: int
) -> list[OrderRow]:
    """Newest first, at most `limit`, strictly older than `before_seq` when given."""
    rows = await conn.fetch(
        f"SELECT {_COLUMNS} FROM orders WHERE user_id = $1 "
        "AND ($2::text IS NULL OR status = $2) AND ($3::bigint IS NULL OR seq < $3) "
        "ORDER BY seq DESC LIMIT $4",
        user_id,
        status,
        before_seq,
        limit,
    )
    return [order for order in map(_order, rows) if order is not None]


async def save_statuses(
    conn: Connection,
    changes: list[tuple[str, OrderStatus, str | None, str | None]],
    now: datetime,
) -> None:
    """`save_status` for many orders: (order id, status, reject reason, reject detail)."""
    if changes:
        await conn.executemany(
            _SAVE_STATUS, [(o, s.value, now, reason, detail) for o, s, reason, detail in changes]
        )


_SAVE_STATUS = (
    "UPDATE orders SET status = $2, updated_at = $3, "
    "reject_reason = COALESCE($4, reject_reason), reject_detail = COALESCE($5, reject_detail) "
    "WHERE order_id = $1"
)


async def save_status(
    conn: Connection,
    order_id: str,
    status: OrderStatus,
    now: datetime,
    reject_reason: str | None = None,
    reject_detail: str | None = None,
) -> None:
    await conn.execute(
        _SAVE_STATUS,
        order_id,
        status.value,
        now,
        reject_reason,
        reject_detail,
    )


async def insert_fill(conn: Connection, order_id: str, fill: Fill) -> bool:
    """False when this trade was recorded before (a redelivery): fills count once."""
    return bool(await insert_fills(conn, [(order_id, fill)]))


async def insert_fills(conn: Connection, fills: list[tuple[str, Fill]]) -> list[str]:
    """Record fills, in order (the first of a trade counts; a redelivery changes nothing):
    the orders that gained one."""
    rows = await conn.fetch(
        "INSERT INTO order_fills (order_id, trade_id, amount, price, fee, fee_asset) "
        "SELECT o, t, a, p, f, fa FROM unnest($1::text[], $2::text[], $3::numeric[], "
        "$4::numeric[], $5::numeric[], $6::text[]) WITH ORDINALITY AS u(o, t, a, p, f, fa, n) "
        "ORDER BY n ON CONFLICT DO NOTHING RETURNING order_id",
        [o for o, _ in fills],
        [f.trade_id for _, f in fills],
        [f.amount for _, f in fills],
        [f.price for _, f in fills],
        [f.fee for _, f in fills],
        [f.fee_asset for _, f in fills],
    )
    return sorted({r["order_id"] for r in rows})


async def fills_of_orders(conn: Connection, order_ids: list[str]) -> dict[str, list[Fill]]:
    """Each order's fills, by trade id, with one query."""
    rows = await conn.fetch(
        "SELECT order_id, trade_id, amount, price, fee, fee_asset FROM order_fills "
        "WHERE order_id = ANY($1::text[]) ORDER BY order_id, trade_id",
        order_ids,
    )
    found: dict[str, list[Fill]] = {}
    for row in rows:
        values = dict(row)
        found.setdefault(values.pop("order_id"), []).append(Fill(**values))
    return found


async def fills_of(conn: Connection, order_id: str) -> list[Fill]:
    return (await fills_of_orders(conn, [order_id])).get(order_id, [])


async def save_fill_summary(
    conn: Connection, order_id: str, summary: FillSummary, now: datetime
) -> None:
    await save_fill_summaries(conn, [(order_id, summary)], now)


async def save_fill_summaries(
    conn: Connection, summaries: list[tuple[str, FillSummary]], now: datetime
) -> None:
    if not summaries:
        return
    await conn.executemany(
        "UPDATE orders SET filled_amount = $2, average_price = $3, fees = $4, fee_asset = $5, "
        "updated_at = $6 WHERE order_id = $1",
        [
            (
                order_id,
                s.filled_amount,
                s.average_price,
                {asset: format_decimal(fee) for asset, fee in s.fees.items()},
                s.fee_asset,
                now,
            )
            for order_id, s in summaries
        ],
    )


@dataclass(frozen=True)
class OrderFilter:
    """The operator's filter over every account's orders; None matches anything."""

    account: str | None = None
    symbol: str | None = None
    status: str | None = None
    reject_reason: str | None = None


_FILTERED = (
    "($1::text IS NULL OR user_id = $1) AND ($2::text IS NULL OR symbol = $2) "
    "AND ($3::text IS NULL OR status = $3) AND ($4::text IS NULL OR reject_reason = $4)"
)


def _filter_args(matching: OrderFilter) -> tuple[str | None, ...]:
    return (matching.account, matching.symbol, matching.status, matching.reject_reason)


async def newest_orders(conn: Connection, matching: OrderFilter, limit: int) -> list[OrderRow]:
    """Every account's orders that match, newest first, at most `limit`."""
    rows = await conn.fetch(
        f"SELECT {_COLUMNS} FROM orders WHERE {_FILTERED} ORDER BY seq DESC LIMIT $5",
        *_filter_args(matching),
        limit,
    )
    return [order for order in map(_order, rows) if order is not None]


async def orders_after(
    conn: Connection, matching: OrderFilter, after_seq: int, limit: int
) -> list[OrderRow]:
    """Orders accepted after `after_seq` that match, oldest first, at most `limit` (the
    unique index on `seq` answers it without reading older orders)."""
    rows = await conn.fetch(
        f"SELECT {_COLUMNS} FROM orders WHERE seq > $5 AND {_FILTERED} ORDER BY seq LIMIT $6",
        *_filter_args(matching),
        after_seq,
        limit,
    )
    return [order for order in map(_order, rows) if order is not None]


async def orders_by_id(
    conn: Connection, order_ids: list[str], *, lock: bool = False
) -> list[OrderRow]:
    suffix = " ORDER BY order_id FOR UPDATE" if lock else ""
    rows = await conn.fetch(
        f"SELECT {_COLUMNS} FROM orders WHERE order_id = ANY($1::text[]){suffix}", order_ids
    )
    return [order for order in map(_order, rows) if order is not None]


async def last_seq(conn: Connection) -> int:
    return int(await conn.fetchval("SELECT coalesce(max(seq), 0) FROM orders"))
