"""What one consumed message does to the ledger: a pure function of the message and a view.

`needs(payload)` says which state a decision reads (a hold, some available
balances, whether a natural key is already booked); the caller loads and locks
exactly that into a `View`; `decide` returns the entries to book, the hold's
new state and the events to emit. The database handler and the in-memory book
(tests, replay) both run this same function, so they cannot disagree.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal

from services.ledger.domain.accounts import (
    UNKNOWN_VENUE,
    ZERO,
    EntryKey,
    EntryKind,
    JournalEntry,
    available,
    entry,
    held,
    move,
    world,
)
from services.ledger.domain.deposits import decide_deposit, deposit_key
from services.ledger.domain.holds import (
    Hold,
    HoldStatus,
    order_hold_asset,
    order_hold_size,
    void_hold,
)
from services.ledger.domain.outcomes import (
    NOTHING,
    Charge,
    Outcome,
    charged_outcome,
    close_with_release,
)
from services.ledger.domain.settlement import Leg, fill_legs, settle, symbol_assets
from services.ledger.errors import ForeignHold
from shared.contracts.decisions import OrderApproved, WithdrawalApproved
from shared.contracts.envelope import Payload
from shared.contracts.execution import (
    DepositDetected,
    FillStatus,
    OrderCancelled,
    OrderFailed,
    OrderFilled,
    WithdrawalFailed,
    WithdrawalSent,
)
from shared.contracts.ledger import FundsHeld, FundsHoldRejected, HoldPurpose
from shared.contracts.reasons import RejectReason
from shared.contracts.wallet import RecordDeposit


@dataclass(frozen=True)
class LedgerPolicy:
    max_fee_rate: Decimal = Decimal("0.001")


@dataclass(frozen=True)
class Needs:
    hold_id: str | None = None
    assets: tuple[str, ...] = ()
    """The user's available balances the decision reads (sorted: the order rows are locked in)."""
    entry_key: EntryKey | None = None
    """Booked already → the message changes nothing."""
    world_asset: str | None = None
    """The asset whose `world` balance the decision reads (and locks): a deposit's."""
    deposit_id: str | None = None
    """The deposit whose earlier outcome (credited or rejected) the decision reads."""


@dataclass(frozen=True)
class View:
    hold: Hold | None = None
    available: Mapping[str, Decimal] = field(default_factory=dict)
    already_booked: bool = False
    world: Decimal = ZERO
    """The `world` balance of `Needs.world_asset`."""
    deposit_decided: bool = False
    """`Needs.deposit_id` was credited or rejected already."""


def needs(payload: Payload) -> Needs | None:
    """What deciding on `payload` reads; None for a message the ledger ignores."""
    match payload:
        case RecordDeposit():
            key, asset = deposit_key(payload), payload.asset
            return Needs(None, (asset,), key, world_asset=asset, deposit_id=payload.deposit_id)
        case DepositDetected():
            key, asset = deposit_key(payload), payload.asset
            return Needs(None, (asset,), key, world_asset=asset)
        case OrderApproved():
            return Needs(payload.order.order_id, (order_hold_asset(payload.order),))
        case WithdrawalApproved():
            return Needs(payload.withdrawal.withdrawal_id, (payload.withdrawal.asset,))
        case OrderFilled():
            base, quote = symbol_assets(payload.symbol)
            assets = tuple(sorted({base, quote, payload.fee_asset}))
            key = EntryKey(EntryKind.FILL, payload.order_id, payload.trade_id)
            return Needs(payload.order_id, assets, key)
        case OrderCancelled() | OrderFailed():
            return Needs(payload.order_id)
        case WithdrawalSent():
            key = EntryKey(EntryKind.WITHDRAWAL, payload.withdrawal_id)
            return Needs(payload.withdrawal_id, (payload.asset,), key)
        case WithdrawalFailed():
            return Needs(payload.withdrawal_id)
    return None


def decide(owner: str, payload: Payload, view: View, policy: LedgerPolicy) -> Outcome:
    """The ledger's whole behaviour for one message of `owner` (the envelope's account)."""
    if view.hold is not None and view.hold.owner != owner:
        raise ForeignHold(f"hold {view.hold.hold_id} belongs to another account")
    if isinstance(payload, RecordDeposit | DepositDetected):
        return decide_deposit(
            owner,
            payload,
            decided=view.deposit_decided,
            already_booked=view.already_booked,
            user_available=view.available.get(payload.asset, ZERO),
            world_balance=view.world,
        )
    if view.already_booked:
        return NOTHING
    match payload:
        case OrderApproved():
            order = payload.order
            asset, size = order_hold_size(
                order,
                reference_price=payload.reference_price,
                price_band=payload.price_band,
                max_fee_rate=policy.max_fee_rate,
            )
            spec = FundsHeld(
                hold_id=order.order_id,
                purpose=HoldPurpose.ORDER,
                asset=asset,
                amount=size,
                order=order,
            )
            return _place_hold(owner, spec, order.exchange, view)
        case WithdrawalApproved():
            withdrawal = payload.withdrawal
            spec = FundsHeld(
                hold_id=withdrawal.withdrawal_id,
                purpose=HoldPurpose.WITHDRAWAL,
                asset=withdrawal.asset,
                amount=withdrawal.amount,
                withdrawal=withdrawal,
            )
            return _place_hold(owner, spec, withdrawal.exchange, view)
        case OrderFilled():
            venue = view.hold.venue if view.hold is not None and view.hold.venue else UNKNOWN_VENUE
            terminal = payload.status is FillStatus.FILLED
            key = EntryKey(EntryKind.FILL, payload.order_id, payload.trade_id)
            charge = _charge(owner, HoldPurpose.ORDER, key, fill_legs(payload, venue), view)
            ending = "filled" if terminal else None
            return charged_outcome(replace(charge, fill_id=payload.trade_id, release_reason=ending))
        case WithdrawalSent():
            key = EntryKey(EntryKind.WITHDRAWAL, payload.withdrawal_id)
            legs = [Leg(payload.asset, -payload.amount, world(payload.asset))]
            charge = _charge(owner, HoldPurpose.WITHDRAWAL, key, legs, view)
            return charged_outcome(replace(charge, release_reason="sent"))
        case OrderCancelled():
            return _end(owner, payload.order_id, HoldPurpose.ORDER, "cancelled", view)
        case OrderFailed():
            return _end(owner, payload.order_id, HoldPurpose.ORDER, "failed", view)
        case WithdrawalFailed():
            return _end(owner, payload.withdrawal_id, HoldPurpose.WITHDRAWAL, "failed", view)
    return NOTHING


def _place_hold(owner: str, funds: FundsHeld, venue: str, view: View) -> Outcome:
    """Hold `funds` if available covers them; otherwise refuse and move nothing."""
    if view.hold is not None:
        return NOTHING  # already held, rejected, closed or ended before approval
    on_hand = max(view.available.get(funds.asset, ZERO), ZERO)
    hold = Hold(
        hold_id=funds.hold_id,
        owner=owner,
        purpose=funds.purpose,
        asset=funds.asset,
        venue=venue,
        amount=funds.amount,
        remaining=funds.amount,
        status=HoldStatus.OPEN,
    )
    if funds.amount > on_hand:
        refused = FundsHoldRejected(
            hold_id=funds.hold_id,
            purpose=funds.purpose,
            reason=RejectReason.INSUFFICIENT_FUNDS,
            asset=funds.asset,
            requested=funds.amount,
            available=on_hand,
        )
        rejected = replace(hold, remaining=ZERO, status=HoldStatus.REJECTED)
        return Outcome(hold=rejected, events=(refused,))
    key = EntryKey(EntryKind.HOLD, funds.hold_id)
    postings = move(available(owner, funds.asset), held(owner, funds.asset), funds.amount)
    return Outcome(entries=(JournalEntry(key, postings),), hold=hold, events=(funds,))


def _charge(owner: str, purpose: HoldPurpose, key: EntryKey, legs: list[Leg], view: View) -> Charge:
    """A trade or sent withdrawal happened: it is always booked, whatever was held for it."""
    settlement = settle(owner, legs, view.hold, view.available)
    return Charge(
        owner=owner,
        hold_id=key.reference,
        purpose=purpose,
        hold=view.hold,
        legs=legs,
        settlement=settlement,
        booked=entry(key, settlement.postings),
        fill_id=None,
        release_reason=None,
    )


def _end(owner: str, hold_id: str, purpose: HoldPurpose, reason: str, view: View) -> Outcome:
    """A terminal state: release what is left; remember an end that came before the hold."""
    if view.hold is None:
        return Outcome(hold=void_hold(hold_id, owner, purpose))
    if not view.hold.is_open:
        return NOTHING
    return close_with_release(view.hold, reason)
