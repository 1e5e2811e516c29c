"""A venue's own market rules (from its listing): listed or not, lot and tick size, min/max
amount and cost. Each at its boundary: exactly at the limit passes, one step past is refused."""

from __future__ import annotations

from decimal import Decimal

import pytest

from services.safety.domain import decide_order
from services.safety.domain.markets import MarketListing, MarketRules
from shared.contracts.decisions import OrderApproved, OrderRejected
from shared.contracts.reasons import RejectReason
from tests.support.simbinance.wire import SPOT_RULES
from tests.unit.safety.scenario import listed, order, order_check

BINANCE_BTC = MarketRules(**SPOT_RULES)
"""Binance's BTC/USDT rules as the simulated Binance states them (lot 0.00001, tick 0.01, cost
5 to 9,000,000 USDT); the reference price is 50,000."""


def decided(
    *, amount: str, price: str | None = None, market: MarketListing | None = None
) -> OrderApproved | OrderRejected:
    spec = order(amount=amount, price=price)
    return decide_order(order_check(spec, market=market or listed(BINANCE_BTC))).outcome


def rejected_by(outcome: OrderApproved | OrderRejected) -> tuple[RejectReason, str] | None:
    if isinstance(outcome, OrderApproved):
        return None
    return outcome.reason, outcome.rule


def test_a_symbol_the_venue_does_not_list_is_an_invalid_symbol() -> None:
    outcome = decided(amount="0.01", market=MarketListing(venue_known=True, rules=None))
    assert rejected_by(outcome) == (RejectReason.INVALID_SYMBOL, "symbol_listed")
    assert isinstance(outcome, OrderRejected)
    assert "not listed" in outcome.detail


def test_a_venue_safety_has_no_listing_of_is_refused_not_trusted() -> None:
    outcome = decided(amount="0.01", market=MarketListing(venue_known=False, rules=None))
    assert rejected_by(outcome) == (RejectReason.INVALID_SYMBOL, "symbol_listed")
    assert isinstance(outcome, OrderRejected)
    assert outcome.values["venue_known"] == "false"


@pytest.mark.parametrize(
    ("amount", "price", "expected"),
    [
        ("0.00123", "50000.01", None),
        ("0.001234", "50000.01", (RejectReason.PRICE_INVALID, "market_precision")),
        ("0.00123", "50000.001", (RejectReason.PRICE_INVALID, "market_precision")),
    ],
)
def test_amount_and_price_must_sit_on_the_market_steps(
    amount: str, price: str, expected: tuple[RejectReason, str] | None
) -> None:
    assert rejected_by(decided(amount=amount, price=price)) == expected


@pytest.mark.parametrize(
    ("amount", "expected"),
    [
        ("0.001", None),
        ("0.00099999", (RejectReason.AMOUNT_BELOW_MIN, "market_amount")),
        ("19", None),
        ("19.00000001", (RejectReason.AMOUNT_ABOVE_MAX, "market_amount")),
    ],
)
def test_amount_within_the_markets_own_range(
    amount: str, expected: tuple[RejectReason, str] | None
) -> None:
    rules = MarketRules(amount_min=Decimal("0.001"), amount_max=Decimal("19"))
    assert rejected_by(decided(amount=amount, market=listed(rules))) == expected


@pytest.mark.parametrize(
    ("amount", "price", "expected"),
    [
        ("0.0001", "50000.00", None),  # cost exactly 5 USDT: the minimum
        ("0.0001", "49999.99", (RejectReason.AMOUNT_BELOW_MIN, "market_cost")),
        ("0.0001", None, None),  # a market order is costed at the reference price: 5 USDT
        ("0.00009", None, (RejectReason.AMOUNT_BELOW_MIN, "market_cost")),
    ],
)
def test_cost_at_least_the_markets_minimum(
    amount: str, price: str | None, expected: tuple[RejectReason, str] | None
) -> None:
    assert rejected_by(decided(amount=amount, price=price)) == expected


def test_cost_above_the_markets_maximum_is_refused() -> None:
    rules = MarketRules(cost_max=Decimal("500"))
    assert rejected_by(decided(amount="0.01", price="50000", market=listed(rules))) is None
    assert rejected_by(decided(amount="0.01", price="50000.01", market=listed(rules))) == (
        RejectReason.AMOUNT_ABOVE_MAX,
        "market_cost",
    )


def test_a_market_without_rules_of_its_own_leaves_only_safetys_limits() -> None:
    assert rejected_by(decided(amount="0.0000001234", market=listed())) == (
        RejectReason.AMOUNT_BELOW_MIN,
        "min_notional",  # $0.00617: below safety's own $0.01
    )
    assert rejected_by(decided(amount="0.00123456", market=listed())) is None
