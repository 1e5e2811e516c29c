"""SQL for users' exchange keys: stored sealed, checked in the background, used when valid."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import asyncpg

from shared.db import Connection


class KeyStatus(StrEnum):
    UNCHECKED = "unchecked"
    VALID = "valid"
    INVALID = "invalid"


@dataclass(frozen=True)
class StoredKey:
    key_id: str
    account_id: str
    exchange: str
    sealed_secret: str
    failures: int

    def __repr__(self) -> str:  # never print the sealed value, even in a traceback
        return f"StoredKey({self.key_id!r}, {self.account_id!r}, {self.exchange!r})"


_COLUMNS = "key_id, account_id, exchange, sealed_secret, failures"


def _key(row: asyncpg.Record) -> StoredKey:
    return StoredKey(
        row["key_id"], row["account_id"], row["exchange"], row["sealed_secret"], row["failures"]
    )


class KeyStore:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    async def add(self, key_id: str, account_id: str, exchange: str, sealed_secret: str) -> None:
        await self._conn.execute(
            "INSERT INTO exchange_keys (key_id, account_id, exchange, sealed_secret) "
            "VALUES ($1, $2, $3, $4) ON CONFLICT (key_id) DO NOTHING",
            key_id,
            account_id,
            exchange,
            sealed_secret,
        )

    async def due_for_check(self, limit: int) -> list[StoredKey]:
        rows = await self._conn.fetch(
            f"SELECT {_COLUMNS} FROM exchange_keys WHERE status = 'unchecked' "
            "AND next_check_at <= now() ORDER BY added_at LIMIT $1",
            limit,
        )
        return [_key(r) for r in rows]

    async def record_check(self, key_id: str, status: KeyStatus, detail: str) -> bool:
        """Record the verdict once; False when another instance recorded one first."""
        updated = await self._conn.fetchval(
            "UPDATE exchange_keys SET status = $2, detail = $3, checked_at = now() "
            "WHERE key_id = $1 AND status = 'unchecked' RETURNING 1",
            key_id,
            status.value,
            detail,
        )
        return updated is not None

    async def check_later(self, key_id: str, *, failures: int, after_seconds: float) -> None:
        await self._conn.execute(
            "UPDATE exchange_keys SET failures = $2, "
            "next_check_at = now() + make_interval(secs => $3) WHERE key_id = $1",
            key_id,
            failures,
            after_seconds,
        )

    async def valid_key(self, account_id: str, exchange: str) -> StoredKey | None:
        """The newest validated key of this account for this exchange."""
        row = await self._conn.fetchrow(
            f"SELECT {_COLUMNS} FROM exchange_keys WHERE account_id = $1 AND exchange = $2 "
            "AND status = 'valid' ORDER BY added_at DESC, key_id DESC LIMIT 1",
            account_id,
            exchange,
        )
        return None if row is None else _key(row)

    async def valid_keys(self) -> list[tuple[StoredKey, int]]:
        """The newest valid key per (account, exchange), with when it was added (epoch ms)."""
        rows = await self._conn.fetch(
            f"SELECT DISTINCT ON (account_id, exchange) {_COLUMNS}, "
            "(extract(epoch FROM added_at) * 1000)::bigint AS added_ms FROM exchange_keys "
            "WHERE status = 'valid' ORDER BY account_id, exchange, added_at DESC, key_id DESC"
        )
        return [(_key(r), r["added_ms"]) for r in rows]
