"""Reconciliation with a venue: the ledger's totals of one account at one venue against what the
venue reports it holds (`VenueBalancesReported`). Pure: the caller loads both sides.

The ledger's total of an asset at a venue is available + held of the postings attributed to that
venue (deposits by their venue, trades and withdrawals by their hold's venue). Holds moving
money between available and held change no total, so an order resting on the book agrees.

What counts as a discrepancy:
- only a difference beyond `tolerance` (absolute, per asset; an asset missing on one side is 0);
- by default only a shortfall: the venue holds less than the ledger says (money the ledger would
  let the user spend is not there). A surplus (the venue holds more) is what a user kept at the
  venue before connecting their key, or a deposit not yet detected; it is counted only when
  `surplus_counts`;
- only when it persists over `confirmations` consecutive reports compared (a transient, such as a
  deposit credited between two polls, is gone by the next report). Reports that arrive while the
  account has an open hold at that venue are not compared at all (a fill or a withdrawal may be
  at the venue and not yet booked), and leave the count as it was.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from services.ledger.domain.accounts import ZERO

DEFAULT_TOLERANCE = Decimal("0.00000001")


@dataclass(frozen=True)
class ReconcilePolicy:
    tolerance: Decimal = DEFAULT_TOLERANCE
    confirmations: int = 2
    surplus_counts: bool = False


@dataclass(frozen=True)
class VenueDifference:
    """An asset whose ledger total and venue-reported total disagree."""

    asset: str
    ledger_total: Decimal
    venue_total: Decimal

    @property
    def difference(self) -> Decimal:
        """`venue_total - ledger_total`: negative when the venue holds less."""
        return self.venue_total - self.ledger_total

    @property
    def is_shortfall(self) -> bool:
        return self.difference < 0


def compare(
    ledger: Mapping[str, Decimal], venue: Mapping[str, Decimal], tolerance: Decimal
) -> list[VenueDifference]:
    """Every asset whose totals differ by more than `tolerance`, by asset (missing means 0)."""
    found: list[VenueDifference] = []
    for asset in sorted(ledger.keys() | venue.keys()):
        ours, theirs = ledger.get(asset, ZERO), venue.get(asset, ZERO)
        if abs(theirs - ours) > tolerance:
            found.append(VenueDifference(asset, ours, theirs))
    return found


@dataclass(frozen=True)
class Verdict:
    streak: int
    """Consecutive compared reports that disagreed, this one included (0: it agreed)."""
    discrepancies: tuple[VenueDifference, ...]
    """What to raise now: non-empty only on the report that confirms a disagreement."""


def judge(
    ledger: Mapping[str, Decimal],
    venue: Mapping[str, Decimal],
    streak: int,
    policy: ReconcilePolicy,
) -> Verdict:
    """One compared report, given how many before it disagreed in a row."""
    differences = compare(ledger, venue, policy.tolerance)
    alarming = tuple(d for d in differences if d.is_shortfall or policy.surplus_counts)
    if not alarming:
        return Verdict(0, ())
    streak += 1
    return Verdict(streak, alarming if streak == policy.confirmations else ())
