"""Users' exchange keys: stored sealed when `ExchangeKeyAdded` arrives, checked in the background
with ccxt `fetch_balance` (never inside a transaction), reported as `ExchangeKeyValidated`. A key
validated while its venue's listing is due brings that listing too, in the same transaction and
just before it (see `services.execution.remote.listings`).

The plaintext never leaves the venue client: not in the database, a log line or a message.
A check that cannot complete (timeout, 5xx) is retried with backoff; one that cannot even
start (the seal cannot be opened, ccxt knows no such exchange) marks the key invalid.
"""

from __future__ import annotations

import logging

from services.execution.domain.errors import VenueNotReached, VenueOutcomeUnknown, VenueRejected
from services.execution.domain.outcomes import Backoff
from services.execution.remote.deps import VenueDeps
from services.execution.remote.keys_store import KeyStatus, KeyStore, StoredKey
from services.execution.remote.listings import MarketLister
from shared.contracts.execution import ExchangeKeyValidated

log = logging.getLogger(__name__)


class KeyChecker:
    def __init__(
        self,
        deps: VenueDeps,
        backoff: Backoff,
        *,
        lister: MarketLister | None = None,
    ) -> None:
        self._deps = deps
        self._backoff = backoff
        self._lister = lister

    async def tick(self) -> None:
        async with self._deps.pool.acquire() as conn:
            due = await KeyStore(conn).due_for_check(20)
        for key in due:
            await self.check(key)

    async def check(self, key: StoredKey) -> None:
        verdict: tuple[KeyStatus, str] | None
        try:
            await self._deps.clients.for_key(key).check_credentials()
            verdict = (KeyStatus.VALID, "")
        except VenueRejected as exc:
            verdict = (KeyStatus.INVALID, exc.detail)
        except (VenueOutcomeUnknown, VenueNotReached) as exc:
            log.warning("exchange key %s: check inconclusive: %s", key.key_id, exc.detail)
            verdict = None
        if verdict is None or verdict[0] is KeyStatus.INVALID:
            await self._deps.clients.forget(key)
        markets, announced = None, False
        if verdict is not None and verdict[0] is KeyStatus.VALID and self._lister is not None:
            if self._lister.is_due(key.exchange):
                markets = await self._lister.markets_of(key, reload=False)
        async with self._deps.pool.acquire() as conn, conn.transaction():
            keys = KeyStore(conn)
            if verdict is None:
                delay = self._backoff.delay(key.failures)
                await keys.check_later(key.key_id, failures=key.failures + 1, after_seconds=delay)
                return
            status, detail = verdict
            if await keys.record_check(key.key_id, status, detail):
                if markets is not None and self._lister is not None:  # before the validation
                    await self._lister.announce(conn, key.exchange, markets)
                    announced = True
                validated = ExchangeKeyValidated(
                    key_id=key.key_id,
                    exchange=key.exchange,
                    valid=status is KeyStatus.VALID,
                    detail=detail,
                )
                announce = self._deps.announcer(conn)
                await announce(validated, account_id=key.account_id, correlation_id=key.key_id)
        if announced and self._lister is not None:
            self._lister.listed(key.exchange)
