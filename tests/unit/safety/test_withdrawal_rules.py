"""Pre-withdrawal checks: switches, second factor, venue key, valuation, daily limit, bursts."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from services.safety.domain import (
    AccountState,
    KillSwitches,
    KillSwitchScope,
    PriceBook,
    decide_withdrawal,
)
from shared.contracts.decisions import WithdrawalApproved, WithdrawalRejected
from shared.contracts.reasons import RejectReason
from tests.unit.safety.scenario import ACCOUNT, NOW, default_limits, times, withdrawal_check


def rejection(outcome: WithdrawalApproved | WithdrawalRejected) -> tuple[RejectReason, str] | None:
    if isinstance(outcome, WithdrawalRejected):
        return outcome.reason, outcome.rule
    return None


def test_ordinary_withdrawal_is_approved_with_its_spec() -> None:
    decision = decide_withdrawal(withdrawal_check())
    assert isinstance(decision.outcome, WithdrawalApproved)
    assert decision.outcome.withdrawal.withdrawal_id == "withdrawal-1"
    assert decision.amount_usd == Decimal("100")


def test_global_and_account_kill_switches_halt_withdrawals() -> None:
    for engaged in ((KillSwitchScope.GLOBAL, ""), (KillSwitchScope.ACCOUNT, ACCOUNT)):
        check = withdrawal_check(switches=KillSwitches(frozenset({engaged})))
        assert rejection(decide_withdrawal(check).outcome) == (
            RejectReason.KILL_SWITCH,
            "kill_switch",
        )


def test_symbol_kill_switch_does_not_halt_withdrawals() -> None:
    engaged = KillSwitches(frozenset({(KillSwitchScope.SYMBOL, "BTC/USDT")}))
    assert decide_withdrawal(withdrawal_check(asset="BTC", amount="1", switches=engaged)).approved


def test_withdrawal_without_second_factor_is_rejected() -> None:
    decision = decide_withdrawal(withdrawal_check(two_factor_verified=False))
    assert rejection(decision.outcome) == (RejectReason.TWO_FACTOR_REQUIRED, "two_factor")


def test_second_factor_for_withdrawals_can_be_configured_off() -> None:
    limits = default_limits(withdrawal_requires_two_factor=False)
    assert decide_withdrawal(withdrawal_check(two_factor_verified=False, limits=limits)).approved


def test_withdrawal_from_a_real_exchange_needs_a_validated_key() -> None:
    decision = decide_withdrawal(withdrawal_check(exchange="binance"))
    assert rejection(decision.outcome) == (RejectReason.EXCHANGE_KEY_INVALID, "exchange_key")
    keyed = AccountState(registered=True, validated_exchanges=frozenset({"binance"}))
    assert decide_withdrawal(withdrawal_check(exchange="binance", account=keyed)).approved


def test_withdrawal_of_an_asset_without_a_fresh_price_is_rejected() -> None:
    decision = decide_withdrawal(withdrawal_check(asset="BTC", amount="1", book=PriceBook({})))
    assert rejection(decision.outcome) == (RejectReason.PRICE_UNAVAILABLE, "reference_price")


def test_withdrawal_is_valued_at_the_assets_usdt_price() -> None:
    decision = decide_withdrawal(withdrawal_check(asset="BTC", amount="10"))  # $500,000
    assert decision.approved
    assert decision.amount_usd == Decimal("500000")


def test_withdrawals_reaching_exactly_the_daily_limit_are_approved() -> None:
    account = AccountState(registered=True, withdrawn_usd={NOW.date(): Decimal("499900")})
    assert decide_withdrawal(withdrawal_check(amount="100", account=account)).approved


def test_withdrawal_a_cent_over_the_daily_limit_is_rejected() -> None:
    account = AccountState(registered=True, withdrawn_usd={NOW.date(): Decimal("499900")})
    decision = decide_withdrawal(withdrawal_check(amount="100.01", account=account))
    assert rejection(decision.outcome) == (
        RejectReason.WITHDRAWAL_DAILY_LIMIT,
        "withdrawal_daily",
    )
    assert isinstance(decision.outcome, WithdrawalRejected)
    assert decision.outcome.values == {
        "withdrawn_today_usd": "499900",
        "amount_usd": "100.01",
        "withdrawal_daily_limit_usd": "500000",
    }


def test_many_withdrawals_in_an_hour_are_held_as_suspicious() -> None:
    nineteen = AccountState(
        registered=True,
        withdrawals=times(19, ending=NOW, spacing=timedelta(minutes=3)),
    )
    assert decide_withdrawal(withdrawal_check(account=nineteen)).approved
    twenty = AccountState(
        registered=True,
        withdrawals=times(20, ending=NOW, spacing=timedelta(minutes=2)),
    )
    decision = decide_withdrawal(withdrawal_check(account=twenty))
    assert rejection(decision.outcome) == (RejectReason.SUSPICIOUS_ACTIVITY, "withdrawal_burst")
