"""Which markets each venue lists, told to safety as `MarketsListed` (safety refuses an order
for a market it has no listing of, and checks the market's own limits and steps).

* The paper venue: its symbols, at every start, before its first tick (same partition as the
  ticks, so safety never sees a paper price before the paper listing).
* A network venue: its active spot markets from ccxt, in the same transaction as the first
  `ExchangeKeyValidated` for it from this process, then again every
  `exchange_markets_refresh_seconds`. A venue that does not answer keeps its last listing at
  safety; the next pass tries again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime

from services.execution.announce import Announcer
from services.execution.remote.deps import VenueDeps
from services.execution.remote.each_key import VENUE_FAILURES
from services.execution.remote.keys_store import KeyStore, StoredKey
from shared.contracts.execution import MARKETS_PER_MESSAGE, ListedMarket, MarketsListed
from shared.db import Connection
from shared.emitter import Emitter
from shared.ids import SYSTEM_ACCOUNT

log = logging.getLogger(__name__)
RETRY_SECONDS = 30.0
"""How soon a venue that did not answer is asked for its markets again."""


def listing_parts(
    venue: str, markets: Sequence[ListedMarket], listed_at: datetime
) -> list[MarketsListed]:
    """The listing in parts that each fit in one message (an empty listing is one empty part)."""
    chunks = [
        list(markets[i : i + MARKETS_PER_MESSAGE])
        for i in range(0, len(markets), MARKETS_PER_MESSAGE)
    ] or [[]]
    return [
        MarketsListed(
            venue=venue, listed_at=listed_at, part=number, parts=len(chunks), markets=chunk
        )
        for number, chunk in enumerate(chunks, start=1)
    ]


async def announce_listing(
    conn: Connection, emitter: Emitter, venue: str, markets: Sequence[ListedMarket]
) -> None:
    """Every part through the outbox, in order, on the system account's partition, stamped
    (and listed) at one moment of the emitter's clock."""
    announce = Announcer.now_in(emitter, conn, cause=None)
    for part in listing_parts(venue, markets, announce.now):
        await announce(part, account_id=SYSTEM_ACCOUNT, correlation_id=f"markets:{venue}")


class MarketLister:
    """Network venues' listings: asked through any validated key's client (`load_markets`
    needs no particular account), published on first sight and then every `refresh_seconds`."""

    def __init__(
        self,
        deps: VenueDeps,
        *,
        monotonic: Callable[[], float],
        refresh_seconds: float,
    ) -> None:
        self._deps = deps
        self._monotonic = monotonic
        self._refresh_seconds = refresh_seconds
        self._next_at: dict[str, float] = {}
        self._listed: set[str] = set()

    def is_due(self, venue: str) -> bool:
        return self._monotonic() >= self._next_at.get(venue, 0.0)

    async def markets_of(self, key: StoredKey, *, reload: bool) -> list[ListedMarket] | None:
        """The venue's markets through this key's client; None when the venue did not answer."""
        try:
            return await self._deps.clients.for_key(key).markets(reload=reload)
        except VENUE_FAILURES as exc:
            log.warning("markets of %s: not listed this time: %s", key.exchange, exc)
            self._next_at[key.exchange] = self._monotonic() + RETRY_SECONDS
            return None

    async def announce(self, conn: Connection, venue: str, markets: Sequence[ListedMarket]) -> None:
        """Inside the caller's transaction; counted as listed once that transaction commits."""
        await announce_listing(conn, self._deps.emitter, venue, markets)

    def listed(self, venue: str) -> None:
        self._listed.add(venue)
        self._next_at[venue] = self._monotonic() + self._refresh_seconds

    async def tick(self) -> int:
        """Each venue with a validated key whose listing is due, listed again; how many were."""
        async with self._deps.pool.acquire() as conn:
            keys = await KeyStore(conn).valid_keys()
        by_venue: dict[str, StoredKey] = {}
        for key, _ in keys:
            by_venue.setdefault(key.exchange, key)
        published = 0
        for venue, key in sorted(by_venue.items()):
            if not self.is_due(venue):
                continue
            markets = await self.markets_of(key, reload=venue in self._listed)
            if markets is None:
                continue
            async with self._deps.pool.acquire() as conn, conn.transaction():
                await self.announce(conn, venue, markets)
            self.listed(venue)
            published += 1
        return published
