"""The ledger's SQL for one message: load (and lock) what its decision reads; the balances it
reports. `store_book` writes what it decided."""

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
    View,
)
from services.ledger.domain.accounts import WORLD_OWNER
from shared.contracts.ledger import (
    BalanceChanged,
    HoldPurpose,
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
