"""Deposits: each one ends credited or rejected with a reason, and none can overflow the books.

The bound lives in `shared.money` (`MAX_DEPOSIT` per deposit, `BALANCE_LIMIT` for any balance
the ledger keeps); the gateway validates with the same `DepositAmount`, so whatever it accepts
the ledger either books within the column's capacity or rejects, never parks.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from services.ledger.book import Book
from services.ledger.domain.accounts import available, world
from services.ledger.errors import BeyondBalanceLimit
from shared.contracts.envelope import Envelope
from shared.contracts.ledger import DepositCredited, DepositRejected
from shared.contracts.reasons import DepositRejectReason
from shared.contracts.wallet import RecordDeposit
from shared.money import (
    BALANCE_LIMIT,
    COLUMN_CAPACITY,
    MAX_DEPOSIT,
    QUANTUM,
    DepositAmount,
    exact,
    format_decimal,
)
from tests.unit.ledger.messages import USER, D, detected, envelope

with exact():  # the default context would round these 37-digit amounts
    ABOVE_MAX = MAX_DEPOSIT + QUANTUM
    BELOW_MAX = MAX_DEPOSIT - QUANTUM
    EDGES = sorted(
        {
            e + d
            for e in (MAX_DEPOSIT, BALANCE_LIMIT, COLUMN_CAPACITY)
            for d in (-QUANTUM, 0, QUANTUM)
        }
    )
    LARGEST = COLUMN_CAPACITY - QUANTUM
    """The largest amount the wire carries (20 integer digits, 18 decimals)."""
PROPERTY = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def record(
    deposit_id: str, amount: Decimal | str, reference: str, *, asset: str = "USDT", user: str = USER
) -> Envelope:
    body = RecordDeposit(
        deposit_id=deposit_id, asset=asset, amount=Decimal(amount), reference=reference
    )
    return envelope(body, account=user, correlation=deposit_id)


def outcome(events: Sequence[object]) -> DepositCredited | DepositRejected | None:
    found = [e for e in events if isinstance(e, DepositCredited | DepositRejected)]
    assert len(found) <= 1
    return found[0] if found else None


def test_a_reference_another_deposit_booked_is_rejected_not_dropped() -> None:
    book = Book()
    book.apply(record("d-1", "100", "bank-42", user="alice"))
    events = book.apply(record("d-2", "7", "bank-42", user="bob"))
    rejected = outcome(events)
    assert isinstance(rejected, DepositRejected)
    assert (rejected.deposit_id, rejected.reason) == ("d-2", DepositRejectReason.REFERENCE_TAKEN)
    assert book.user_balances("alice") == {"USDT": (D(100), D(0))}
    assert book.user_balances("bob") == {}
    assert book.deposits == {"d-1", "d-2"}


def test_the_same_deposit_again_is_decided_once() -> None:
    book = Book()
    assert isinstance(outcome(book.apply(record("d-1", "5", "r"))), DepositCredited)
    assert book.apply(record("d-1", "5", "r")) == []  # a new event of the same deposit
    book.apply(record("d-2", "9", "r"))
    assert book.apply(record("d-2", "9", "r")) == []  # rejected once, not again
    assert book.user_balances(USER) == {"USDT": (D(5), D(0))}


def test_a_deposit_above_the_maximum_is_rejected() -> None:
    events = Book().apply(record("d-1", ABOVE_MAX, "r"))
    rejected = outcome(events)
    assert isinstance(rejected, DepositRejected)
    assert rejected.reason is DepositRejectReason.AMOUNT_ABOVE_MAX


def test_deposits_past_the_balance_limit_are_rejected_and_the_rest_still_credited() -> None:
    book = Book()
    deposits = int(BALANCE_LIMIT / MAX_DEPOSIT)
    for n in range(deposits):
        book.apply(record(f"d-{n}", MAX_DEPOSIT, f"r-{n}", user=f"u-{n}"))
    assert book.balance(world("USDT")) == -BALANCE_LIMIT
    rejected = outcome(book.apply(record("d-x", QUANTUM, "r-x", user="late")))
    assert isinstance(rejected, DepositRejected)
    assert rejected.reason is DepositRejectReason.BALANCE_LIMIT
    assert isinstance(outcome(book.apply(record("d-y", "1", "r-y", asset="BTC"))), DepositCredited)


def test_a_detected_deposit_past_the_limit_is_refused_loudly() -> None:
    book = Book()
    for n in range(int(BALANCE_LIMIT / MAX_DEPOSIT)):
        book.apply(record(f"d-{n}", MAX_DEPOSIT, f"r-{n}"))
    with pytest.raises(BeyondBalanceLimit):
        book.apply(detected("1", txid="tx-over"))


class DepositBody(BaseModel):
    amount: DepositAmount


@pytest.mark.parametrize(
    "amount, accepted",
    [
        (format_decimal(MAX_DEPOSIT), True),
        (format_decimal(BELOW_MAX), True),
        (format_decimal(ABOVE_MAX), False),
        ("99999999999999999999", False),
        ("0.000000000000000001", True),
        ("0", False),
    ],
)
def test_the_gateway_type_accepts_up_to_the_maximum(amount: str, accepted: bool) -> None:
    if accepted:
        assert DepositBody(amount=amount).amount == Decimal(amount)
    else:
        with pytest.raises(ValidationError):
            DepositBody(amount=amount)


# Amounts around every boundary: the smallest unit, the maximum deposit, the balance limit,
# the column's capacity, and anything in between (18 decimals, as the wire allows).
boundary_amounts = st.one_of(
    st.sampled_from([QUANTUM, *(e for e in EDGES if e < COLUMN_CAPACITY)]),
    st.just(MAX_DEPOSIT),
    st.decimals(min_value=QUANTUM, max_value=MAX_DEPOSIT, places=18),
    st.decimals(min_value=QUANTUM, max_value=LARGEST, places=18),
)


@dataclass(frozen=True)
class Sent:
    deposit_id: str
    user: str
    asset: str
    amount: Decimal
    reference: str


@st.composite
def deposit_histories(draw: st.DrawFn) -> list[Sent]:
    """Many deposits of the maximum (to come near the limit fast), then boundary amounts;
    references drawn from a small pool (collisions), and deposits sometimes sent again."""
    sent: list[Sent] = []
    for n in range(draw(st.integers(0, 11))):
        sent.append(Sent(f"fill-{n}", f"u{n % 3}", "USDT", MAX_DEPOSIT, f"fill-{n}"))
    for n in range(draw(st.integers(1, 20))):
        if sent and draw(st.integers(0, 5)) == 0:
            sent.append(draw(st.sampled_from(sent)))
            continue
        sent.append(
            Sent(
                f"d-{n}",
                draw(st.sampled_from(["u0", "u1", "u2"])),
                draw(st.sampled_from(["USDT", "BTC"])),
                draw(boundary_amounts),
                draw(st.sampled_from(["a", "b", "c", f"own-{n}"])),
            )
        )
    return sent


@PROPERTY
@given(deposit_histories())
def test_no_deposit_history_overflows_or_loses_a_deposit(history: list[Sent]) -> None:
    book = Book()
    outcomes: Counter[str] = Counter()
    credited_references: set[str] = set()
    for sent in history:
        before = dict(book.balances)
        with exact():
            user_after = book.balance(available(sent.user, sent.asset)) + sent.amount
            world_after = book.balance(world(sent.asset)) - sent.amount
        message = record(sent.deposit_id, sent.amount, sent.reference, asset=sent.asset)
        message = message.model_copy(update={"account_id": sent.user})
        decided = outcome(book.apply(message))
        if decided is None:  # only a deposit already decided is decided no more
            assert outcomes[sent.deposit_id] == 1
            assert book.balances == before
            continue
        outcomes[sent.deposit_id] += 1
        if isinstance(decided, DepositCredited):
            assert sent.reference not in credited_references
            credited_references.add(sent.reference)
            assert book.balance(available(sent.user, sent.asset)) == user_after
            assert book.balance(world(sent.asset)) == world_after
        else:
            assert book.balances == before  # nothing moved
            fits = (
                sent.amount <= MAX_DEPOSIT
                and user_after <= BALANCE_LIMIT
                and world_after >= -BALANCE_LIMIT
            )
            taken = sent.reference in credited_references
            assert taken or not fits, f"{sent} rejected ({decided.reason}) although it fits"
        for account, balance in book.balances.items():
            assert abs(balance) <= BALANCE_LIMIT < COLUMN_CAPACITY, account
    assert book.violations() == []
    assert set(outcomes) == {s.deposit_id for s in history}
    assert all(n == 1 for n in outcomes.values())


@PROPERTY
@given(
    amount=st.decimals(min_value=QUANTUM, max_value=MAX_DEPOSIT, places=18),
    headroom=st.sampled_from([Decimal(0), QUANTUM, MAX_DEPOSIT, MAX_DEPOSIT - QUANTUM]),
)
def test_every_amount_the_gateway_accepts_is_booked_or_rejected_within_the_books(
    amount: Decimal, headroom: Decimal
) -> None:
    """A book filled up to `headroom` below the limit, then any amount the gateway accepts:
    credited exactly when it fits, and every balance stays within the column."""
    accepted = DepositBody(amount=format_decimal(amount)).amount
    book = Book()
    with exact():
        left = BALANCE_LIMIT - headroom
    n = 0
    while left > 0:
        step = min(left, MAX_DEPOSIT)
        book.apply(record(f"fill-{n}", step, f"fill-{n}", user=f"f{n}"))
        with exact():
            left -= step
        n += 1
    decided = outcome(book.apply(record("last", accepted, "last", user="last")))
    assert isinstance(decided, DepositCredited) == (accepted <= headroom)
    assert all(abs(b) <= BALANCE_LIMIT < COLUMN_CAPACITY for b in book.balances.values())
    assert book.violations() == []
