"""The ledger's SQL: load (and lock) what a decision reads, book what it decided."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

import asyncpg

from services.ledger.domain import (
    ZERO,
    Bucket,
    Hold,
    HoldStatus,
    Needs,
    Outcome,
    View,
    net_changes,
)
from services.ledger.domain.accounts import WORLD_OWNER
from services.ledger.errors import NegativeUserBalance
from shared.contracts.envelope import Envelope
from shared.contracts.ledger import (
    BalanceChanged,
    DepositCredited,
    DepositRejected,
    HoldPurpose,
    LedgerDiscrepancy,
)
from shared.db import Connection

HOLD_COLUMNS = "hold_id, account_id, purpose, asset, venue, amount, remaining, status"


async def load_view(conn: Connection, owner: str, need: Needs) -> View:
    """Read what the decision needs, locking the hold and the available rows it may spend."""
    hold: Hold | None = None
    if need.hold_id is not None:
        row = await conn.fetchrow(
            f"SELECT {HOLD_COLUMNS} FROM holds WHERE hold_id = $1 FOR UPDATE", need.hold_id
        )
        hold = hold_of(row) if row is not None else None
    on_hand: dict[str, Decimal] = {}
    if need.assets:
        rows = await conn.fetch(
            "SELECT asset, amount FROM balances WHERE owner = $1 AND bucket = 'available' "
            "AND asset = ANY($2::text[]) ORDER BY asset FOR UPDATE",
            owner,
            list(need.assets),
        )
        on_hand = {r["asset"]: r["amount"] for r in rows}
    booked = False
    if need.entry_key is not None:
        key = need.entry_key
        booked = bool(
            await conn.fetchval(
                "SELECT EXISTS (SELECT 1 FROM journal "
                "WHERE kind = $1 AND reference = $2 AND subreference = $3)",
                key.kind.value,
                key.reference,
                key.subreference,
            )
        )
    world = ZERO
    if need.world_asset is not None:  # locked: concurrent deposits cannot both pass the bound
        found = await conn.fetchval(
            "SELECT amount FROM balances WHERE owner = $1 AND asset = $2 AND bucket = $3 "
            "FOR UPDATE",
            WORLD_OWNER,
            need.world_asset,
            Bucket.WORLD.value,
        )
        world = found if found is not None else ZERO
    decided = False
    if need.deposit_id is not None:
        decided = bool(
            await conn.fetchval(
                "SELECT EXISTS (SELECT 1 FROM deposits WHERE deposit_id = $1)", need.deposit_id
            )
        )
    return View(
        hold=hold,
        available=on_hand,
        already_booked=booked,
        world=world,
        deposit_decided=decided,
    )


async def book(conn: Connection, owner: str, outcome: Outcome, cause: Envelope) -> None:
    """Write the outcome's entries, balances, hold and discrepancies (in the caller's tx)."""
    for journal_entry in outcome.entries:
        key = journal_entry.key
        entry_id = await conn.fetchval(
            "INSERT INTO journal (kind, reference, subreference, account_id, cause_event_id) "
            "VALUES ($1, $2, $3, $4, $5) RETURNING entry_id",
            key.kind.value,
            key.reference,
            key.subreference,
            owner,
            cause.event_id,
        )
        postings = journal_entry.postings
        await conn.execute(
            "INSERT INTO postings (entry_id, owner, asset, bucket, amount) "
            "SELECT $1, * FROM unnest($2::text[], $3::text[], $4::text[], $5::numeric[])",
            entry_id,
            [p.account.owner for p in postings],
            [p.account.asset for p in postings],
            [p.account.bucket.value for p in postings],
            [p.amount for p in postings],
        )
    await _update_balances(conn, outcome)
    if outcome.hold is not None:
        await _save_hold(conn, outcome.hold)
    await _record_deposits(conn, owner, outcome, cause)
    found = [e for e in outcome.events if isinstance(e, LedgerDiscrepancy)]
    if found:
        await conn.executemany(
            "INSERT INTO discrepancies (account_id, hold_id, asset, amount, detail, cause_event_id)"
            " VALUES ($1, $2, $3, $4, $5, $6)",
            [(owner, d.hold_id, d.asset, d.amount, d.detail, cause.event_id) for d in found],
        )


async def _record_deposits(conn: Connection, owner: str, outcome: Outcome, cause: Envelope) -> None:
    """Remember each deposit decided (credited or rejected): it is decided once."""
    rows = [
        (
            e.deposit_id,
            owner,
            e.venue,
            e.reference,
            "credited" if isinstance(e, DepositCredited) else "rejected",
            e.reason.value if isinstance(e, DepositRejected) else None,
            cause.event_id,
        )
        for e in outcome.events
        if isinstance(e, DepositCredited | DepositRejected)
    ]
    if rows:
        await conn.executemany(
            "INSERT INTO deposits (deposit_id, account_id, venue, reference, status, reason, "
            "cause_event_id) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            rows,
        )


async def _update_balances(conn: Connection, outcome: Outcome) -> None:
    """Guarded: a user bucket that would go below zero refuses the whole message."""
    changes = net_changes(outcome.entries)
    if not changes:
        return
    accounts = sorted(changes)
    columns = (
        [a.owner for a in accounts],
        [a.asset for a in accounts],
        [a.bucket.value for a in accounts],
    )
    await conn.execute(
        "INSERT INTO balances (owner, asset, bucket, is_user) "
        "SELECT o, a, b, b IN ('available', 'held') "
        "FROM unnest($1::text[], $2::text[], $3::text[]) AS t(o, a, b) "
        "ORDER BY o, a, b ON CONFLICT DO NOTHING",
        *columns,
    )
    updated = await conn.fetchval(
        "WITH changed AS ("
        "  UPDATE balances SET amount = balances.amount + t.delta"
        "  FROM unnest($1::text[], $2::text[], $3::text[], $4::numeric[]) AS t(o, a, b, delta)"
        "  WHERE balances.owner = t.o AND balances.asset = t.a AND balances.bucket = t.b"
        "    AND (NOT balances.is_user OR balances.amount + t.delta >= 0)"
        "  RETURNING 1) SELECT count(*) FROM changed",
        *columns,
        [changes[a] for a in accounts],
    )
    if updated != len(accounts):
        raise NegativeUserBalance(f"refused: a change would overdraw one of {accounts}")


async def _save_hold(conn: Connection, hold: Hold) -> None:
    await conn.execute(
        f"INSERT INTO holds ({HOLD_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) "
        "ON CONFLICT (hold_id) DO UPDATE SET remaining = EXCLUDED.remaining, "
        "status = EXCLUDED.status, updated_at = now()",
        hold.hold_id,
        hold.owner,
        hold.purpose.value,
        hold.asset,
        hold.venue,
        hold.amount,
        hold.remaining,
        hold.status.value,
    )


async def record_applied(conn: Connection, message: Envelope) -> None:
    """Remember the order the ledger applied messages in (replay folds them in that order)."""
    await conn.execute(
        "INSERT INTO applied_messages (event_id, type, account_id) VALUES ($1, $2, $3) "
        "ON CONFLICT (event_id) DO NOTHING",
        message.event_id,
        message.type,
        message.account_id,
    )


async def balance_changes(
    conn: Connection, owner: str, assets: Sequence[str]
) -> list[BalanceChanged]:
    """Bump each asset's version and read its balance: one `BalanceChanged` per asset."""
    if not assets:
        return []
    rows = await conn.fetch(
        "WITH bumped AS ("
        "  INSERT INTO balance_versions (account_id, asset, version)"
        "  SELECT $1, a, 1 FROM unnest($2::text[]) AS a ORDER BY a"
        "  ON CONFLICT (account_id, asset)"
        "  DO UPDATE SET version = balance_versions.version + 1"
        "  RETURNING asset, version)"
        " SELECT b.asset, b.version,"
        "  coalesce((SELECT amount FROM balances WHERE owner = $1 AND asset = b.asset"
        "            AND bucket = 'available'), 0) AS available,"
        "  coalesce((SELECT amount FROM balances WHERE owner = $1 AND asset = b.asset"
        "            AND bucket = 'held'), 0) AS held"
        " FROM bumped b ORDER BY b.asset",
        owner,
        list(assets),
    )
    return [
        BalanceChanged(
            asset=r["asset"], available=r["available"], held=r["held"], version=r["version"]
        )
        for r in rows
    ]


async def balances(conn: Connection, account_id: str) -> dict[str, tuple[Decimal, Decimal]]:
    """A user's balances: asset → (available, held)."""
    rows = await conn.fetch(
        "SELECT asset, bucket, amount FROM balances WHERE owner = $1 AND is_user ORDER BY asset",
        account_id,
    )
    found: dict[str, tuple[Decimal, Decimal]] = {}
    for r in rows:
        on_hand, reserved = found.get(r["asset"], (ZERO, ZERO))
        if r["bucket"] == Bucket.AVAILABLE.value:
            on_hand = r["amount"]
        else:
            reserved = r["amount"]
        found[r["asset"]] = (on_hand, reserved)
    return found


def hold_of(row: asyncpg.Record) -> Hold:
    return Hold(
        hold_id=row["hold_id"],
        owner=row["account_id"],
        purpose=HoldPurpose(row["purpose"]),
        asset=row["asset"],
        venue=row["venue"],
        amount=row["amount"],
        remaining=row["remaining"],
        status=HoldStatus(row["status"]),
    )
