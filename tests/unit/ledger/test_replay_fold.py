from __future__ import annotations

from decimal import Decimal

import pytest

from services.ledger.domain.accounts import available, held
from services.ledger.replay import ReplayMismatch, differences, fold, in_application_order
from services.ledger.settings import LedgerSettings
from shared.contracts.decisions import OrderRejected
from shared.contracts.reasons import RejectReason
from tests.unit.ledger.messages import USER, D, approve, cancelled, deposit, envelope


def test_fold_applies_in_the_order_given_so_the_race_for_funds_replays_as_it_ran() -> None:
    money, order = deposit("100"), approve("o-1", "1", price="99")
    assert fold([money, order]).user_balances(USER)["USDT"] == (D("0.901"), D("99.099"))
    assert fold([order, money]).user_balances(USER)["USDT"] == (D("100"), D(0))


def test_fold_skips_a_redelivered_event_and_keeps_what_it_refuses() -> None:
    money = deposit("100")
    foreign = cancelled("o-1", account="mallory")
    book = fold([money, money, approve("o-1", "1", price="10"), foreign])
    assert book.applied == 2
    assert [m for m, _ in book.refused] == [foreign]


def test_messages_are_put_in_the_live_order_and_unknown_ones_last() -> None:
    first, second, late = deposit("1", reference="a"), deposit("2", reference="b"), deposit("3")
    noise = envelope(
        OrderRejected(order_id="x", reason=RejectReason.KILL_SWITCH, rule="r", detail="d")
    )
    order = {second.event_id: 1, first.event_id: 2}
    assert in_application_order([late, first, noise, second], order) == [second, first, late]


def test_differences_name_each_account_that_disagrees_missing_counting_as_zero() -> None:
    live = {available(USER, "USDT"): D(5), held(USER, "USDT"): D(0)}
    rebuilt = {available(USER, "USDT"): D(5), available(USER, "BTC"): D(1)}
    assert differences(live, rebuilt) == [ReplayMismatch(available(USER, "BTC"), Decimal(0), D(1))]


def test_max_fee_rate_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRYPTOORCH_LEDGER_MAX_FEE_RATE", "0.002")
    assert LedgerSettings().max_fee_rate == D("0.002")
    monkeypatch.delenv("CRYPTOORCH_LEDGER_MAX_FEE_RATE")
    assert LedgerSettings().max_fee_rate == D("0.001")
