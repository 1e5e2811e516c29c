"""The ledger's one writer: what a message (or each message of a batch) decided goes to the
journal, balances, holds, deposits and discrepancies with one statement per table."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from decimal import Decimal

from services.ledger.domain import ZERO, AccountKey, Hold, Outcome, net_changes
from services.ledger.errors import NegativeUserBalance
from services.ledger.store import HOLD_COLUMNS
from shared.contracts.envelope import Envelope
from shared.contracts.ledger import DepositCredited, DepositRejected, LedgerDiscrepancy
from shared.db import Connection
from shared.money import exact


async def book(conn: Connection, decided: Sequence[tuple[Envelope, Outcome]]) -> None:
    """Write what each message decided, in message order where order shows (`applied_messages`,
    which replay folds in; the journal), in the caller's transaction."""
    await conn.execute(
        "INSERT INTO applied_messages (event_id, type, account_id) "
        "SELECT e, t, a FROM unnest($1::uuid[], $2::text[], $3::text[]) "
        "WITH ORDINALITY AS u(e, t, a, n) ORDER BY n ON CONFLICT (event_id) DO NOTHING",
        [m.event_id for m, _ in decided],
        [m.type for m, _ in decided],
        [m.account_id for m, _ in decided],
    )
    await _journal(conn, decided)
    await _balances(conn, [o for _, o in decided])
    last: dict[str, Hold] = {o.hold.hold_id: o.hold for _, o in decided if o.hold is not None}
    if last:
        holds = [last[h] for h in sorted(last)]
        await conn.execute(
            f"INSERT INTO holds ({HOLD_COLUMNS}) SELECT * FROM unnest($1::text[], $2::text[], "
            "$3::text[], $4::text[], $5::text[], $6::numeric[], $7::numeric[], $8::text[]) "
            "ON CONFLICT (hold_id) DO UPDATE SET remaining = EXCLUDED.remaining, "
            "status = EXCLUDED.status, updated_at = now()",
            [h.hold_id for h in holds],
            [h.owner for h in holds],
            [h.purpose.value for h in holds],
            [h.asset for h in holds],
            [h.venue for h in holds],
            [h.amount for h in holds],
            [h.remaining for h in holds],
            [h.status.value for h in holds],
        )
    deposits = [
        (e.deposit_id, m.account_id, e.venue, e.reference, e, m.event_id)
        for m, o in decided
        for e in o.events
        if isinstance(e, DepositCredited | DepositRejected)
    ]
    if deposits:
        await conn.executemany(
            "INSERT INTO deposits (deposit_id, account_id, venue, reference, status, reason, "
            "cause_event_id) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            [
                (
                    d,
                    a,
                    v,
                    r,
                    "credited" if isinstance(e, DepositCredited) else "rejected",
                    e.reason.value if isinstance(e, DepositRejected) else None,
                    c,
                )
                for d, a, v, r, e, c in deposits
            ],
        )
    found = [
        (m.account_id, d.hold_id, d.asset, d.amount, d.detail, m.event_id)
        for m, o in decided
        for d in o.events
        if isinstance(d, LedgerDiscrepancy)
    ]
    if found:
        await conn.executemany(
            "INSERT INTO discrepancies (account_id, hold_id, asset, amount, detail, cause_event_id)"
            " VALUES ($1, $2, $3, $4, $5, $6)",
            found,
        )


async def _journal(conn: Connection, decided: Sequence[tuple[Envelope, Outcome]]) -> None:
    """Every entry with one insert, then every posting with one more."""
    entries = [(m, e) for m, o in decided for e in o.entries]
    if not entries:
        return
    rows = await conn.fetch(
        "INSERT INTO journal (kind, reference, subreference, account_id, cause_event_id) "
        "SELECT k, r, s, a, c FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], "
        "$5::uuid[]) WITH ORDINALITY AS u(k, r, s, a, c, n) ORDER BY n "
        "RETURNING entry_id, kind, reference, subreference",
        [e.key.kind.value for _, e in entries],
        [e.key.reference for _, e in entries],
        [e.key.subreference for _, e in entries],
        [m.account_id for m, _ in entries],
        [m.event_id for m, _ in entries],
    )
    ids = {(r["kind"], r["reference"], r["subreference"]): r["entry_id"] for r in rows}
    postings = [
        (ids[e.key.kind.value, e.key.reference, e.key.subreference], p)
        for _, e in entries
        for p in e.postings
    ]
    await conn.execute(
        "INSERT INTO postings (entry_id, owner, asset, bucket, amount) "
        "SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::numeric[])",
        [i for i, _ in postings],
        [p.account.owner for _, p in postings],
        [p.account.asset for _, p in postings],
        [p.account.bucket.value for _, p in postings],
        [p.amount for _, p in postings],
    )


async def _balances(conn: Connection, outcomes: Sequence[Outcome]) -> None:
    """Create every balance row a message moved, then add the batch's net change to each
    (guarded as `store.book` is: a user bucket never below zero)."""
    moved: set[AccountKey] = set()
    total: dict[AccountKey, Decimal] = defaultdict(lambda: ZERO)
    with exact():
        for outcome in outcomes:
            for account, delta in net_changes(outcome.entries).items():
                moved.add(account)
                total[account] += delta
    if not moved:
        return
    accounts = sorted(moved)
    await conn.execute(
        "INSERT INTO balances (owner, asset, bucket, is_user) "
        "SELECT o, a, b, b IN ('available', 'held') "
        "FROM unnest($1::text[], $2::text[], $3::text[]) AS t(o, a, b) "
        "ORDER BY o, a, b ON CONFLICT DO NOTHING",
        [a.owner for a in accounts],
        [a.asset for a in accounts],
        [a.bucket.value for a in accounts],
    )
    changed = [a for a in accounts if total[a] != 0]
    if not changed:
        return
    updated = await conn.fetchval(
        "WITH changed AS ("
        "  UPDATE balances SET amount = balances.amount + t.delta"
        "  FROM unnest($1::text[], $2::text[], $3::text[], $4::numeric[]) AS t(o, a, b, delta)"
        "  WHERE balances.owner = t.o AND balances.asset = t.a AND balances.bucket = t.b"
        "    AND (NOT balances.is_user OR balances.amount + t.delta >= 0)"
        "  RETURNING 1) SELECT count(*) FROM changed",
        [a.owner for a in changed],
        [a.asset for a in changed],
        [a.bucket.value for a in changed],
        [total[a] for a in changed],
    )
    if updated != len(changed):
        raise NegativeUserBalance(f"refused: a change would overdraw one of {changed}")
