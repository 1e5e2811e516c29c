"""The rules run in one documented order and the first failure decides."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from decimal import Decimal

from services.safety.domain import (
    ORDER_RULES,
    WITHDRAWAL_RULES,
    AccountState,
    KillSwitches,
    KillSwitchScope,
    PriceBook,
    Restrictions,
    SentOrder,
    decide_order,
)
from shared.contracts.decisions import OrderRejected
from shared.contracts.orders import Mode
from shared.contracts.reasons import RejectReason
from shared.contracts.restrictions import RestrictionScope
from tests.unit.safety.scenario import NOW, order, order_check, times


def test_order_rules_run_in_the_documented_order() -> None:
    assert ORDER_RULES == (
        "account_active",
        "kill_switch",
        "restricted",
        "two_factor",
        "exchange_key",
        "symbol_listed",
        "price_valid",
        "market_precision",
        "market_amount",
        "duplicate_order",
        "reference_price",
        "price_band",
        "market_cost",
        "min_notional",
        "max_notional",
        "hourly_trades",
        "order_rate",
        "cooldown",
        "daily_volume",
        "position_limit",
        "daily_loss",
        "rejection_burst",
    )


def test_withdrawal_rules_run_in_the_documented_order() -> None:
    assert WITHDRAWAL_RULES == (
        "account_active",
        "kill_switch",
        "restricted",
        "two_factor",
        "exchange_key",
        "reference_price",
        "withdrawal_daily",
        "withdrawal_burst",
    )


def test_each_rule_decides_only_when_every_earlier_rule_passed() -> None:
    """Break every rule at once, then repair them one by one from the front: each time the
    next rule in the documented order is the one that rejects."""
    busy = AccountState(
        registered=True,
        approvals=times(100, ending=NOW, spacing=timedelta(milliseconds=10)),
        consecutive_failures=3,
        last_failure_at=NOW,
        order_volume_usd={NOW.date(): Decimal("10000000")},
        realised_pnl_usd={NOW.date(): Decimal("-2000000")},
        rejections=times(50, ending=NOW, spacing=timedelta(seconds=1)),
    )
    halted = KillSwitches(frozenset({(KillSwitchScope.GLOBAL, "")}))
    restricted = Restrictions(frozenset({(RestrictionScope.SYMBOL, "DOGE/USDT")}))
    unknown = dataclasses.replace(busy, registered=False)
    twice = dataclasses.replace(busy, sent_orders=(SentOrder(order(order_id="sent-1"), NOW),))
    expected = [
        (RejectReason.ACCOUNT_INACTIVE, "account_active"),
        (RejectReason.KILL_SWITCH, "kill_switch"),
        (RejectReason.RESTRICTED, "restricted"),
        (RejectReason.TWO_FACTOR_REQUIRED, "two_factor"),
        (RejectReason.EXCHANGE_KEY_INVALID, "exchange_key"),
        (RejectReason.INVALID_SYMBOL, "symbol_listed"),
        (RejectReason.DUPLICATE_ORDER, "duplicate_order"),
        (RejectReason.PRICE_UNAVAILABLE, "reference_price"),
    ]
    doge = order(mode=Mode.REAL, symbol="DOGE/USDT")
    checks = [
        order_check(doge, account=unknown, switches=halted, restrictions=restricted),
        order_check(doge, account=busy, switches=halted, restrictions=restricted),
        order_check(doge, account=busy, restrictions=restricted),
        order_check(doge, account=busy),
        order_check(doge, account=busy, two_factor_verified=True),
        order_check(order(symbol="DOGE/USDT"), account=twice),
        order_check(order(), account=twice, book=PriceBook({})),
        order_check(order(), account=busy, book=PriceBook({})),
    ]
    for check, want in zip(checks, expected, strict=True):
        outcome = decide_order(check).outcome
        assert isinstance(outcome, OrderRejected)
        assert (outcome.reason, outcome.rule) == want


def test_limits_are_checked_in_order_after_valuation() -> None:
    account = AccountState(
        registered=True,
        approvals=times(100, ending=NOW, spacing=timedelta(milliseconds=10)),
        consecutive_failures=3,
        last_failure_at=NOW,
        order_volume_usd={NOW.date(): Decimal("10000000")},
        realised_pnl_usd={NOW.date(): Decimal("-2000000")},
        rejections=times(50, ending=NOW, spacing=timedelta(seconds=1)),
    )
    repairs: list[tuple[str, dict[str, object]]] = [
        ("hourly_trades", {"approvals": ()}),
        ("cooldown", {"consecutive_failures": 0}),
        ("daily_volume", {"order_volume_usd": {}}),
        ("daily_loss", {"realised_pnl_usd": {}}),
        ("rejection_burst", {"rejections": ()}),
    ]
    for rule, repair in repairs:
        outcome = decide_order(order_check(account=account)).outcome
        assert isinstance(outcome, OrderRejected)
        assert outcome.rule == rule
        account = dataclasses.replace(account, **repair)  # type: ignore[arg-type]
    assert decide_order(order_check(account=account)).approved
