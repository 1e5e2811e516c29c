"""Reconciliation with a venue: which differences are discrepancies, and when they are raised."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from services.ledger.domain.reconcile import ReconcilePolicy, VenueDifference, compare, judge

D = Decimal
TOLERANCE = D("0.00000001")
ONCE = ReconcilePolicy(confirmations=1)


def test_totals_within_the_tolerance_agree() -> None:
    ledger = {"USDT": D("1000"), "BTC": D("0.5")}
    venue = {"USDT": D("1000.00000001"), "BTC": D("0.49999999")}
    assert compare(ledger, venue, TOLERANCE) == []
    assert judge(ledger, venue, 0, ONCE).discrepancies == ()


def test_a_difference_beyond_the_tolerance_is_reported_with_its_sign() -> None:
    ledger = {"USDT": D("1000"), "BTC": D("0.5")}
    venue = {"USDT": D("999.99999998"), "BTC": D("0.5")}
    (found,) = compare(ledger, venue, TOLERANCE)
    assert found == VenueDifference("USDT", D("1000"), D("999.99999998"))
    assert found.difference == D("-0.00000002")
    assert found.is_shortfall


def test_an_asset_missing_at_the_venue_is_a_shortfall_of_all_of_it() -> None:
    (found,) = judge({"BTC": D("0.2"), "USDT": D("5")}, {"USDT": D("5")}, 0, ONCE).discrepancies
    assert (found.asset, found.ledger_total, found.venue_total, found.difference) == (
        "BTC",
        D("0.2"),
        D("0"),
        D("-0.2"),
    )


def test_an_asset_missing_in_the_ledger_is_a_surplus_raised_only_when_surplus_counts() -> None:
    ledger = {"USDT": D("5")}
    venue = {"USDT": D("5"), "ETH": D("3")}
    (found,) = compare(ledger, venue, TOLERANCE)
    assert (found.asset, found.difference, found.is_shortfall) == ("ETH", D("3"), False)
    assert judge(ledger, venue, 0, ONCE) == judge({}, {}, 0, ONCE)  # agreement: streak 0
    counted = judge(ledger, venue, 0, ReconcilePolicy(confirmations=1, surplus_counts=True))
    assert counted.discrepancies == (found,)


def test_zero_on_one_side_and_absent_on_the_other_agree() -> None:
    assert compare({"USDT": D("0")}, {"BTC": D("0.000")}, D(0)) == []


def test_a_disagreement_is_raised_once_when_it_has_persisted_over_the_confirmations() -> None:
    policy = ReconcilePolicy(confirmations=2)
    ledger, venue = {"USDT": D("100")}, {"USDT": D("90")}
    first = judge(ledger, venue, 0, policy)
    assert (first.streak, first.discrepancies) == (1, ())
    second = judge(ledger, venue, first.streak, policy)
    assert second.streak == 2
    assert [d.asset for d in second.discrepancies] == ["USDT"]
    third = judge(ledger, venue, second.streak, policy)
    assert (third.streak, third.discrepancies) == (3, ())  # raised already: not again


def test_an_agreeing_report_ends_the_streak() -> None:
    policy = ReconcilePolicy(confirmations=2)
    disagreed = judge({"USDT": D("100")}, {"USDT": D("90")}, 0, policy)
    agreed = judge({"USDT": D("100")}, {"USDT": D("100")}, disagreed.streak, policy)
    assert (agreed.streak, agreed.discrepancies) == (0, ())
    again = judge({"USDT": D("100")}, {"USDT": D("90")}, agreed.streak, policy)
    assert again.discrepancies == ()  # a new streak needs its own confirmations


amounts = st.decimals(min_value=0, max_value=10**6, places=8, allow_nan=False)
books = st.dictionaries(st.sampled_from(["BTC", "ETH", "USDT", "SOL"]), amounts, max_size=4)


@given(books, books)
def test_compare_is_exactly_the_assets_beyond_the_tolerance(
    ledger: dict[str, Decimal], venue: dict[str, Decimal]
) -> None:
    found = {d.asset: d for d in compare(ledger, venue, TOLERANCE)}
    for asset in ledger.keys() | venue.keys():
        gap = venue.get(asset, D(0)) - ledger.get(asset, D(0))
        assert (asset in found) == (abs(gap) > TOLERANCE)
        if asset in found:
            assert found[asset].difference == gap
