"""What the console reads of the other services' databases, read-only, the way the audit export
reads the trail: through a URL from settings (`read_database_url`), in a read-only transaction,
within a few seconds, or not at all (the caller shows the error, never a made-up zero).

Only columns those services document for readers: every service's `outbox` (`created_at`,
`published_at`) and the ledger's `venue_reconciliations` and `venue_comparisons`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import asyncpg

from shared.db import Connection, connect

READ_SECONDS = 5
READ_FAILURES = (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError)
"""What a peer's database that is down, slow or refuses the role raises."""


@asynccontextmanager
async def read_only(url: str) -> AsyncIterator[Connection]:
    """A connection in a read-only transaction; the reads inside share `READ_SECONDS`."""
    async with asyncio.timeout(READ_SECONDS):
        conn = await connect(url)
        try:
            async with conn.transaction(readonly=True):
                yield conn
        finally:
            await conn.close()


@dataclass(frozen=True)
class Outbox:
    backlog: int
    oldest: datetime | None
    """When the oldest unpublished row was written (None: nothing waits)."""


async def outbox(conn: Connection) -> Outbox:
    row = await conn.fetchrow(
        "SELECT count(*) AS backlog, min(created_at) AS oldest FROM outbox "
        "WHERE published_at IS NULL"
    )
    assert row is not None  # an aggregate always has its row
    return Outbox(row["backlog"], row["oldest"])


@dataclass(frozen=True)
class AssetComparison:
    asset: str
    venue_total: Decimal
    ledger_total: Decimal

    @property
    def drift(self) -> Decimal:
        """`venue_total - ledger_total`: negative when the venue holds less than the ledger."""
        return self.venue_total - self.ledger_total


@dataclass(frozen=True)
class VenueReport:
    """The ledger's view of one account at one venue: its last report and the last comparison."""

    account_id: str
    venue: str
    reported_at: datetime | None
    outcome: str | None
    compared_at: datetime | None
    streak: int
    assets: tuple[AssetComparison, ...]


async def venue_reports(conn: Connection, account_ids: list[str]) -> list[VenueReport]:
    """Every (account, venue) of `account_ids` the ledger has had a report of."""
    states = await conn.fetch(
        "SELECT account_id, venue, last_report_at, last_outcome, last_observed_at, streak "
        "FROM venue_reconciliations WHERE account_id = ANY($1::text[]) "
        "ORDER BY account_id, venue",
        account_ids,
    )
    rows = await conn.fetch(
        "SELECT account_id, venue, asset, venue_total, ledger_total FROM venue_comparisons "
        "WHERE account_id = ANY($1::text[]) ORDER BY asset",
        account_ids,
    )
    assets: dict[tuple[str, str], list[AssetComparison]] = {}
    for row in rows:
        found = AssetComparison(row["asset"], row["venue_total"], row["ledger_total"])
        assets.setdefault((row["account_id"], row["venue"]), []).append(found)
    return [
        VenueReport(
            account_id=s["account_id"],
            venue=s["venue"],
            reported_at=s["last_report_at"] or s["last_observed_at"],
            outcome=s["last_outcome"],
            compared_at=s["last_observed_at"],
            streak=s["streak"],
            assets=tuple(assets.get((s["account_id"], s["venue"]), [])),
        )
        for s in states
    ]
