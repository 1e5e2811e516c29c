"""Reconciliation with the venues: a `VenueBalancesReported` compared with the ledger's own totals
of that account at that venue (`domain.reconcile` decides); a confirmed disagreement is recorded
and raised as `BalanceDiscrepancyDetected`, in the inbox's transaction.

The report travels on the execution topic keyed by the account, after every fill, deposit and
withdrawal execution emitted for that account before it: what execution saw at the venue is
booked before the report is compared.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal

from services.ledger.domain.accounts import ZERO
from services.ledger.domain.reconcile import ReconcilePolicy, judge
from shared import metrics
from shared.contracts.envelope import Envelope
from shared.contracts.execution import VenueBalancesReported
from shared.contracts.ledger import BalanceDiscrepancyDetected
from shared.db import Connection
from shared.emitter import Emitter

log = logging.getLogger(__name__)

_VENUE_TOTALS = """
SELECT p.asset, sum(p.amount) AS total
  FROM postings p
  JOIN journal j ON j.entry_id = p.entry_id
  LEFT JOIN holds h ON j.kind <> 'deposit' AND h.hold_id = j.reference
 WHERE p.owner = $1 AND p.bucket IN ('available', 'held') AND j.account_id = $1
   AND (CASE WHEN j.kind = 'deposit' THEN j.reference ELSE h.venue END) = $2
 GROUP BY p.asset
"""


async def venue_totals(conn: Connection, account_id: str, venue: str) -> dict[str, Decimal]:
    """The account's available + held per asset, of the postings attributed to `venue`: deposits
    by the venue they name, every other entry by the venue of its hold."""
    rows = await conn.fetch(_VENUE_TOTALS, account_id, venue)
    return {r["asset"]: r["total"] for r in rows}


async def has_open_hold(conn: Connection, account_id: str, venue: str) -> bool:
    return bool(
        await conn.fetchval(
            "SELECT EXISTS (SELECT 1 FROM holds "
            "WHERE account_id = $1 AND venue = $2 AND status = 'open')",
            account_id,
            venue,
        )
    )


async def _reported(
    conn: Connection, account_id: str, venue: str, observed_at: datetime, outcome: str
) -> None:
    await conn.execute(
        "UPDATE venue_reconciliations SET last_report_at = $3, last_outcome = $4 "
        "WHERE account_id = $1 AND venue = $2",
        account_id,
        venue,
        observed_at,
        outcome,
    )


async def _save_comparison(
    conn: Connection,
    account_id: str,
    venue: str,
    ours: Mapping[str, Decimal],
    theirs: Mapping[str, Decimal],
) -> None:
    """Each asset's totals on both sides as this report compared them (for the console)."""
    await conn.execute(
        "DELETE FROM venue_comparisons WHERE account_id = $1 AND venue = $2", account_id, venue
    )
    await conn.executemany(
        "INSERT INTO venue_comparisons (account_id, venue, asset, ledger_total, venue_total) "
        "VALUES ($1, $2, $3, $4, $5)",
        [
            (account_id, venue, asset, ours.get(asset, ZERO), theirs.get(asset, ZERO))
            for asset in sorted(ours.keys() | theirs.keys())
        ],
    )


async def reconcile(
    conn: Connection, emitter: Emitter, message: Envelope, policy: ReconcilePolicy
) -> None:
    report = message.body(VenueBalancesReported)
    account_id, venue = message.account_id, report.venue
    state = await conn.fetchrow(
        "INSERT INTO venue_reconciliations (account_id, venue, last_observed_at, streak) "
        "VALUES ($1, $2, NULL, 0) ON CONFLICT (account_id, venue) "
        "DO UPDATE SET account_id = EXCLUDED.account_id "
        "RETURNING streak, last_observed_at",
        account_id,
        venue,
    )  # the row exists and is locked: reports of one account are judged one at a time
    assert state is not None  # RETURNING of an upsert always answers
    last = state["last_observed_at"]
    if last is not None and last >= report.observed_at:
        metrics.VENUE_RECONCILIATIONS.labels(venue, "stale").inc()
        return  # an older report than one compared already
    if await has_open_hold(conn, account_id, venue):
        await _reported(conn, account_id, venue, report.observed_at, "skipped_open_hold")
        metrics.VENUE_RECONCILIATIONS.labels(venue, "skipped_open_hold").inc()
        return  # a fill or withdrawal may be at the venue and not booked yet: not comparable
    ours = await venue_totals(conn, account_id, venue)
    verdict = judge(ours, report.balances, state["streak"], policy)
    await conn.execute(
        "UPDATE venue_reconciliations SET streak = $3, last_observed_at = $4, updated_at = now() "
        "WHERE account_id = $1 AND venue = $2",
        account_id,
        venue,
        verdict.streak,
        report.observed_at,
    )
    outcome = "agreed" if verdict.streak == 0 else "disagreed"
    metrics.VENUE_RECONCILIATIONS.labels(venue, outcome).inc()
    shown = "discrepancy" if verdict.discrepancies else outcome
    await _reported(conn, account_id, venue, report.observed_at, shown)
    await _save_comparison(conn, account_id, venue, ours, report.balances)
    if not verdict.discrepancies:
        return
    found = [
        BalanceDiscrepancyDetected(
            venue=venue,
            asset=d.asset,
            ledger_total=d.ledger_total,
            venue_total=d.venue_total,
            difference=d.difference,
            observed_at=report.observed_at,
        )
        for d in verdict.discrepancies
    ]
    await conn.executemany(
        "INSERT INTO venue_discrepancies (account_id, venue, asset, ledger_total, venue_total, "
        "observed_at, cause_event_id) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        [
            (
                account_id,
                venue,
                d.asset,
                d.ledger_total,
                d.venue_total,
                d.observed_at,
                message.event_id,
            )
            for d in found
        ],
    )
    log.warning(
        "balances of %s at %s disagree with the venue: %s",
        account_id,
        venue,
        ", ".join(f"{d.asset} ledger {d.ledger_total} venue {d.venue_total}" for d in found),
    )
    await emitter.emit_all(
        conn, found, account_id=account_id, correlation_id=message.correlation_id, cause=message
    )
    metrics.VENUE_RECONCILIATIONS.labels(venue, "discrepancy").inc(len(found))
