"""The shapes replay folds the ledger in: plain tuples and a slotted hold, not the domain's
objects (`Tally` builds none of them per message; see `services.ledger.tally`).

An account is `(owner, asset, bucket)`, an entry's key `(kind, reference, subreference)`,
a booked journal row `(key, owner, cause event id, postings)`. `row_of` turns an entry the
domain's `decide` made into the same shape, so both paths book alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from services.ledger.domain import Bucket, Hold, HoldStatus, JournalEntry
from services.ledger.domain.accounts import USER_BUCKETS
from shared.contracts.ledger import HoldPurpose

Account = tuple[str, str, str]
"""(owner, asset, bucket)."""
Key = tuple[str, str, str]
"""An entry's natural key: (kind, reference, subreference)."""
Posting = tuple[Account, Decimal]
Row = tuple[Key, tuple[Posting, ...]]
"""An entry about to be booked."""
BookedRow = tuple[Key, str, str, tuple[Posting, ...]]
"""A booked entry: (key, owner, cause event id, postings)."""

AVAILABLE, HELD, WORLD = Bucket.AVAILABLE.value, Bucket.HELD.value, Bucket.WORLD.value
CUSTODY, FEES = Bucket.CUSTODY.value, Bucket.FEES.value
USER = frozenset(b.value for b in USER_BUCKETS)
OPEN, CLOSED, VOID = HoldStatus.OPEN, HoldStatus.CLOSED, HoldStatus.VOID


@dataclass(slots=True)
class HoldRow:
    owner: str
    purpose: HoldPurpose
    asset: str
    venue: str
    amount: Decimal
    remaining: Decimal
    status: HoldStatus

    def as_hold(self, hold_id: str) -> Hold:
        return Hold(
            hold_id,
            self.owner,
            self.purpose,
            self.asset,
            self.venue,
            self.amount,
            self.remaining,
            self.status,
        )

    @classmethod
    def of(cls, hold: Hold) -> HoldRow:
        return cls(
            hold.owner,
            hold.purpose,
            hold.asset,
            hold.venue,
            hold.amount,
            hold.remaining,
            hold.status,
        )


def row_of(entry: JournalEntry) -> Row:
    k = entry.key
    postings = tuple(
        ((p.account.owner, p.account.asset, p.account.bucket.value), p.amount)
        for p in entry.postings
    )
    return (k.kind.value, k.reference, k.subreference), postings
