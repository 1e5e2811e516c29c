"""Rebuild the ledger from the event log and compare it with the live one.

`cryptoorch replay ledger` reads the messages the ledger consumes (from the
broker's topics or the producers' outbox logs) with the fast decoder
(`replay_wire.read_log`), puts them in the order the live ledger applied them
(`application_sequence`, `in_live_order`: holds race for money, so order
matters), folds them (`Tally.fold`: plain arithmetic for the common messages, the
same pure decisions for the rest), writes the result into a scratch schema
(`write_scratch`), and prints `differences` from the live balances.

`fold` is the same fold over decoded envelopes through `Book`, the domain's objects: the tests
hold the two equal.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal

from services.ledger.app import MIGRATIONS
from services.ledger.book import Book
from services.ledger.domain import ZERO, AccountKey, Bucket, LedgerPolicy, needs
from services.ledger.domain.accounts import USER_BUCKETS
from services.ledger.errors import LedgerError
from services.ledger.replay_wire import Logged
from services.ledger.tally import Tally
from shared.contracts.envelope import Envelope
from shared.db import Connection

_SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


@dataclass(frozen=True)
class ReplayMismatch:
    """A bucket whose live balance is not what replaying the topics rebuilds."""

    account: AccountKey
    live: Decimal
    rebuilt: Decimal


def fold(messages: Iterable[Envelope], policy: LedgerPolicy | None = None) -> Book:
    """The ledger rebuilt from `messages`, applied in the order given.

    A redelivered event id is skipped (as the live inbox does); a message the
    ledger refuses is kept in `book.refused` (the live one dead-letters it).
    """
    book = Book(policy)
    seen: set[uuid.UUID] = set()
    for message in messages:
        if message.event_id in seen:
            continue
        seen.add(message.event_id)
        try:
            book.apply(message)
        except LedgerError as exc:
            book.refused.append((message, str(exc)))
    return book


async def application_order(conn: Connection) -> dict[uuid.UUID, int]:
    """event id → position in which the live ledger applied it."""
    rows = await conn.fetch("SELECT event_id, seq FROM applied_messages")
    return {r["event_id"]: r["seq"] for r in rows}


def in_application_order(
    messages: Iterable[Envelope], order: Mapping[uuid.UUID, int]
) -> list[Envelope]:
    """Messages the live ledger applied in its order, then those it did not, in the given order.

    Messages the ledger ignores are left out.
    """
    relevant = [m for m in messages if needs(m.payload) is not None]
    applied = sorted((m for m in relevant if m.event_id in order), key=lambda m: order[m.event_id])
    return applied + [m for m in relevant if m.event_id not in order]


async def application_sequence(conn: Connection) -> dict[str, int]:
    """event id (canonical text) → position in which the live ledger applied it, streamed."""
    chunks: list[bytes] = []

    async def keep(chunk: bytes) -> None:
        chunks.append(chunk)

    await conn.copy_from_query("SELECT event_id, seq FROM applied_messages", output=keep)
    lines = b"".join(chunks).decode().splitlines()
    return {event_id: int(seq) for event_id, seq in (line.split("\t") for line in lines)}


async def dead_lettered(conn: Connection) -> set[str]:
    """The event ids (canonical text) the live ledger dead-lettered."""
    query = "SELECT event_id::text FROM inbox WHERE outcome = 'dead_lettered'"
    return {r[0] for r in await conn.fetch(query)}


def in_live_order(messages: list[Logged], order: Mapping[str, int]) -> list[Logged]:
    """`in_application_order` for the fast decoder's messages (the ignored ones are gone)."""
    log = sorted(messages, key=lambda m: m.when)
    applied = sorted((m for m in log if m.event_id in order), key=lambda m: order[m.event_id])
    return applied + [m for m in log if m.event_id not in order]


async def live_balances(conn: Connection) -> dict[AccountKey, Decimal]:
    rows = await conn.fetch("SELECT owner, asset, bucket, amount FROM balances")
    return {AccountKey(r["owner"], r["asset"], Bucket(r["bucket"])): r["amount"] for r in rows}


def differences(
    live: Mapping[AccountKey, Decimal], rebuilt: Mapping[AccountKey, Decimal]
) -> list[ReplayMismatch]:
    """Every account whose balance differs (a missing account counts as zero)."""
    return [
        ReplayMismatch(account, live.get(account, ZERO), rebuilt.get(account, ZERO))
        for account in sorted(live.keys() | rebuilt.keys())
        if live.get(account, ZERO) != rebuilt.get(account, ZERO)
    ]


async def write_scratch(conn: Connection, schema: str, book: Tally) -> None:
    """Create `schema` with the ledger's tables and COPY the rebuilt journal, balances, holds."""
    if not _SCHEMA_NAME.match(schema) or schema == "public":
        raise ValueError(f"not a usable scratch schema name: {schema!r}")
    await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    await conn.execute(f'CREATE SCHEMA "{schema}"')
    async with conn.transaction():
        await conn.execute(f'SET LOCAL search_path TO "{schema}"')
        for path in sorted(MIGRATIONS.glob("*.sql")):
            await conn.execute(path.read_text())
    journal = [
        (n, kind, reference, subreference, owner, uuid.UUID(cause))
        for n, ((kind, reference, subreference), owner, cause, _) in enumerate(
            book.journal, start=1
        )
    ]
    postings = [
        (n, owner, asset, bucket, amount) for n, (owner, asset, bucket), amount in book.postings()
    ]
    balances = [
        (owner, asset, bucket, bucket in USER_BUCKETS, amount)
        for (owner, asset, bucket), amount in book.balances.items()
    ]
    holds = [
        (hold_id, h.owner, h.purpose.value, h.asset, h.venue, h.amount, h.remaining, h.status.value)
        for hold_id, h in book.holds.items()
    ]
    async with conn.transaction():
        for table, columns, records in (
            (
                "journal",
                ("entry_id", "kind", "reference", "subreference", "account_id", "cause_event_id"),
                journal,
            ),
            ("postings", ("entry_id", "owner", "asset", "bucket", "amount"), postings),
            ("balances", ("owner", "asset", "bucket", "is_user", "amount"), balances),
            (
                "holds",
                (
                    "hold_id",
                    "account_id",
                    "purpose",
                    "asset",
                    "venue",
                    "amount",
                    "remaining",
                    "status",
                ),
                holds,
            ),
        ):
            await conn.copy_records_to_table(
                table, records=records, columns=list(columns), schema_name=schema
            )
