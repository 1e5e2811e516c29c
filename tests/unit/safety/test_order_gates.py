"""The gates before any limit: kill switches, real-money requirements, symbol, price."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from services.safety.domain import (
    AccountState,
    KillSwitches,
    KillSwitchMode,
    KillSwitchScope,
    PriceBook,
    decide_order,
)
from shared.contracts.decisions import OrderApproved, OrderRejected
from shared.contracts.orders import Mode, Side
from shared.contracts.reasons import RejectReason
from tests.unit.safety.scenario import (
    ACCOUNT,
    NOW,
    listed,
    order,
    order_check,
    prices,
)


def reason_of(outcome: OrderApproved | OrderRejected) -> RejectReason | None:
    return outcome.reason if isinstance(outcome, OrderRejected) else None


def switches(*engaged: tuple[KillSwitchScope, str]) -> KillSwitches:
    return KillSwitches(frozenset(engaged))


def test_global_account_and_symbol_kill_switches_each_halt_the_order() -> None:
    for engaged in (
        (KillSwitchScope.GLOBAL, ""),
        (KillSwitchScope.ACCOUNT, ACCOUNT),
        (KillSwitchScope.SYMBOL, "BTC/USDT"),
    ):
        decision = decide_order(order_check(switches=switches(engaged)))
        assert reason_of(decision.outcome) == RejectReason.KILL_SWITCH
        assert isinstance(decision.outcome, OrderRejected)
        assert decision.outcome.values["scope"] == engaged[0].value


def test_kill_switch_of_another_account_or_symbol_does_not_halt_this_order() -> None:
    others = switches((KillSwitchScope.ACCOUNT, "user-2"), (KillSwitchScope.SYMBOL, "ETH/USDT"))
    assert decide_order(order_check(switches=others)).approved


def reduce_only(*engaged: tuple[KillSwitchScope, str]) -> KillSwitches:
    return KillSwitches(frozenset(engaged), reduce_only=frozenset(engaged))


def test_a_reduce_only_switch_lets_a_sell_through_and_refuses_a_buy() -> None:
    for engaged in (
        (KillSwitchScope.GLOBAL, ""),
        (KillSwitchScope.ACCOUNT, ACCOUNT),
        (KillSwitchScope.SYMBOL, "BTC/USDT"),
    ):
        sell = decide_order(order_check(order(side=Side.SELL), switches=reduce_only(engaged)))
        assert sell.approved, sell.outcome
        buy = decide_order(order_check(order(side=Side.BUY), switches=reduce_only(engaged)))
        assert isinstance(buy.outcome, OrderRejected)
        assert buy.outcome.reason is RejectReason.KILL_SWITCH
        assert buy.outcome.values == {
            "scope": engaged[0].value,
            "target": engaged[1],
            "mode": "reduce_only",
        }


def test_a_halting_switch_wins_over_a_reduce_only_one_in_the_same_scope() -> None:
    both = KillSwitches(
        frozenset({(KillSwitchScope.GLOBAL, ""), (KillSwitchScope.ACCOUNT, ACCOUNT)}),
        reduce_only=frozenset({(KillSwitchScope.GLOBAL, "")}),
    )
    sell = decide_order(order_check(order(side=Side.SELL), switches=both))
    assert isinstance(sell.outcome, OrderRejected)
    assert sell.outcome.values["mode"] == "halt"
    assert sell.outcome.values["scope"] == "account"


def test_a_reduce_only_switch_still_stops_withdrawals() -> None:
    engaged = reduce_only((KillSwitchScope.ACCOUNT, ACCOUNT))
    stopping = engaged.halting_withdrawal(ACCOUNT)
    assert stopping is not None
    assert (stopping.scope, stopping.mode) == (KillSwitchScope.ACCOUNT, KillSwitchMode.REDUCE_ONLY)


def test_real_money_order_without_second_factor_is_rejected() -> None:
    decision = decide_order(order_check(order(mode=Mode.REAL)))
    assert reason_of(decision.outcome) == RejectReason.TWO_FACTOR_REQUIRED


def test_real_money_order_without_a_validated_key_fails_closed() -> None:
    decision = decide_order(order_check(order(mode=Mode.REAL), two_factor_verified=True))
    assert reason_of(decision.outcome) == RejectReason.EXCHANGE_KEY_INVALID


def test_real_money_order_with_a_validated_key_passes_the_key_rule() -> None:
    account = AccountState(registered=True, validated_exchanges=frozenset({"paper"}))
    check = order_check(order(mode=Mode.REAL), two_factor_verified=True, account=account)
    assert decide_order(check).approved


def test_paper_order_needs_no_second_factor() -> None:
    assert decide_order(order_check(order(mode=Mode.PAPER))).approved


def test_symbol_not_listed_on_the_paper_venue_is_rejected() -> None:
    decision = decide_order(order_check(order(symbol="DOGE/USDT"), book=prices(DOGE_USDT="0.1")))
    assert reason_of(decision.outcome) == RejectReason.INVALID_SYMBOL


def test_exchange_without_a_known_market_list_lists_nothing() -> None:
    decision = decide_order(order_check(order(exchange="binance")))
    assert reason_of(decision.outcome) == RejectReason.INVALID_SYMBOL


def test_limit_price_finer_than_the_market_precision_is_invalid() -> None:
    assert decide_order(order_check(order(price="50000.12345678"))).approved
    decision = decide_order(order_check(order(price="50000.123456789")))
    assert reason_of(decision.outcome) == RejectReason.PRICE_INVALID


def test_trailing_zeros_do_not_count_as_precision() -> None:
    assert decide_order(order_check(order(price="50000.100000000000"))).approved


def test_order_without_any_reference_price_is_rejected() -> None:
    decision = decide_order(order_check(book=PriceBook({})))
    assert reason_of(decision.outcome) == RejectReason.PRICE_UNAVAILABLE


def test_reference_price_exactly_sixty_seconds_old_is_fresh_and_older_is_stale() -> None:
    at_limit = prices(at=NOW - timedelta(seconds=60))
    assert decide_order(order_check(book=at_limit)).approved
    stale = prices(at=NOW - timedelta(seconds=60, microseconds=1))
    decision = decide_order(order_check(book=stale))
    assert reason_of(decision.outcome) == RejectReason.PRICE_UNAVAILABLE


def test_price_from_far_in_the_future_is_not_trusted() -> None:
    decision = decide_order(order_check(book=prices(at=NOW + timedelta(seconds=61))))
    assert reason_of(decision.outcome) == RejectReason.PRICE_UNAVAILABLE


def test_non_stable_quote_is_valued_through_its_usdt_price() -> None:
    spec = order(symbol="ETH/BTC", amount="400")  # 400 ETH * 0.05 BTC * $50,000 = $1,000,000
    check = order_check(spec, market=listed(), book=prices(ETH_BTC="0.05"))
    decision = decide_order(check)
    assert decision.approved
    assert decision.valuation is not None
    assert decision.valuation.notional_usd == Decimal("1000000")
    over = order_check(
        order(symbol="ETH/BTC", amount="400.0000002"), market=listed(), book=check.prices
    )
    assert reason_of(decide_order(over).outcome) == RejectReason.AMOUNT_ABOVE_MAX


def test_non_stable_quote_without_a_fresh_usdt_price_cannot_be_valued() -> None:
    book = PriceBook({"ETH/BTC": prices(ETH_BTC="0.05").prices["ETH/BTC"]})
    decision = decide_order(order_check(order(symbol="ETH/BTC"), market=listed(), book=book))
    assert reason_of(decision.outcome) == RejectReason.PRICE_UNAVAILABLE


def test_approval_carries_the_reference_price_band_and_every_check() -> None:
    decision = decide_order(order_check())
    assert isinstance(decision.outcome, OrderApproved)
    assert decision.outcome.reference_price == Decimal("50000")
    assert decision.outcome.price_band == Decimal("0.10")
    assert decision.outcome.checks[0] == "account_active"
    assert decision.outcome.checks[-1] == "rejection_burst"
