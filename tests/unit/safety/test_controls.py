"""Duplicative orders and the restricted list, as pure rules: at the window's edge, by the
gateway's acceptance times, amounts compared as numbers; a restriction covers what it names."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from decimal import Decimal

from services.safety.domain import (
    AccountState,
    OrderDecision,
    Restrictions,
    SentOrder,
    decide_order,
    decide_withdrawal,
)
from shared.contracts.decisions import OrderRejected, WithdrawalRejected
from shared.contracts.orders import Side
from shared.contracts.reasons import RejectReason
from shared.contracts.restrictions import RestrictionScope
from tests.unit.safety.scenario import (
    ACCOUNT,
    NOW,
    default_limits,
    order,
    order_check,
    withdrawal_check,
)

SENT_AT = NOW - timedelta(milliseconds=400)


def after(sent: SentOrder, **changes: object) -> OrderDecision:
    """A second order (order-2) decided at NOW, accepted at NOW, with `sent` approved before."""
    account = AccountState(registered=True, sent_orders=(sent,))
    spec_changes = {"order_id": "order-2", **changes}
    return decide_order(
        order_check(order(**spec_changes), account=account, accepted_at=NOW)  # type: ignore[arg-type]
    )


def reason_of(decision: OrderDecision) -> RejectReason | None:
    outcome = decision.outcome
    return outcome.reason if isinstance(outcome, OrderRejected) else None


def test_an_identical_order_inside_the_window_is_a_duplicate() -> None:
    sent = SentOrder(order(order_id="order-1", price="50000"), SENT_AT)

    decision = after(sent, price="50000")

    outcome = decision.outcome
    assert isinstance(outcome, OrderRejected)
    assert (outcome.reason, outcome.rule) == (RejectReason.DUPLICATE_ORDER, "duplicate_order")
    assert outcome.values == {
        "duplicate_of": "order-1",
        "seconds_apart": "0.4",
        "duplicate_window_seconds": "1",
    }


def test_amounts_and_prices_are_compared_as_numbers() -> None:
    sent = SentOrder(order(order_id="order-1", amount="0.010", price="50000.0"), SENT_AT)

    assert reason_of(after(sent, amount="0.01", price="50000.00")) is RejectReason.DUPLICATE_ORDER


def test_an_order_differing_in_any_field_is_not_a_duplicate() -> None:
    sent = SentOrder(order(order_id="order-1", price="50000"), SENT_AT)

    for changes in (
        {"price": "50000.01"},
        {"price": None},
        {"amount": "0.02", "price": "50000"},
        {"side": Side.SELL, "price": "50000"},
        {"symbol": "ETH/USDT", "price": "2500"},
    ):
        assert reason_of(after(sent, **changes)) is None, changes


def test_the_window_is_open_at_its_end_and_counts_either_way() -> None:
    window = timedelta(seconds=1)
    just_inside = SentOrder(order(order_id="order-1"), NOW - window + timedelta(microseconds=1))
    at_the_edge = SentOrder(order(order_id="order-1"), NOW - window)
    from_ahead = SentOrder(order(order_id="order-1"), NOW + timedelta(milliseconds=300))

    assert reason_of(after(just_inside)) is RejectReason.DUPLICATE_ORDER
    assert reason_of(after(at_the_edge)) is None
    assert reason_of(after(from_ahead)) is RejectReason.DUPLICATE_ORDER


def test_acceptance_times_decide_not_when_safety_gets_to_the_orders() -> None:
    """Two orders accepted 5 s apart are not duplicates, the same two accepted 0.4 s apart
    are: decided at once or delivered together an hour later, the answer is the same."""
    account = AccountState(registered=True, sent_orders=(SentOrder(order(), SENT_AT),))
    apart = SENT_AT + timedelta(seconds=5)
    for now in (NOW, NOW + timedelta(hours=1)):
        spread = order_check(order(order_id="order-2"), account=account, accepted_at=apart, now=now)
        close = order_check(order(order_id="order-2"), account=account, accepted_at=NOW, now=now)

        assert decide_order(spread).approved
        assert reason_of(decide_order(close)) is RejectReason.DUPLICATE_ORDER


def test_window_zero_turns_the_rule_off_and_an_account_may_have_its_own() -> None:
    account = AccountState(registered=True, sent_orders=(SentOrder(order(), NOW),))
    check = order_check(order(order_id="order-2"), account=account, accepted_at=NOW)
    off = default_limits().with_overrides({"duplicate_window_seconds": Decimal(0)})
    wide = default_limits().with_overrides({"duplicate_window_seconds": Decimal(30)})
    earlier = dataclasses.replace(check, accepted_at=NOW + timedelta(seconds=20))

    assert reason_of(decide_order(dataclasses.replace(check, limits=off))) is None
    assert reason_of(decide_order(earlier)) is None
    assert reason_of(decide_order(dataclasses.replace(earlier, limits=wide))) is (
        RejectReason.DUPLICATE_ORDER
    )


def test_the_same_order_redelivered_is_not_its_own_duplicate() -> None:
    account = AccountState(registered=True, sent_orders=(SentOrder(order(), SENT_AT),))

    assert decide_order(order_check(order(), account=account, accepted_at=SENT_AT)).approved


def test_a_restricted_symbol_or_account_takes_no_new_order() -> None:
    symbol = Restrictions(frozenset({(RestrictionScope.SYMBOL, "BTC/USDT")}))
    account = Restrictions(frozenset({(RestrictionScope.ACCOUNT, ACCOUNT)}))
    elsewhere = Restrictions(
        frozenset({(RestrictionScope.SYMBOL, "ETH/USDT"), (RestrictionScope.ACCOUNT, "user-2")})
    )

    for restrictions, target in ((symbol, "BTC/USDT"), (account, ACCOUNT)):
        outcome = decide_order(order_check(restrictions=restrictions)).outcome
        assert isinstance(outcome, OrderRejected)
        assert (outcome.reason, outcome.rule) == (RejectReason.RESTRICTED, "restricted")
        assert outcome.values["target"] == target
    assert decide_order(order_check(restrictions=elsewhere)).approved


def test_a_restricted_account_withdraws_nothing_a_restricted_symbol_stops_no_withdrawal() -> None:
    account = Restrictions(frozenset({(RestrictionScope.ACCOUNT, ACCOUNT)}))
    symbol = Restrictions(frozenset({(RestrictionScope.SYMBOL, "USDT/USD")}))

    outcome = decide_withdrawal(withdrawal_check(restrictions=account)).outcome
    assert isinstance(outcome, WithdrawalRejected)
    assert (outcome.reason, outcome.rule) == (RejectReason.RESTRICTED, "restricted")
    assert decide_withdrawal(withdrawal_check(restrictions=symbol)).approved
