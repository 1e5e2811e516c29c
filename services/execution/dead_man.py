"""The dead man's switch (`POST /v1/orders/cancel-all-after`), fired by execution.

The inbox handler stores each account's deadline (`CancelAllAfterArmed`, newest by the
gateway's time). This loop fires the deadlines that passed: one transaction per account cancels
every open order of it through `OrderFlow.cancel`, as a kill switch does (paper orders at once,
network ones by the background sender), and records that it fired, so it fires once. Being in
the database, a deadline survives a restart: a deadline that passed while execution was down
fires at the first pass after start.

Network venues that have their own timer (ccxt `has['cancelAllAfter']`) are also told, best
effort, from the venue work task (`VenueTimers`): never inside a transaction, and our own
timer cancels the orders whether or not the venue's call succeeded.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from services.execution.announce import Announcer
from services.execution.domain.errors import ExecutionError
from services.execution.handlers import CLOCK_SKEW, VenueFactory
from services.execution.orders import OrderFlow
from services.execution.remote.deps import VenueDeps
from services.execution.remote.keys_store import KeyStore
from services.execution.store import PostgresExecutionStore
from shared.db import TRANSIENT_ERRORS, Connection
from shared.emitter import Emitter

log = logging.getLogger(__name__)
DEAD_MAN_REASON = "cancel_all_after"
"""`OrderCancelled.reason` of an order the dead man's switch cancelled."""


@dataclass(frozen=True)
class Untold:
    """An arming (or disarming) not yet passed on to the account's network venues."""

    account_id: str
    armed_at: datetime
    armed_until: datetime | None


class DeadManStore:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    async def next_due(self, now: datetime) -> str | None:
        """An account whose deadline passed and has not fired, locked (others skip it)."""
        account: str | None = await self._conn.fetchval(
            "SELECT account_id FROM cancel_all_after WHERE fired_at IS NULL "
            "AND armed_until <= $1 ORDER BY armed_until LIMIT 1 FOR UPDATE SKIP LOCKED",
            now,
        )
        return account

    async def fired(self, account_id: str, now: datetime) -> None:
        await self._conn.execute(
            "UPDATE cancel_all_after SET fired_at = $2 WHERE account_id = $1", account_id, now
        )

    async def untold(self, limit: int) -> list[Untold]:
        rows = await self._conn.fetch(
            "SELECT account_id, armed_at, armed_until FROM cancel_all_after "
            "WHERE NOT venues_told ORDER BY armed_at LIMIT $1",
            limit,
        )
        return [Untold(r["account_id"], r["armed_at"], r["armed_until"]) for r in rows]

    async def told(self, untold: Untold) -> None:
        """Marked told only if not armed again since (a newer arming is told in turn)."""
        await self._conn.execute(
            "UPDATE cancel_all_after SET venues_told = true "
            "WHERE account_id = $1 AND armed_at = $2",
            untold.account_id,
            untold.armed_at,
        )


class DeadMan:
    def __init__(
        self,
        pool: asyncpg.Pool,
        *,
        venue_for: VenueFactory,
        emitter: Emitter,
        remote: Callable[[str], bool],
        poll_seconds: float,
    ) -> None:
        self._pool = pool
        self._venue_for = venue_for
        self._emitter = emitter
        self._remote = remote
        self._poll_seconds = poll_seconds

    async def run(self, stop: asyncio.Event) -> None:
        """Fire what is due every `poll_seconds`; a database hiccup skips one pass."""
        while not stop.is_set():
            try:
                await self.fire_due()
            except TRANSIENT_ERRORS as exc:
                log.warning("dead man's switch: a pass skipped: %s", exc)
            try:
                await asyncio.wait_for(stop.wait(), timeout=self._poll_seconds)
            except TimeoutError:
                pass

    async def fire_due(self) -> list[str]:
        """Fire every deadline that passed, one account per transaction; the accounts fired."""
        fired: list[str] = []
        while True:
            async with self._pool.acquire() as conn, conn.transaction():
                now = self._emitter.clock()
                account = await DeadManStore(conn).next_due(now)
                if account is None:
                    return fired
                await self._fire(conn, account, now)
            fired.append(account)

    async def _fire(self, conn: Connection, account_id: str, now: datetime) -> None:
        store = PostgresExecutionStore(conn)
        orders = await store.orders_in_scope(
            account_id=account_id, symbol=None, side=None, created_before=now + CLOCK_SKEW
        )
        flow = OrderFlow(
            store,
            lambda name: self._venue_for(conn, name),
            Announcer(self._emitter, conn, now, cause=None),
            self._remote,
        )
        for order in orders:
            await flow.cancel(order.order_id, account_id, DEAD_MAN_REASON)
        await DeadManStore(conn).fired(account_id, now)
        log.warning(
            "dead man's switch of %s fired: %d open orders cancelled", account_id, len(orders)
        )


class VenueTimers:
    """Set (or clear) the account's timer at each network venue it has a validated key for and
    that has one (`cancelAllAfter`), after each arming. Best effort: a venue that fails is
    logged and not asked again for this arming; our own timer still fires."""

    def __init__(self, deps: VenueDeps) -> None:
        self._deps = deps

    async def tick(self, limit: int = 50) -> int:
        async with self._deps.pool.acquire() as conn:
            armings = await DeadManStore(conn).untold(limit)
            keys = await KeyStore(conn).valid_keys() if armings else []
        for arming in armings:
            timeout_ms = 0  # disarmed: 0 clears the venue's timer
            if arming.armed_until is not None:
                left = (arming.armed_until - self._deps.clock()).total_seconds()
                timeout_ms = max(int(left * 1000), 1)
            for key, _ in keys:
                if key.account_id != arming.account_id:
                    continue
                try:
                    client = self._deps.clients.for_key(key)
                    await client.cancel_all_after(timeout_ms)
                except ExecutionError as exc:
                    log.warning("%s: cancelAllAfter not set: %s", key.exchange, exc)
            async with self._deps.pool.acquire() as conn:
                await DeadManStore(conn).told(arming)
        return len(armings)
