"""The ledger's reads for a batch (`services.ledger.batch`): one query per table (locking what
may be spent), whatever the number of messages; `store_book` writes what they decided."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from services.ledger.domain import (
    AccountKey,
    Bucket,
    EntryKey,
    EntryKind,
    Hold,
    Needs,
)
from services.ledger.domain.accounts import WORLD_OWNER
from services.ledger.store import HOLD_COLUMNS, hold_of
from shared.db import Connection


@dataclass
class Loaded:
    """What a batch's decisions read, carried from one message to the next."""

    holds: dict[str, Hold]
    available: dict[tuple[str, str], Decimal]
    """(owner, asset) → the user's available balance, for the rows that exist."""
    booked: set[EntryKey]
    world: dict[str, Decimal]
    deposits: set[str]
    """Deposits credited or rejected already."""


async def load(conn: Connection, wanted: Sequence[tuple[str, Needs]]) -> Loaded:
    """Read (and lock, in a fixed order) what deciding each (owner, needs) reads."""
    hold_ids = sorted({n.hold_id for _, n in wanted if n.hold_id is not None})
    pairs = sorted({(owner, a) for owner, n in wanted for a in n.assets})
    keys = sorted(
        {n.entry_key for _, n in wanted if n.entry_key is not None},
        key=lambda k: (k.kind.value, k.reference, k.subreference),
    )
    world_assets = sorted({n.world_asset for _, n in wanted if n.world_asset is not None})
    deposit_ids = sorted({n.deposit_id for _, n in wanted if n.deposit_id is not None})
    holds: dict[str, Hold] = {}
    if hold_ids:
        rows = await conn.fetch(
            f"SELECT {HOLD_COLUMNS} FROM holds WHERE hold_id = ANY($1::text[]) "
            "ORDER BY hold_id FOR UPDATE",
            hold_ids,
        )
        holds = {r["hold_id"]: hold_of(r) for r in rows}
    available: dict[tuple[str, str], Decimal] = {}
    if pairs:
        rows = await conn.fetch(
            "SELECT b.owner, b.asset, b.amount FROM balances b "
            "JOIN unnest($1::text[], $2::text[]) AS t(o, a) ON b.owner = t.o AND b.asset = t.a "
            "WHERE b.bucket = 'available' ORDER BY b.owner, b.asset FOR UPDATE OF b",
            [o for o, _ in pairs],
            [a for _, a in pairs],
        )
        available = {(r["owner"], r["asset"]): r["amount"] for r in rows}
    booked: set[EntryKey] = set()
    if keys:
        rows = await conn.fetch(
            "SELECT j.kind, j.reference, j.subreference FROM journal j "
            "JOIN unnest($1::text[], $2::text[], $3::text[]) AS t(k, r, s) "
            "ON j.kind = t.k AND j.reference = t.r AND j.subreference = t.s",
            [k.kind.value for k in keys],
            [k.reference for k in keys],
            [k.subreference for k in keys],
        )
        booked = {EntryKey(EntryKind(r["kind"]), r["reference"], r["subreference"]) for r in rows}
    world: dict[str, Decimal] = {}
    if world_assets:  # locked: concurrent deposits cannot both pass the bound
        rows = await conn.fetch(
            "SELECT asset, amount FROM balances WHERE owner = $1 AND bucket = $2 "
            "AND asset = ANY($3::text[]) ORDER BY asset FOR UPDATE",
            WORLD_OWNER,
            Bucket.WORLD.value,
            world_assets,
        )
        world = {r["asset"]: r["amount"] for r in rows}
    deposits: set[str] = set()
    if deposit_ids:
        rows = await conn.fetch(
            "SELECT deposit_id FROM deposits WHERE deposit_id = ANY($1::text[])", deposit_ids
        )
        deposits = {r["deposit_id"] for r in rows}
    return Loaded(holds, available, booked, world, deposits)


async def user_balances(
    conn: Connection, pairs: Sequence[tuple[str, str]], versioned: Sequence[tuple[str, str]]
) -> tuple[dict[AccountKey, Decimal], dict[tuple[str, str], int]]:
    """The available and held balances of each (owner, asset) in `pairs` (locked), and the
    balance version of each in `versioned`."""
    amounts: dict[AccountKey, Decimal] = {}
    if pairs:
        rows = await conn.fetch(
            "SELECT b.owner, b.asset, b.bucket, b.amount FROM balances b "
            "JOIN unnest($1::text[], $2::text[]) AS t(o, a) ON b.owner = t.o AND b.asset = t.a "
            "WHERE b.is_user ORDER BY b.owner, b.asset, b.bucket FOR UPDATE OF b",
            [o for o, _ in pairs],
            [a for _, a in pairs],
        )
        amounts = {
            AccountKey(r["owner"], r["asset"], Bucket(r["bucket"])): r["amount"] for r in rows
        }
    versions: dict[tuple[str, str], int] = {}
    if versioned:
        rows = await conn.fetch(
            "SELECT v.account_id, v.asset, v.version FROM balance_versions v "
            "JOIN unnest($1::text[], $2::text[]) AS t(o, a) ON v.account_id = t.o "
            "AND v.asset = t.a",
            [o for o, _ in versioned],
            [a for _, a in versioned],
        )
        versions = {(r["account_id"], r["asset"]): r["version"] for r in rows}
    return amounts, versions


async def save_versions(conn: Connection, versions: dict[tuple[str, str], int]) -> None:
    if not versions:
        return
    keys = sorted(versions)
    await conn.execute(
        "INSERT INTO balance_versions (account_id, asset, version) "
        "SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[]) "
        "ON CONFLICT (account_id, asset) DO UPDATE SET version = EXCLUDED.version",
        [o for o, _ in keys],
        [a for _, a in keys],
        [versions[k] for k in keys],
    )
