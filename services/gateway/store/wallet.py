"""Withdrawals and deposits the gateway accepted, and balances as the ledger reports them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import asyncpg

from services.gateway.domain import DepositStatus, WithdrawalStatus
from shared.contracts.wallet import WithdrawalSpec
from shared.db import Connection


@dataclass(frozen=True)
class WithdrawalRow:
    withdrawal_id: str
    user_id: str
    asset: str
    amount: Decimal
    address: str
    network: str | None
    exchange: str
    status: WithdrawalStatus
    reject_reason: str | None
    reject_detail: str | None
    txid: str | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class DepositRow:
    deposit_id: str
    user_id: str
    asset: str
    amount: Decimal
    reference: str
    status: DepositStatus
    reject_reason: str | None
    reject_detail: str | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class BalanceRow:
    asset: str
    available: Decimal
    held: Decimal


_COLUMNS = (
    "withdrawal_id, user_id, asset, amount, address, network, exchange, status, reject_reason, "
    "reject_detail, txid, created_at, updated_at"
)


def _withdrawal(row: asyncpg.Record | None) -> WithdrawalRow | None:
    if row is None:
        return None
    values = dict(row)
    values["status"] = WithdrawalStatus(values["status"])
    return WithdrawalRow(**values)


async def insert_withdrawal(
    conn: Connection, user_id: str, spec: WithdrawalSpec, now: datetime
) -> None:
    await conn.execute(
        "INSERT INTO withdrawals (withdrawal_id, user_id, asset, amount, address, network, "
        "exchange, status, created_at, updated_at) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)",
        spec.withdrawal_id,
        user_id,
        spec.asset,
        spec.amount,
        spec.address,
        spec.network,
        spec.exchange,
        WithdrawalStatus.REQUESTED.value,
        now,
    )


async def withdrawal_of(
    conn: Connection, withdrawal_id: str, user_id: str, *, lock: bool = False
) -> WithdrawalRow | None:
    suffix = " FOR UPDATE" if lock else ""
    query = f"SELECT {_COLUMNS} FROM withdrawals WHERE withdrawal_id = $1 AND user_id = $2{suffix}"
    return _withdrawal(await conn.fetchrow(query, withdrawal_id, user_id))


async def save_withdrawal(
    conn: Connection,
    withdrawal_id: str,
    status: WithdrawalStatus,
    now: datetime,
    *,
    reject_reason: str | None = None,
    reject_detail: str | None = None,
    txid: str | None = None,
) -> None:
    await conn.execute(
        "UPDATE withdrawals SET status = $2, updated_at = $3, "
        "reject_reason = COALESCE($4, reject_reason), "
        "reject_detail = COALESCE($5, reject_detail), txid = COALESCE($6, txid) "
        "WHERE withdrawal_id = $1",
        withdrawal_id,
        status.value,
        now,
        reject_reason,
        reject_detail,
        txid,
    )


async def insert_deposit(
    conn: Connection,
    *,
    deposit_id: str,
    user_id: str,
    asset: str,
    amount: Decimal,
    reference: str,
    created_by: str,
    now: datetime,
) -> bool:
    """False, and nothing written, when another deposit has the reference (the unique index
    decides, so two racing requests cannot both have it)."""
    inserted = await conn.fetchval(
        "INSERT INTO deposits (deposit_id, user_id, asset, amount, reference, created_by, "
        "created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $7) "
        "ON CONFLICT (reference) DO NOTHING RETURNING 1",
        deposit_id,
        user_id,
        asset,
        amount,
        reference,
        created_by,
        now,
    )
    return inserted is not None


async def deposit_of(conn: Connection, deposit_id: str) -> DepositRow | None:
    row = await conn.fetchrow(
        "SELECT deposit_id, user_id, asset, amount, reference, status, reject_reason, "
        "reject_detail, created_at, updated_at FROM deposits WHERE deposit_id = $1",
        deposit_id,
    )
    if row is None:
        return None
    values = dict(row)
    values["status"] = DepositStatus(values["status"])
    return DepositRow(**values)


async def end_deposit(
    conn: Connection,
    deposit_id: str,
    user_id: str,
    status: DepositStatus,
    now: datetime,
    *,
    reject_reason: str | None = None,
    reject_detail: str | None = None,
) -> bool:
    """Record the ledger's decision once: a deposit already credited or rejected keeps it."""
    result = await conn.execute(
        "UPDATE deposits SET status = $3, reject_reason = $4, reject_detail = $5, "
        "updated_at = $6 WHERE deposit_id = $1 AND user_id = $2 AND status = 'requested'",
        deposit_id,
        user_id,
        status.value,
        reject_reason,
        reject_detail,
        now,
    )
    return bool(result != "UPDATE 0")


async def save_balance(
    conn: Connection,
    user_id: str,
    asset: str,
    available: Decimal,
    held: Decimal,
    version: int,
    now: datetime,
) -> None:
    """Keep the ledger's newest report: an older `version` arriving late changes nothing."""
    await save_balances(conn, [(user_id, asset, available, held, version)], now)


async def save_balances(
    conn: Connection, reports: list[tuple[str, str, Decimal, Decimal, int]], now: datetime
) -> None:
    """`save_balance` for many: (user id, asset, available, held, version)."""
    if not reports:
        return
    await conn.executemany(
        "INSERT INTO balances (user_id, asset, available, held, version, updated_at) "
        "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (user_id, asset) DO UPDATE SET "
        "available = EXCLUDED.available, held = EXCLUDED.held, version = EXCLUDED.version, "
        "updated_at = EXCLUDED.updated_at WHERE balances.version < EXCLUDED.version",
        [(*report, now) for report in reports],
    )


async def balances_of(conn: Connection, user_id: str) -> list[BalanceRow]:
    rows = await conn.fetch(
        "SELECT asset, available, held FROM balances WHERE user_id = $1 ORDER BY asset", user_id
    )
    return [BalanceRow(**dict(row)) for row in rows]


async def balances_of_accounts(
    conn: Connection, user_ids: list[str]
) -> dict[str, list[BalanceRow]]:
    rows = await conn.fetch(
        "SELECT user_id, asset, available, held FROM balances WHERE user_id = ANY($1::text[]) "
        "ORDER BY user_id, asset",
        user_ids,
    )
    found: dict[str, list[BalanceRow]] = {}
    for row in rows:
        found.setdefault(row["user_id"], []).append(
            BalanceRow(row["asset"], row["available"], row["held"])
        )
    return found
