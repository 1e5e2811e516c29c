"""`cryptoorch check`: once the system has drained, prove the promise held. This module waits
and reads the databases; the invariants themselves are pure, in `cryptoorch.invariants`.

Waits (polling, up to a deadline) until every accepted order, withdrawal and deposit is
terminal and
no outbox holds an unpublished message, then checks from the five databases that: every
accepted order, withdrawal and deposit ended; the venue holds at most one order per order id
and nothing nobody asked for; the ledger's own invariants hold; every user's balance equals
an independent recomputation; every message of every order is in the audit trail exactly
once and the chain verifies; no outbox row is stuck and every dead letter is reported.
Checks are re-run until they pass or the deadline passes (the databases are read one after
the other, so a message in flight can show as a difference for a moment); what still fails
at the deadline is reported.

The recomputation trusts what the ledger did not write: deposits as the gateway accepted
them, withdrawals and trades as the venue (the paper venue's own books in execution's
database) carried them out, each trade attributed to its user through the client order id
derived from the gateway's order id. The arithmetic is the contract's (a buy pays
amount x price rounded up to 18 decimals, a sell receives it rounded down; the fee is paid
in its asset), done here, so a wrong posting, a lost fill or a doubled deposit in the ledger
shows as a difference instead of being compared with itself. Messages in the outboxes are not
used for it: they are what the services said, the ledger's events among them. Deposits the
venue detects (`DepositDetected`) have no such source yet: one would show as a difference.

"Unpublished" means older than `stuck_after_seconds` (the paper market keeps emitting ticks,
so an outbox is rarely empty at an instant). Price ticks and audit checkpoints belong to no
order and are left out of the audit comparison (the chain check still covers them).

A dead letter fails the check unless `expected_dead_letter` accepts it (a test's injected
poison) or it was re-driven: a parked message is an effect that did not happen.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import asyncpg

from cryptoorch.check_venues import ExternalVenues, merge_external
from cryptoorch.exits import CannotCheck
from cryptoorch.invariants import (
    ORDER_TERMINAL,
    WITHDRAWAL_TERMINAL,
    DeadLetter,
    Snapshot,
    find_violations,
)
from services.audit.verify import verify_chain
from services.ledger.invariants import check_invariants
from shared.contracts import Topic, UndecodableMessage, decode
from shared.contracts.deadletter import DeadLettered
from shared.db import Connection, connect

SERVICES = ("gateway", "safety", "ledger", "execution", "audit")
NO_CORRELATION_TOPICS = (Topic.MARKET_PRICES.value, Topic.AUDIT_CHECKPOINTS.value)
ExpectedDeadLetter = Callable[[DeadLettered], bool]


@dataclass
class CheckReport:
    violations: list[str]
    dead_letters: list[DeadLetter]
    counts: dict[str, int]
    drained: bool
    waited_seconds: float

    @property
    def ok(self) -> bool:
        return not self.violations

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ok": self.ok}


async def check_system(
    database_urls: Mapping[str, str],
    *,
    drain_seconds: float = 60.0,
    checkpoint_file: Path | None = None,
    expected_dead_letter: ExpectedDeadLetter | None = None,
    stuck_after_seconds: float = 2.0,
    poll_seconds: float = 0.5,
    external_venues: ExternalVenues | None = None,
) -> CheckReport:
    """Drain, then check until every invariant holds or `drain_seconds` have passed.

    `external_venues` gives the books of network venues (`cryptoorch.check_venues`); without
    it, only orders and withdrawals at the paper venue can be accounted for."""
    started = time.monotonic()
    deadline = started + drain_seconds
    conns: dict[str, Connection] = {}
    try:
        for name in SERVICES:
            conns[name] = await connect(database_urls[name])
        drained = await _drain(conns, deadline, stuck_after_seconds, poll_seconds)
        while True:
            snapshot = await _collect(
                conns, checkpoint_file, expected_dead_letter, stuck_after_seconds, external_venues
            )
            violations = find_violations(snapshot)
            if not violations or time.monotonic() >= deadline:
                break
            await asyncio.sleep(poll_seconds)
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        raise CannotCheck(f"cannot read the databases: {exc}") from exc
    finally:
        for conn in conns.values():
            await conn.close()
    counts = {name: len(rows) for name, rows in snapshot.db.items()}
    counts["messages"] = sum(len(ids) for ids in snapshot.emitted.values())
    return CheckReport(
        violations, snapshot.dead_letters, counts, drained, time.monotonic() - started
    )


async def _drain(
    conns: Mapping[str, Connection], deadline: float, stuck_after: float, poll: float
) -> bool:
    """Wait until every request is terminal and no outbox has an old unpublished row."""
    while True:
        open_requests = await conns["gateway"].fetchval(
            "SELECT (SELECT count(*) FROM orders WHERE status <> ALL($1::text[])) + "
            "(SELECT count(*) FROM withdrawals WHERE status <> ALL($2::text[])) + "
            "(SELECT count(*) FROM deposits WHERE status = 'requested')",
            list(ORDER_TERMINAL),
            list(WITHDRAWAL_TERMINAL),
        )
        unpublished = 0
        for conn in conns.values():
            unpublished += await conn.fetchval(_UNPUBLISHED_COUNT, stuck_after)
        if open_requests == 0 and unpublished == 0:
            return True
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(poll)


_UNPUBLISHED = (
    "FROM outbox WHERE published_at IS NULL AND created_at < now() - make_interval(secs => $1)"
)
_UNPUBLISHED_COUNT = f"SELECT count(*) {_UNPUBLISHED}"
_QUERIES: dict[str, tuple[str, str]] = {
    "orders": ("gateway", "SELECT order_id, user_id, status, amount, filled_amount FROM orders"),
    "withdrawals": (
        "gateway",
        "SELECT withdrawal_id, user_id, status, asset, amount FROM withdrawals",
    ),
    "deposits": (
        "gateway",
        "SELECT deposit_id, user_id, asset, amount, reference, status, reject_reason FROM deposits",
    ),
    "shown_balances": ("gateway", "SELECT user_id, asset, available, held FROM balances"),
    "execution_orders": ("execution", "SELECT order_id, client_order_id FROM orders"),
    "venue_orders": (
        "execution",
        "SELECT client_order_id, venue_order_id, symbol, side, status FROM paper_orders",
    ),
    "venue_trades": (
        "execution",
        "SELECT 'paper' AS venue, trade_id, client_order_id, amount, price, fee, fee_asset "
        "FROM paper_trades",
    ),
    "reported_fills": (
        "execution",
        "SELECT venue, trade_id FROM order_fills WHERE venue = 'paper'",
    ),
    "venue_withdrawals": (
        "execution",
        "SELECT withdrawal_id, asset, amount FROM paper_withdrawals",
    ),
    "ledger_balances": (
        "ledger",
        "SELECT owner, asset, sum(amount) AS total, sum(amount) FILTER (WHERE bucket = 'held') "
        "AS held FROM balances WHERE is_user GROUP BY owner, asset",
    ),
    "open_holds": (
        "ledger",
        "SELECT hold_id, account_id, asset, remaining FROM holds WHERE status = 'open'",
    ),
    "discrepancies": (
        "ledger",
        "SELECT account_id, hold_id, asset, amount, detail FROM discrepancies",
    ),
    "credited_deposits": (
        "ledger",
        "SELECT subreference FROM journal WHERE kind = 'deposit' AND reference = 'paper'",
    ),
}


async def _collect(
    conns: Mapping[str, Connection],
    checkpoint_file: Path | None,
    expected: ExpectedDeadLetter | None,
    stuck_after: float,
    external_venues: ExternalVenues | None = None,
) -> Snapshot:
    snapshot = Snapshot()
    for name, (service, query) in _QUERIES.items():
        snapshot.db[name] = [dict(r.items()) for r in await conns[service].fetch(query)]
    for records in await external_venues() if external_venues is not None else []:
        fills = await conns["execution"].fetch(
            "SELECT venue, trade_id FROM order_fills WHERE venue = $1", records.venue
        )
        merge_external(snapshot.db, records, [dict(r.items()) for r in fills])
    async with conns["ledger"].transaction(isolation="repeatable_read", readonly=True):
        snapshot.ledger_problems = await check_invariants(conns["ledger"])
    correlations = [
        r[f"{kind}_id"]
        for kind in ("order", "withdrawal", "deposit")
        for r in snapshot.db[kind + "s"]
    ]
    for service, conn in conns.items():
        await _read_outbox(snapshot, service, conn, set(correlations), expected, stuck_after)
    for row in await conns["audit"].fetch(
        "SELECT event_id::text, correlation_id FROM audit_trail "
        "WHERE correlation_id = ANY($1::text[])",
        correlations,
    ):
        snapshot.audited[row["correlation_id"]][row["event_id"]] += 1
    verdict = await verify_chain(conns["audit"], checkpoint_file)
    if not verdict.ok:
        snapshot.chain_problem = (
            f"{verdict.problem} at seq {verdict.first_bad_seq}: {verdict.detail}"
        )
    return snapshot


async def _read_outbox(
    snapshot: Snapshot,
    service: str,
    conn: Connection,
    correlations: set[str],
    expected: ExpectedDeadLetter | None,
    stuck_after: float,
) -> None:
    stuck = await conn.fetchrow(
        f"SELECT count(*) AS n, min(id) AS first_id, min(topic) AS topic {_UNPUBLISHED}",
        stuck_after,
    )
    if stuck is not None and stuck["n"]:
        snapshot.stuck[service] = stuck
    parked = {
        r[0]
        for r in await conn.fetch(
            "SELECT event_id::text FROM inbox WHERE outcome = 'dead_lettered'"
        )
    }
    rows = await conn.fetch(
        "SELECT event_id::text, topic, value FROM outbox WHERE topic <> ALL($1::text[])",
        list(NO_CORRELATION_TOPICS),
    )
    for row in rows:
        try:
            message = decode(bytes(row["value"]))
        except UndecodableMessage:
            continue  # a re-driven original: counted where it was first emitted
        if str(message.event_id) != row["event_id"]:
            continue  # a re-driven original under an id of its own (shared/dlq.py): likewise
        if row["topic"].endswith(".dlq") and isinstance(message.payload, DeadLettered):
            body = message.payload
            snapshot.dead_letters.append(
                DeadLetter(
                    service=service,
                    dead_letter_id=row["event_id"],
                    original_topic=body.original_topic,
                    original_event_id=body.original_event_id,
                    error=body.error,
                    expected=expected is not None and expected(body),
                    redriven=body.original_event_id is not None
                    and body.original_event_id not in parked,
                )
            )
        elif message.correlation_id in correlations:
            snapshot.emitted[message.correlation_id].add(row["event_id"])
