"""The ledger in memory: the same decisions as the database handler, folded over messages.

Replay rebuilds balances with it, and the property tests drive it with
arbitrary message sequences. It books exactly what the database store books:
an entry per natural key once, holds, balance versions, and it refuses a change
that would take a user bucket below zero.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from services.ledger.domain import (
    ZERO,
    AccountKey,
    Bucket,
    EntryKey,
    Hold,
    JournalEntry,
    LedgerPolicy,
    View,
    decide,
    needs,
    net_changes,
    touched_user_assets,
)
from services.ledger.domain.accounts import available, held, world
from services.ledger.errors import LedgerError, NegativeUserBalance
from shared.contracts.envelope import Envelope, Payload
from shared.contracts.ledger import (
    BalanceChanged,
    DepositCredited,
    DepositRejected,
    LedgerDiscrepancy,
)
from shared.money import exact


@dataclass(frozen=True)
class BookedEntry:
    entry: JournalEntry
    owner: str
    cause_event_id: uuid.UUID


class Book:
    def __init__(self, policy: LedgerPolicy | None = None) -> None:
        self.policy = policy or LedgerPolicy()
        self.balances: dict[AccountKey, Decimal] = {}
        self.holds: dict[str, Hold] = {}
        self.journal: list[BookedEntry] = []
        self.booked: set[EntryKey] = set()
        self.deposits: set[str] = set()
        """The deposit ids decided (credited or rejected)."""
        self.versions: dict[tuple[str, str], int] = {}
        self.discrepancies: list[tuple[str, LedgerDiscrepancy]] = []
        self.applied = 0
        self.refused: list[tuple[Envelope, str]] = []
        """Messages a fold refused (what the live ledger would dead-letter), with why."""

    def apply(self, message: Envelope) -> list[Payload]:
        """Apply one message; return the events the live ledger would emit for it."""
        with exact():  # as exact as PostgreSQL's NUMERIC
            return self._apply(message)

    def _apply(self, message: Envelope) -> list[Payload]:
        need = needs(message.payload)
        if need is None:
            return []
        owner = message.account_id
        view = View(
            hold=self.holds.get(need.hold_id) if need.hold_id is not None else None,
            available={a: self.balance(available(owner, a)) for a in need.assets},
            already_booked=need.entry_key is not None and need.entry_key in self.booked,
            world=self.balance(world(need.world_asset)) if need.world_asset else ZERO,
            deposit_decided=need.deposit_id in self.deposits,
        )
        outcome = decide(owner, message.payload, view, self.policy)
        self._book(outcome.entries, owner, message.event_id)
        if outcome.hold is not None:
            self.holds[outcome.hold.hold_id] = outcome.hold
        self.deposits.update(
            event.deposit_id
            for event in outcome.events
            if isinstance(event, DepositCredited | DepositRejected)
        )
        self.discrepancies += [
            (owner, event) for event in outcome.events if isinstance(event, LedgerDiscrepancy)
        ]
        self.applied += 1
        return [*outcome.events, *self._balance_changes(owner, outcome.entries)]

    def apply_all(self, messages: Iterable[Envelope]) -> None:
        for message in messages:
            self.apply(message)

    def balance(self, account: AccountKey) -> Decimal:
        return self.balances.get(account, ZERO)

    def user_balances(self, user: str) -> dict[str, tuple[Decimal, Decimal]]:
        """asset → (available, held), like `store.balances`."""
        found: dict[str, tuple[Decimal, Decimal]] = {}
        for account, amount in self.balances.items():
            if account.owner != user or not account.is_user:
                continue
            avail, hold = found.get(account.asset, (ZERO, ZERO))
            found[account.asset] = (
                (amount, hold) if account.bucket is Bucket.AVAILABLE else (avail, amount)
            )
        return found

    def violations(self) -> list[str]:
        """The invariants of `services.ledger.invariants`, over this book; empty when all hold."""
        with exact():
            return self._violations()

    def _violations(self) -> list[str]:
        problems: list[str] = []
        per_asset: dict[str, Decimal] = defaultdict(Decimal)
        for account, amount in self.balances.items():
            per_asset[account.asset] += amount
            if account.is_user and amount < 0:
                problems.append(f"{account} is negative: {amount}")
        problems += [f"{a} sums to {t}, not zero" for a, t in per_asset.items() if t != 0]
        open_holds: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
        for hold in self.holds.values():
            if hold.is_open:
                open_holds[(hold.owner, hold.asset)] += hold.remaining
            elif hold.remaining != 0:
                problems.append(f"hold {hold.hold_id} is {hold.status} with {hold.remaining} left")
        held_rows = {
            (a.owner, a.asset): v for a, v in self.balances.items() if a.bucket is Bucket.HELD
        }
        for key in held_rows.keys() | open_holds.keys():
            if held_rows.get(key, ZERO) != open_holds.get(key, ZERO):
                problems.append(f"held {key} is {held_rows.get(key)}, open holds {open_holds[key]}")
        replayed = net_changes(booked.entry for booked in self.journal)
        for account in replayed.keys() | self.balances.keys():
            if replayed.get(account, ZERO) != self.balance(account):
                problems.append(f"{account} balance differs from the sum of its postings")
        return problems

    def _book(self, entries: tuple[JournalEntry, ...], owner: str, cause: uuid.UUID) -> None:
        """All or nothing, like the database transaction."""
        for journal_entry in entries:
            if journal_entry.key in self.booked:
                raise LedgerError(f"{journal_entry.key} booked twice")
        changes = net_changes(entries)
        updated = {account: self.balance(account) + delta for account, delta in changes.items()}
        below_zero = [a for a, amount in updated.items() if a.is_user and amount < 0]
        if below_zero:
            raise NegativeUserBalance(f"would overdraw {below_zero}")
        self.balances.update(updated)
        self.journal += [BookedEntry(e, owner, cause) for e in entries]
        self.booked.update(e.key for e in entries)

    def _balance_changes(self, owner: str, entries: tuple[JournalEntry, ...]) -> list[Payload]:
        changes: list[Payload] = []
        for asset in touched_user_assets(entries, owner):
            version = self.versions.get((owner, asset), 0) + 1
            self.versions[(owner, asset)] = version
            changes.append(
                BalanceChanged(
                    asset=asset,
                    available=self.balance(available(owner, asset)),
                    held=self.balance(held(owner, asset)),
                    version=version,
                )
            )
        return changes
