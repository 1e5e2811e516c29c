"""What a decision returns, and the two shapes most decisions share: settle, release."""

from __future__ import annotations

from dataclasses import dataclass

from services.ledger.domain.accounts import EntryKey, EntryKind, JournalEntry, available, held, move
from services.ledger.domain.holds import Hold, HoldStatus, void_hold
from services.ledger.domain.settlement import Leg, Settlement
from shared.contracts.envelope import Payload
from shared.contracts.ledger import (
    HoldPurpose,
    HoldReleased,
    HoldSettled,
    LedgerDiscrepancy,
)
from shared.money import shortest


@dataclass(frozen=True)
class Outcome:
    entries: tuple[JournalEntry, ...] = ()
    """Booked in this order, in one transaction."""
    hold: Hold | None = None
    """The new state of the message's hold, when it changes."""
    events: tuple[Payload, ...] = ()
    """Emitted in this order (the caller adds `BalanceChanged` after them)."""


NOTHING = Outcome()


def close_with_release(hold: Hold, reason: str) -> Outcome:
    """Close an open hold, moving what is left of it back to available."""
    postings = move(held(hold.owner, hold.asset), available(hold.owner, hold.asset), hold.remaining)
    key = EntryKey(EntryKind.RELEASE, hold.hold_id)
    entries = (JournalEntry(key, postings),) if postings else ()
    released = HoldReleased(
        hold_id=hold.hold_id, asset=hold.asset, amount=hold.remaining, reason=reason
    )
    return Outcome(entries=entries, hold=hold.close(), events=(released,))


@dataclass(frozen=True)
class Charge:
    """A trade or sent withdrawal about to be booked against a hold (or what is left of one)."""

    owner: str
    hold_id: str
    purpose: HoldPurpose
    hold: Hold | None
    legs: list[Leg]
    settlement: Settlement
    booked: JournalEntry | None
    fill_id: str | None
    release_reason: str | None
    """Set when this charge ends the order or withdrawal: the rest of the hold is released."""


def charged_outcome(charge: Charge) -> Outcome:
    """Settle part of the hold, report what did not fit, and release the rest when terminal."""
    hold, settlement = charge.hold, charge.settlement
    entries = [charge.booked] if charge.booked is not None else []
    events: list[Payload] = []
    new_hold: Hold | None = None
    if hold is not None and hold.is_open:
        new_hold = hold.settle(settlement.from_hold)
        events.append(
            HoldSettled(
                hold_id=charge.hold_id,
                asset=hold.asset,
                amount=settlement.from_hold,
                remaining=new_hold.remaining,
                fill_id=charge.fill_id,
            )
        )
    if hold is None or hold.status in (HoldStatus.REJECTED, HoldStatus.VOID):
        first_debit = next(leg for leg in charge.legs if leg.user_amount < 0)
        events.append(
            LedgerDiscrepancy(
                hold_id=charge.hold_id,
                asset=first_debit.asset,
                amount=-first_debit.user_amount,
                detail=f"{charge.purpose.value} {charge.hold_id} was executed but never held",
            )
        )
    for asset, short in settlement.shortfalls.items():
        events.append(
            LedgerDiscrepancy(
                hold_id=charge.hold_id,
                asset=asset,
                amount=short,
                detail=f"{shortest(short)} {asset} covered by neither the hold nor available; "
                "booked to suspense",
            )
        )
    if charge.release_reason is not None:
        if new_hold is not None:
            release = close_with_release(new_hold, charge.release_reason)
            entries += release.entries
            events += release.events
            new_hold = release.hold
        elif hold is None:
            new_hold = void_hold(charge.hold_id, charge.owner, charge.purpose)
    return Outcome(entries=tuple(entries), hold=new_hold, events=tuple(events))
