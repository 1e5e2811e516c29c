"""Execution's SQL, as the one store its handlers and flows are given: orders
(`store_orders`), kill and dead man's switches (`store_switches`), withdrawals
(`store_withdrawals`) and the exchange keys a user gave (`remote.keys_store`).

Every method runs on the caller's connection, inside the caller's transaction.
"""

from __future__ import annotations

from typing import Protocol

from services.execution.remote.keys_store import KeyStore
from services.execution.store_orders import OrderStore, PostgresOrderStore
from services.execution.store_switches import PostgresSwitchStore, SwitchStore
from services.execution.store_withdrawals import PostgresWithdrawalStore, WithdrawalStore


class ExecutionStore(OrderStore, SwitchStore, WithdrawalStore, Protocol):
    async def has_valid_key(self, account_id: str, exchange: str) -> bool:
        """Whether the account has an exchange key for `exchange` that execution validated."""
        ...

    async def add_key(self, key_id: str, account_id: str, exchange: str, sealed: str) -> None:
        """Keep a user's key, sealed, to be checked in the background."""
        ...


class PostgresExecutionStore(PostgresOrderStore, PostgresSwitchStore, PostgresWithdrawalStore):
    async def has_valid_key(self, account_id: str, exchange: str) -> bool:
        return await KeyStore(self._conn).valid_key(account_id, exchange) is not None

    async def add_key(self, key_id: str, account_id: str, exchange: str, sealed: str) -> None:
        await KeyStore(self._conn).add(key_id, account_id, exchange, sealed)
