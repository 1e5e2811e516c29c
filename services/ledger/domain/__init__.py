"""The ledger's pure domain: no database, no broker, no clock."""

from __future__ import annotations

from services.ledger.domain.accounts import (
    ZERO,
    AccountKey,
    Bucket,
    EntryKey,
    EntryKind,
    JournalEntry,
    Posting,
    net_changes,
    touched_user_assets,
)
from services.ledger.domain.decide import LedgerPolicy, Needs, View, decide, needs
from services.ledger.domain.holds import Hold, HoldStatus, order_hold_size
from services.ledger.domain.outcomes import Outcome

__all__ = [
    "ZERO",
    "AccountKey",
    "Bucket",
    "EntryKey",
    "EntryKind",
    "Hold",
    "HoldStatus",
    "JournalEntry",
    "LedgerPolicy",
    "Needs",
    "Outcome",
    "Posting",
    "View",
    "decide",
    "needs",
    "net_changes",
    "order_hold_size",
    "touched_user_assets",
]
