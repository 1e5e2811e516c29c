"""Execution's SQL for withdrawals: one row per withdrawal id, then its final status.

Every method runs on the caller's connection, inside the caller's transaction.
"""

from __future__ import annotations

from typing import Protocol

from services.execution.domain.orders import WithdrawalRecord, WithdrawalStatus
from shared.db import Connection


class WithdrawalStore(Protocol):
    async def insert_withdrawal(self, withdrawal: WithdrawalRecord) -> bool: ...

    async def finish_withdrawal(
        self, withdrawal_id: str, status: WithdrawalStatus, txid: str | None, detail: str | None
    ) -> None: ...


class PostgresWithdrawalStore:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

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
