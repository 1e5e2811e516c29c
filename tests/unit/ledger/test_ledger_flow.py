"""The ledger's behaviour message by message, through the pure book (no database)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from decimal import Decimal

import pytest

from services.ledger.book import Book
from services.ledger.domain import LedgerPolicy
from services.ledger.domain.accounts import custody, fees, suspense, world
from services.ledger.errors import ForeignHold, MalformedMessage
from shared.contracts.decisions import OrderRejected
from shared.contracts.envelope import Envelope
from shared.contracts.execution import OrderFilled
from shared.contracts.ledger import (
    BalanceChanged,
    DepositCredited,
    FundsHeld,
    FundsHoldRejected,
    HoldReleased,
    HoldSettled,
    LedgerDiscrepancy,
)
from shared.contracts.orders import Side
from shared.contracts.reasons import RejectReason
from tests.unit.ledger.messages import (
    USER,
    D,
    approve,
    approve_withdrawal,
    cancelled,
    deposit,
    detected,
    envelope,
    failed,
    fill,
    sent,
    withdrawal_failed,
)


@pytest.fixture
def book() -> Book:
    return Book(LedgerPolicy(max_fee_rate=D("0.001")))


def funded(book: Book, amount: str = "10000", asset: str = "USDT") -> Book:
    book.apply(deposit(amount, asset, reference=f"fund-{asset}"))
    return book


def kinds(events: Sequence[object]) -> list[str]:
    return [type(e).__name__ for e in events]


def test_deposit_credits_available_from_the_world(book: Book) -> None:
    events = book.apply(deposit("10000"))
    assert book.user_balances(USER) == {"USDT": (D("10000"), D(0))}
    assert book.balance(world("USDT")) == D("-10000")
    assert events == [
        DepositCredited(
            deposit_id="ref-1", asset="USDT", amount=D("10000"), venue="paper", reference="ref-1"
        ),
        BalanceChanged(asset="USDT", available=D("10000"), held=D(0), version=1),
    ]


def test_the_same_deposit_twice_is_credited_once(book: Book) -> None:
    book.apply(deposit("10000", reference="r"))
    assert book.apply(deposit("10000", reference="r")) == []
    book.apply(detected("5", txid="r", venue="binance"))  # another venue: another deposit
    assert book.user_balances(USER)["USDT"] == (D("10005"), D(0))


def test_approved_buy_moves_its_maximum_cost_to_held(book: Book) -> None:
    funded(book)
    events = book.apply(approve("o-1", "0.01", reference="60000"))
    assert book.user_balances(USER)["USDT"] == (D("9339.34"), D("660.66"))
    held = events[0]
    assert isinstance(held, FundsHeld)
    assert (held.hold_id, held.asset, held.amount) == ("o-1", "USDT", D("660.66"))
    assert held.order is not None and held.order.order_id == "o-1"
    assert isinstance(events[1], BalanceChanged) and events[1].version == 2


def test_an_order_that_does_not_fit_is_rejected_and_moves_nothing(book: Book) -> None:
    funded(book, "100")
    events = book.apply(approve("o-1", "1", price="100"))
    assert events == [
        FundsHoldRejected(
            hold_id="o-1",
            purpose="order",
            reason=RejectReason.INSUFFICIENT_FUNDS,
            asset="USDT",
            requested=D("100.1"),
            available=D("100"),
        )
    ]
    assert book.user_balances(USER)["USDT"] == (D("100"), D(0))


def test_a_second_approval_of_the_same_order_holds_nothing_more(book: Book) -> None:
    funded(book)
    book.apply(approve("o-1", "1", price="100"))
    assert book.apply(approve("o-1", "1", price="100")) == []
    assert book.user_balances(USER)["USDT"] == (D("9899.9"), D("100.1"))


def test_a_buy_fill_spends_cost_and_fee_from_held_and_credits_the_base(book: Book) -> None:
    funded(book)
    book.apply(approve("o-1", "0.01", reference="60000"))
    events = book.apply(fill("o-1", "t-1", "0.01", "60000", fee="0.6", done=True))
    assert book.user_balances(USER) == {
        "USDT": (D("10000") - D("600.6"), D(0)),
        "BTC": (D("0.01"), D(0)),
    }
    assert book.balance(custody("paper", "USDT")) == D("600")
    assert book.balance(custody("paper", "BTC")) == D("-0.01")
    assert book.balance(fees("paper", "USDT")) == D("0.6")
    assert kinds(events) == [
        "HoldSettled",
        "HoldReleased",
        "BalanceChanged",
        "BalanceChanged",
    ]
    settled, released = events[0], events[1]
    assert isinstance(settled, HoldSettled) and settled.amount == D("600.6")
    assert isinstance(released, HoldReleased) and released.amount == D("60.06")
    assert book.violations() == []


def test_a_buy_limit_filled_below_its_limit_costs_the_fill_and_releases_the_rest(
    book: Book,
) -> None:
    funded(book)
    book.apply(approve("o-1", "0.01", price="70200", reference="65000"))  # held at the limit
    assert book.user_balances(USER)["USDT"] == (D("10000") - D("702.702"), D("702.702"))
    events = book.apply(fill("o-1", "t-1", "0.01", "65000", fee="0.65", done=True))
    assert book.user_balances(USER) == {
        "USDT": (D("10000") - D("650.65"), D(0)),
        "BTC": (D("0.01"), D(0)),
    }
    assert book.balance(custody("paper", "USDT")) == D("650")
    assert book.balance(fees("paper", "USDT")) == D("0.65")
    settled, released = events[0], events[1]
    assert isinstance(settled, HoldSettled) and settled.amount == D("650.65")
    assert isinstance(released, HoldReleased) and released.amount == D("52.052")
    assert book.violations() == []


def test_partial_fills_settle_their_part_and_the_last_one_releases_the_rest(book: Book) -> None:
    funded(book)
    book.apply(approve("o-1", "1", price="100"))
    book.apply(fill("o-1", "t-1", "0.4", "99", fee="0.0396"))
    assert book.user_balances(USER)["USDT"] == (D("9899.9"), D("100.1") - D("39.6396"))
    book.apply(fill("o-1", "t-2", "0.6", "100", fee="0.06", done=True))
    assert book.user_balances(USER) == {
        "USDT": (D("10000") - D("39.6396") - D("60.06"), D(0)),
        "BTC": (D("1"), D(0)),
    }
    assert book.violations() == []


def test_a_trade_is_applied_once_even_when_delivered_again(book: Book) -> None:
    funded(book)
    book.apply(approve("o-1", "1", price="100"))
    book.apply(fill("o-1", "t-1", "0.5", "100"))
    assert book.apply(fill("o-1", "t-1", "0.5", "100")) == []
    assert book.user_balances(USER)["BTC"] == (D("0.5"), D(0))


def test_a_sell_fill_pays_the_fee_from_its_own_proceeds(book: Book) -> None:
    funded(book, "2", "BTC")
    book.apply(approve("o-1", "1.5", side=Side.SELL))
    assert book.user_balances(USER)["BTC"] == (D("0.5"), D("1.5"))
    book.apply(fill("o-1", "t-1", "1.5", "100", fee="0.15", side=Side.SELL, done=True))
    assert book.user_balances(USER) == {"BTC": (D("0.5"), D(0)), "USDT": (D("149.85"), D(0))}
    assert book.violations() == []


def test_a_fill_dearer_than_the_hold_takes_the_difference_from_available(book: Book) -> None:
    funded(book, "1000")
    book.apply(approve("o-1", "1", price="100"))
    events = book.apply(fill("o-1", "t-1", "1", "150", fee="0.15", done=True))
    assert book.user_balances(USER)["USDT"] == (D("1000") - D("150.15"), D(0))
    assert not [e for e in events if isinstance(e, LedgerDiscrepancy)]
    assert book.violations() == []


def test_a_fill_nobody_can_pay_is_booked_to_suspense_and_raised(book: Book) -> None:
    funded(book, "100.1")
    book.apply(approve("o-1", "1", price="100"))
    events = book.apply(fill("o-1", "t-1", "1", "150", fee="0", done=True))
    assert book.user_balances(USER)["USDT"] == (D(0), D(0))
    assert book.balance(suspense("USDT")) == D("-49.9")
    discrepancy = next(e for e in events if isinstance(e, LedgerDiscrepancy))
    assert (discrepancy.hold_id, discrepancy.asset, discrepancy.amount) == (
        "o-1",
        "USDT",
        D("49.9"),
    )
    assert book.violations() == []


@pytest.mark.parametrize("ending", [cancelled, failed])
def test_a_terminal_order_releases_what_is_still_held(
    book: Book, ending: Callable[[str], Envelope]
) -> None:
    funded(book)
    book.apply(approve("o-1", "1", price="100"))
    book.apply(fill("o-1", "t-1", "0.5", "100", fee="0.05"))
    events = book.apply(ending("o-1"))
    released = events[0]
    assert isinstance(released, HoldReleased) and released.amount == D("100.1") - D("50.05")
    assert book.user_balances(USER)["USDT"] == (D("10000") - D("50.05"), D(0))
    assert book.apply(cancelled("o-1")) == []
    assert book.violations() == []


def test_an_order_ended_before_its_approval_never_holds(book: Book) -> None:
    funded(book)
    book.apply(cancelled("o-1"))
    assert book.apply(approve("o-1", "1", price="100")) == []
    assert book.user_balances(USER)["USDT"] == (D("10000"), D(0))


def test_a_fill_after_cancel_is_still_booked_from_available(book: Book) -> None:
    funded(book)
    book.apply(approve("o-1", "1", price="100"))
    book.apply(cancelled("o-1"))
    book.apply(fill("o-1", "t-1", "1", "100", fee="0.1", done=True))
    assert book.user_balances(USER) == {"USDT": (D("9899.9"), D(0)), "BTC": (D("1"), D(0))}
    assert book.violations() == []


def test_a_fill_for_an_order_never_held_is_booked_and_raised(book: Book) -> None:
    funded(book)
    events = book.apply(fill("o-9", "t-1", "1", "100", done=True))
    assert any(isinstance(e, LedgerDiscrepancy) for e in events)
    assert book.user_balances(USER)["BTC"] == (D("1"), D(0))
    assert book.apply(approve("o-9", "1", price="100")) == []


def test_withdrawal_holds_then_settles_to_the_world(book: Book) -> None:
    funded(book)
    held = book.apply(approve_withdrawal("w-1", "2500"))[0]
    assert isinstance(held, FundsHeld) and held.withdrawal is not None
    assert book.user_balances(USER)["USDT"] == (D("7500"), D("2500"))
    book.apply(sent("w-1", "2500"))
    assert book.user_balances(USER)["USDT"] == (D("7500"), D(0))
    assert book.balance(world("USDT")) == D("-7500")
    assert book.violations() == []


def test_a_failed_withdrawal_gives_the_money_back(book: Book) -> None:
    funded(book)
    book.apply(approve_withdrawal("w-1", "2500"))
    book.apply(withdrawal_failed("w-1"))
    assert book.user_balances(USER)["USDT"] == (D("10000"), D(0))


def test_a_withdrawal_larger_than_available_is_rejected(book: Book) -> None:
    funded(book, "10")
    events = book.apply(approve_withdrawal("w-1", "10.000000000000000001"))
    assert isinstance(events[0], FundsHoldRejected)
    assert book.user_balances(USER)["USDT"] == (D("10"), D(0))


def test_a_message_about_another_users_hold_is_refused(book: Book) -> None:
    funded(book)
    book.apply(approve("o-1", "1", price="100"))
    with pytest.raises(ForeignHold):
        book.apply(cancelled("o-1", account="someone-else"))


def test_balance_versions_only_grow(book: Book) -> None:
    funded(book)
    book.apply(approve("o-1", "1", price="100"))
    book.apply(fill("o-1", "t-1", "1", "100", done=True))
    versions = [
        e.version
        for m in [deposit("1", reference="x"), cancelled("o-2")]
        for e in book.apply(m)
        if isinstance(e, BalanceChanged)
    ]
    assert versions == [4]
    assert book.versions[(USER, "USDT")] == 4


def test_unrelated_messages_are_ignored(book: Book) -> None:
    rejected = OrderRejected(order_id="o", reason=RejectReason.KILL_SWITCH, rule="r", detail="d")
    assert book.apply(envelope(rejected)) == []
    assert book.applied == 0
    assert Decimal(0) == sum(book.balances.values(), Decimal(0))


def test_a_fill_it_cannot_read_is_refused_not_guessed(book: Book) -> None:
    funded(book)
    message = fill("o-1", "t-1", "1", "100")
    odd_side = message.model_copy(
        update={"payload": message.body(OrderFilled).model_copy(update={"side": "BUY"})}
    )
    with pytest.raises(MalformedMessage):
        book.apply(odd_side)
    assert book.user_balances(USER)["USDT"] == (D("10000"), D(0))
