"""What each account holds at its venue: every account with a validated key is asked (ccxt
`fetch_balance`), and the totals it reports are published as `VenueBalancesReported` for the
ledger to reconcile with its books.

Only an answer is reported: a fetch that fails (the venue is down, slow, refuses the key, or
answers something that is not an amount) reports nothing for that account this time, and is
logged and counted (`cryptoorch_venue_reconciliations_total{outcome="fetch_failed"}`).
"""

from __future__ import annotations

import logging

from pydantic import ValidationError

from services.execution.remote.deps import VenueDeps
from services.execution.remote.each_key import VENUE_FAILURES, answers
from services.execution.remote.keys_store import StoredKey
from shared import metrics
from shared.contracts.execution import VenueBalancesReported
from shared.ids import derived_id

log = logging.getLogger(__name__)
FETCH_FAILURES = (
    *VENUE_FAILURES,
    ValueError,  # includes a ValidationError: an amount the contract refuses
    TypeError,
)


def report_id(venue: str, account_id: str) -> str:
    """The correlation id of an account's balance reports at a venue: the same every time."""
    return str(derived_id("venue-balances", venue, account_id))


class BalanceReporter:
    def __init__(self, deps: VenueDeps) -> None:
        self._deps = deps

    async def tick(self) -> int:
        """One fetch per account with a validated key; how many reports were published."""
        reported = 0
        walk = answers(self._deps.pool, self._fetch, skipped=_not_reported, failures=FETCH_FAILURES)
        async for key, report in walk:
            async with self._deps.pool.acquire() as conn, conn.transaction():
                announce = self._deps.announcer(conn)
                await announce(
                    report,
                    account_id=key.account_id,
                    correlation_id=report_id(key.exchange, key.account_id),
                )
            metrics.VENUE_RECONCILIATIONS.labels(key.exchange, "reported").inc()
            reported += 1
        return reported

    async def _fetch(self, key: StoredKey, _added_ms: int) -> VenueBalancesReported:
        totals = await self._deps.clients.for_key(key).balances()
        return VenueBalancesReported(
            venue=key.exchange, balances=totals, observed_at=self._deps.clock()
        )


def _not_reported(key: StoredKey, exc: Exception) -> None:
    detail = "invalid amounts" if isinstance(exc, ValidationError) else str(exc)
    log.warning("balances of %s at %s: nothing reported: %s", key.account_id, key.exchange, detail)
    metrics.VENUE_RECONCILIATIONS.labels(key.exchange, "fetch_failed").inc()
