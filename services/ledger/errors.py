"""The ledger's exceptions. A raised error refuses the message: the inbox retries, then parks it."""

from __future__ import annotations


class LedgerError(Exception):
    """Root of every error the ledger raises on purpose."""


class UnbalancedEntry(LedgerError):
    """A journal entry whose postings do not sum to zero per asset: a bug, never booked."""


class NegativeUserBalance(LedgerError):
    """A change would take a user's available or held bucket below zero: refused, never booked."""


class ForeignHold(LedgerError):
    """A message names a hold that belongs to another user: refused rather than guessed at."""


class MalformedMessage(LedgerError):
    """A message the ledger cannot read money from (an unknown side, a symbol not BASE/QUOTE)."""


class BeyondBalanceLimit(LedgerError):
    """Booking would take a balance past `shared.money.BALANCE_LIMIT` (what its column holds,
    with headroom): refused rather than overflowing the column."""
