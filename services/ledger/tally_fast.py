"""Replay's fast steps: the messages that are most of any log (a deposit credited, an
order's hold placed, a fill settled from an open hold, a hold released) folded into a
`Tally` with plain arithmetic.

Each step returns True when it applied the message and False to let the domain's `decide`
answer on the same state. A step that meets anything unusual (a refusal, a shortfall, a
hold of another user, a key booked already) gives up before changing anything; one that
raises `LedgerError` has booked nothing either (`Tally.book` is all or nothing).
`tests/unit/ledger/test_replay_fast.py` folds arbitrary histories both ways and asserts
the same balances, holds, journal, refusals and discrepancies.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import TYPE_CHECKING, Any

from services.ledger.domain import ZERO
from services.ledger.domain.accounts import UNKNOWN_VENUE, WORLD_OWNER
from services.ledger.replay_wire import (
    ApprovedRecord,
    CancelledRecord,
    DepositRecord,
    FailedRecord,
    FilledRecord,
)
from services.ledger.tally_rows import (
    AVAILABLE,
    CLOSED,
    CUSTODY,
    FEES,
    HELD,
    OPEN,
    VOID,
    WORLD,
    HoldRow,
    Posting,
    Row,
)
from shared.contracts.execution import FillStatus
from shared.contracts.ledger import HoldPurpose
from shared.contracts.orders import OrderType, Side
from shared.money import BALANCE_LIMIT, MAX_DEPOSIT, QUANTUM

if TYPE_CHECKING:
    from services.ledger.tally import Tally


def deposit_credited(tally: Tally, logged: DepositRecord) -> bool:
    body = logged.payload
    key = ("deposit", body.venue, body.reference)
    if body.deposit_id in tally.deposits or key in tally.booked:
        return False
    amount, owner, asset = Decimal(body.amount), logged.account_id, body.asset
    user, world = (owner, asset, AVAILABLE), (WORLD_OWNER, asset, WORLD)
    balances = tally.balances
    if amount > MAX_DEPOSIT or not (
        abs(balances.get(user, ZERO) + amount) <= BALANCE_LIMIT
        and abs(balances.get(world, ZERO) - amount) <= BALANCE_LIMIT
    ):
        return False
    tally.book([(key, ((world, -amount), (user, amount)))], owner, logged.event_id)
    tally.deposits.add(body.deposit_id)
    tally.applied += 1
    return True


def hold_placed(tally: Tally, logged: ApprovedRecord) -> bool:
    body = logged.payload
    order, owner = body.order, logged.account_id
    hold_id = order.order_id
    existing = tally.holds.get(hold_id)
    if existing is not None:
        if existing.owner != owner:
            return False
        tally.applied += 1  # held, rejected, closed or ended before: nothing
        return True
    amount = Decimal(order.amount)
    base, quote = order.symbol.split("/")
    if order.side is Side.SELL:
        asset, size = base, amount
    else:
        if order.type is OrderType.LIMIT:
            assert order.price is not None
            worst = Decimal(order.price)
        else:
            worst = Decimal(body.reference_price) * (1 + Decimal(body.price_band))
        cost = amount * worst * tally.fee_factor
        asset, size = quote, cost.quantize(QUANTUM, ROUND_CEILING)
    user, key, balances = (owner, asset, AVAILABLE), ("hold", hold_id, ""), tally.balances
    available = balances.get(user, ZERO)
    if size <= 0 or size > available or key in tally.booked:
        return False
    # `Tally.book` of the one entry, inline: available covers it, so nothing can go negative
    held, minus = (owner, asset, HELD), -size
    balances[user] = available + minus
    balances[held] = balances.get(held, ZERO) + size
    tally.journal.append((key, owner, logged.event_id, ((user, minus), (held, size))))
    tally.booked.add(key)
    purpose = HoldPurpose.ORDER
    tally.holds[hold_id] = HoldRow(owner, purpose, asset, order.exchange, size, size, OPEN)
    tally.applied += 1
    return True


def fill_settled(tally: Tally, logged: FilledRecord) -> bool:
    body = logged.payload
    owner, order_id = logged.account_id, body.order_id
    hold = tally.holds.get(order_id)
    assets = tally.assets_of(body.symbol)
    if (
        hold is None
        or hold.owner != owner
        or hold.status is not OPEN
        or assets is None
        or body.side not in ("buy", "sell")
    ):
        return False
    key = ("fill", order_id, body.trade_id)
    if key in tally.booked:
        tally.applied += 1  # the same trade again: booked once
        return True
    base, quote = assets
    venue = hold.venue or UNKNOWN_VENUE
    amount, price, fee = Decimal(body.amount), Decimal(body.price), Decimal(body.fee)
    custody = "venue:" + venue
    gross = amount * price
    # (asset, user amount, counterparty), credits before debits as `settle` orders them
    if body.side == "buy":
        credit = (base, amount, (custody, base, CUSTODY))
        due = gross.quantize(QUANTUM, ROUND_CEILING)
        debits = [(quote, due, (custody, quote, CUSTODY))]
    else:
        proceeds = gross.quantize(QUANTUM, ROUND_FLOOR)
        credit = (quote, proceeds, (custody, quote, CUSTODY))
        debits = [(base, amount, (custody, base, CUSTODY))]
    if fee > 0:
        debits.append((body.fee_asset, fee, ("fees:" + venue, body.fee_asset, FEES)))
    postings: list[Posting] = []
    credited, credit_amount, counterparty = credit
    if credit_amount:
        postings += ((counterparty, -credit_amount), ((owner, credited, AVAILABLE), credit_amount))
    spendable: dict[str, Decimal] | None = None  # read only when the hold does not cover a debit
    hold_asset, hold_left = hold.asset, hold.remaining
    for asset, due, account in debits:
        from_hold = min(due, hold_left) if hold_asset == asset else ZERO
        hold_left -= from_hold
        if from_hold:
            postings += (((owner, asset, HELD), -from_hold), (account, from_hold))
        rest = due - from_hold
        if not rest:
            continue
        if spendable is None:
            get = tally.balances.get
            spendable = {a: get((owner, a, AVAILABLE), ZERO) for a in (base, quote, body.fee_asset)}
            spendable[credited] += credit_amount
        from_available = min(rest, max(spendable[asset], ZERO))
        spendable[asset] -= from_available
        if rest - from_available > 0:
            return False  # a shortfall to suspense, and a discrepancy: `decide` says it
        if from_available:
            postings += (
                ((owner, asset, AVAILABLE), -from_available),
                (account, from_available),
            )
    rows: list[Row] = [(key, tuple(postings))] if postings else []
    remaining = hold_left
    closing = body.status is FillStatus.FILLED
    if closing and remaining:
        held, free = (owner, hold.asset, HELD), (owner, hold.asset, AVAILABLE)
        rows.append((("release", order_id, ""), ((held, -remaining), (free, remaining))))
    tally.book(rows, owner, logged.event_id)
    hold.remaining, hold.status = (ZERO, CLOSED) if closing else (remaining, OPEN)
    tally.applied += 1
    return True


def hold_released(tally: Tally, logged: CancelledRecord | FailedRecord) -> bool:
    body = logged.payload
    owner, order_id = logged.account_id, body.order_id
    hold = tally.holds.get(order_id)
    if hold is None:
        tally.holds[order_id] = HoldRow(owner, HoldPurpose.ORDER, "", "", ZERO, ZERO, VOID)
    elif hold.owner != owner:
        return False
    elif hold.status is OPEN:
        left = hold.remaining
        if left:
            held, free = (owner, hold.asset, HELD), (owner, hold.asset, AVAILABLE)
            release = (("release", order_id, ""), ((held, -left), (free, left)))
            tally.book([release], owner, logged.event_id)
        hold.remaining, hold.status = ZERO, CLOSED
    tally.applied += 1
    return True


FAST_STEPS: dict[type, Callable[[Tally, Any], bool]] = {
    DepositRecord: deposit_credited,
    ApprovedRecord: hold_placed,
    FilledRecord: fill_settled,
    CancelledRecord: hold_released,
    FailedRecord: hold_released,
}
"""The fast step for each message type; every other type goes to `decide`."""
