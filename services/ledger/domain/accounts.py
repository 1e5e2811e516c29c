"""Accounts, postings and journal entries: the double-entry vocabulary.

An account is (owner, asset, bucket). Users own two buckets per asset,
`available` and `held`, which can never go below zero. System accounts (the
outside world, each venue's custody and fees, suspense for what could not be
charged) are counterparties and may go negative: a deposit leaves `world` at
minus what came in. Every entry's postings sum to zero per asset, so the sum of
every account of an asset is always zero.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from services.ledger.errors import UnbalancedEntry
from shared.money import exact

ZERO = Decimal(0)
WORLD_OWNER = "world"
SUSPENSE_OWNER = "suspense"
UNKNOWN_VENUE = "unknown"


class Bucket(StrEnum):
    AVAILABLE = "available"
    HELD = "held"
    WORLD = "world"
    CUSTODY = "custody"
    FEES = "fees"
    SUSPENSE = "suspense"


USER_BUCKETS = frozenset({Bucket.AVAILABLE, Bucket.HELD})


@dataclass(frozen=True, order=True)
class AccountKey:
    owner: str
    asset: str
    bucket: Bucket

    @property
    def is_user(self) -> bool:
        return self.bucket in USER_BUCKETS


def available(user: str, asset: str) -> AccountKey:
    return AccountKey(user, asset, Bucket.AVAILABLE)


def held(user: str, asset: str) -> AccountKey:
    return AccountKey(user, asset, Bucket.HELD)


def world(asset: str) -> AccountKey:
    """Where deposits come from and withdrawals go."""
    return AccountKey(WORLD_OWNER, asset, Bucket.WORLD)


def custody(venue: str, asset: str) -> AccountKey:
    """What the venue holds for our users: the counterparty of every trade."""
    return AccountKey(f"venue:{venue}", asset, Bucket.CUSTODY)


def fees(venue: str, asset: str) -> AccountKey:
    return AccountKey(f"fees:{venue}", asset, Bucket.FEES)


def suspense(asset: str) -> AccountKey:
    """What a user owed but did not have: booked here, raised as a discrepancy, never lost."""
    return AccountKey(SUSPENSE_OWNER, asset, Bucket.SUSPENSE)


@dataclass(frozen=True)
class Posting:
    account: AccountKey
    amount: Decimal
    """Signed: positive adds to the account's balance, negative takes from it."""


def move(source: AccountKey, destination: AccountKey, amount: Decimal) -> tuple[Posting, ...]:
    """Two postings moving `amount` from `source` to `destination`; nothing when it is zero."""
    if source.asset != destination.asset:
        raise UnbalancedEntry(f"cannot move between {source.asset} and {destination.asset}")
    if amount == 0:
        return ()
    return (Posting(source, -amount), Posting(destination, amount))


class EntryKind(StrEnum):
    DEPOSIT = "deposit"
    HOLD = "hold"
    FILL = "fill"
    RELEASE = "release"
    WITHDRAWAL = "withdrawal"


@dataclass(frozen=True)
class EntryKey:
    """The natural key of an entry: the journal books each one once (a unique constraint)."""

    kind: EntryKind
    reference: str
    subreference: str = ""


@dataclass(frozen=True)
class JournalEntry:
    key: EntryKey
    postings: tuple[Posting, ...]

    def __post_init__(self) -> None:
        if len(self.postings) < 2:
            raise UnbalancedEntry(f"{self.key}: an entry needs at least two postings")
        if any(p.amount == 0 for p in self.postings):
            raise UnbalancedEntry(f"{self.key}: a posting of zero")
        totals: dict[str, Decimal] = defaultdict(Decimal)
        with exact():
            for posting in self.postings:
                totals[posting.account.asset] += posting.amount
        unbalanced = {asset: total for asset, total in totals.items() if total != 0}
        if unbalanced:
            raise UnbalancedEntry(f"{self.key}: postings do not sum to zero: {unbalanced}")


def entry(key: EntryKey, postings: Iterable[Posting]) -> JournalEntry | None:
    """An entry of the non-zero postings, or None when nothing moves."""
    kept = tuple(p for p in postings if p.amount != 0)
    return JournalEntry(key, kept) if kept else None


def net_changes(entries: Iterable[JournalEntry]) -> dict[AccountKey, Decimal]:
    """The change of each account's balance over `entries` (accounts that end unchanged omitted)."""
    changes: dict[AccountKey, Decimal] = defaultdict(Decimal)
    with exact():
        for journal_entry in entries:
            for posting in journal_entry.postings:
                changes[posting.account] += posting.amount
    return {account: delta for account, delta in sorted(changes.items()) if delta != 0}


def touched_user_assets(entries: Iterable[JournalEntry], user: str) -> list[str]:
    """The assets of `user` whose available or held bucket some posting moved."""
    return sorted(
        {
            p.account.asset
            for e in entries
            for p in e.postings
            if p.account.is_user and p.account.owner == user
        }
    )
