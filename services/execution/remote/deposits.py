"""Deposits at network venues: each account with a validated key is asked (ccxt
`fetch_deposits`) for deposits credited since its key was added; each transaction id becomes
one `DepositDetected`, once (a unique key in the database, in the transaction that emits it).
"""

from __future__ import annotations

import logging

from services.execution.remote.deps import VenueDeps
from services.execution.remote.each_key import answers
from services.execution.remote.keys_store import StoredKey
from services.execution.venues.base import DepositSeen
from shared.contracts.execution import DepositDetected
from shared.db import Connection
from shared.ids import derived_id

log = logging.getLogger(__name__)


def deposit_id(venue: str, account_id: str, txid: str) -> str:
    """The correlation id of a venue deposit: the same every time it is seen."""
    return str(derived_id("venue-deposit", venue, account_id, txid))


async def record_deposit(conn: Connection, venue: str, account_id: str, seen: DepositSeen) -> bool:
    inserted = await conn.fetchval(
        "INSERT INTO deposits_seen (venue, account_id, txid, asset, amount) "
        "VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING RETURNING 1",
        venue,
        account_id,
        seen.txid,
        seen.asset,
        seen.amount,
    )
    return inserted is not None


class DepositWatcher:
    def __init__(self, deps: VenueDeps) -> None:
        self._deps = deps

    async def tick(self) -> int:
        """One look at every account with a validated key; how many deposits were new."""
        new = 0
        async for key, found in answers(self._deps.pool, self._deposits, skipped=_skipped):
            for seen in found:
                async with self._deps.pool.acquire() as conn, conn.transaction():
                    if not await record_deposit(conn, key.exchange, key.account_id, seen):
                        continue
                    detected = DepositDetected(
                        venue=key.exchange, txid=seen.txid, asset=seen.asset, amount=seen.amount
                    )
                    announce = self._deps.announcer(conn)
                    await announce(
                        detected,
                        account_id=key.account_id,
                        correlation_id=deposit_id(key.exchange, key.account_id, seen.txid),
                    )
                    new += 1
        return new

    async def _deposits(self, key: StoredKey, added_ms: int) -> list[DepositSeen]:
        return await self._deps.clients.for_key(key).deposits(since_ms=added_ms)


def _skipped(key: StoredKey, exc: Exception) -> None:
    log.warning("deposits of %s at %s: %s", key.account_id, key.exchange, exc)
