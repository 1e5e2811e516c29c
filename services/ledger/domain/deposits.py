"""Deposits: credit once, or refuse for good with a reason; never drop one, never overflow.

An admin deposit (`RecordDeposit`) is decided once per `deposit_id`: credited, or rejected
with a `DepositRejected` (terminal, nothing moves) when another deposit already booked its
(venue, reference), when it is larger than `MAX_DEPOSIT`, or when booking it would take the
user's available balance or `world` (minus every deposit of the asset) past `BALANCE_LIMIT`.
So no sum the ledger keeps can outgrow its NUMERIC(38, 18) column through deposits.

A deposit a venue reports (`DepositDetected`) is real money with no one to answer: one that
would pass the bound is refused (`BeyondBalanceLimit`, the message is parked) for an operator.
"""

from __future__ import annotations

from decimal import Decimal

from services.ledger.domain.accounts import (
    EntryKey,
    EntryKind,
    JournalEntry,
    available,
    move,
    world,
)
from services.ledger.domain.outcomes import NOTHING, Outcome
from services.ledger.errors import BeyondBalanceLimit
from shared.contracts.execution import DepositDetected
from shared.contracts.ledger import DepositCredited, DepositRejected
from shared.contracts.reasons import DepositRejectReason
from shared.contracts.wallet import RecordDeposit
from shared.money import BALANCE_LIMIT, MAX_DEPOSIT, exact, within_books


def deposit_key(payload: RecordDeposit | DepositDetected) -> EntryKey:
    """The natural key the journal books a deposit under: (venue, reference or txid)."""
    reference = payload.reference if isinstance(payload, RecordDeposit) else payload.txid
    return EntryKey(EntryKind.DEPOSIT, payload.venue, reference)


def over_limit(
    amount: Decimal, user_available: Decimal, world_balance: Decimal
) -> DepositRejectReason | None:
    """Why crediting `amount` cannot be booked, or None when it fits the books."""
    if amount > MAX_DEPOSIT:
        return DepositRejectReason.AMOUNT_ABOVE_MAX
    with exact():
        user_after, world_after = user_available + amount, world_balance - amount
    if not (within_books(user_after) and within_books(world_after)):
        return DepositRejectReason.BALANCE_LIMIT
    return None


def decide_deposit(
    owner: str,
    payload: RecordDeposit | DepositDetected,
    *,
    decided: bool,
    already_booked: bool,
    user_available: Decimal,
    world_balance: Decimal,
) -> Outcome:
    """`decided`: this deposit id has an outcome already; `already_booked`: its key has."""
    if isinstance(payload, DepositDetected):
        if already_booked:
            return NOTHING  # the venue reported the same transaction again
        if over_limit(payload.amount, user_available, world_balance) is not None:
            raise BeyondBalanceLimit(
                f"detected deposit {payload.txid} of {payload.amount} {payload.asset} would "
                f"take a balance past {BALANCE_LIMIT:f}"
            )
        return _credit(owner, payload)
    if decided:
        return NOTHING  # the same deposit again (a new event for it): decided once
    if already_booked:
        return _reject(
            payload,
            DepositRejectReason.REFERENCE_TAKEN,
            f"reference {payload.reference!r} at {payload.venue} was credited by another deposit",
        )
    reason = over_limit(payload.amount, user_available, world_balance)
    if reason is not None:
        return _reject(
            payload,
            reason,
            f"{payload.amount} {payload.asset} cannot be booked: a deposit is at most "
            f"{MAX_DEPOSIT:f} and no balance may pass {BALANCE_LIMIT:f}",
        )
    credited = DepositCredited(
        deposit_id=payload.deposit_id,
        asset=payload.asset,
        amount=payload.amount,
        venue=payload.venue,
        reference=payload.reference,
    )
    return Outcome(entries=_credit(owner, payload).entries, events=(credited,))


def _credit(owner: str, payload: RecordDeposit | DepositDetected) -> Outcome:
    credit = move(world(payload.asset), available(owner, payload.asset), payload.amount)
    return Outcome(entries=(JournalEntry(deposit_key(payload), credit),))


def _reject(payload: RecordDeposit, reason: DepositRejectReason, detail: str) -> Outcome:
    rejected = DepositRejected(
        deposit_id=payload.deposit_id,
        asset=payload.asset,
        amount=payload.amount,
        venue=payload.venue,
        reference=payload.reference,
        reason=reason,
        detail=detail,
    )
    return Outcome(events=(rejected,))
