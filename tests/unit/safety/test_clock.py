"""Windows move with the injected clock: the rolling hour, the UTC day, the cooldown."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

from services.safety.domain import AccountState, decide_order, decide_withdrawal
from shared.contracts.decisions import OrderRejected, WithdrawalRejected
from shared.contracts.reasons import RejectReason
from tests.unit.safety.scenario import order_check, withdrawal_check

MIDNIGHT = datetime(2025, 3, 15, 0, 0, 0, tzinfo=UTC)
JUST_BEFORE_MIDNIGHT = MIDNIGHT - timedelta(microseconds=1)
DAY_BEFORE = JUST_BEFORE_MIDNIGHT.date()


def test_rolling_hour_frees_a_slot_when_the_oldest_order_turns_one_hour_old() -> None:
    first = datetime(2025, 3, 14, 10, 0, 0, tzinfo=UTC)
    account = AccountState(
        registered=True,
        approvals=tuple(first + timedelta(seconds=i) for i in range(100)),
    )
    an_hour_later = first + timedelta(hours=1)
    still_inside = order_check(account=account, now=an_hour_later - timedelta(microseconds=1))
    outcome = decide_order(still_inside).outcome
    assert isinstance(outcome, OrderRejected)
    assert outcome.reason == RejectReason.HOURLY_TRADE_LIMIT
    assert decide_order(order_check(account=account, now=an_hour_later)).approved


def test_daily_volume_resets_at_midnight_utc() -> None:
    account = AccountState(registered=True, order_volume_usd={DAY_BEFORE: Decimal("10000000")})
    outcome = decide_order(order_check(account=account, now=JUST_BEFORE_MIDNIGHT)).outcome
    assert isinstance(outcome, OrderRejected)
    assert outcome.reason == RejectReason.DAILY_VOLUME_EXCEEDED
    assert decide_order(order_check(account=account, now=MIDNIGHT)).approved


def test_the_day_is_the_utc_day_whatever_the_clock_timezone() -> None:
    account = AccountState(registered=True, order_volume_usd={DAY_BEFORE: Decimal("10000000")})
    one_am_in_berlin_summer = MIDNIGHT.astimezone(timezone(timedelta(hours=2))) - timedelta(
        hours=1
    )  # 23:00 UTC the day before
    outcome = decide_order(order_check(account=account, now=one_am_in_berlin_summer)).outcome
    assert isinstance(outcome, OrderRejected)
    assert outcome.reason == RejectReason.DAILY_VOLUME_EXCEEDED


def test_realised_loss_limit_resets_at_midnight_utc() -> None:
    account = AccountState(registered=True, realised_pnl_usd={DAY_BEFORE: Decimal("-5000000")})
    outcome = decide_order(order_check(account=account, now=JUST_BEFORE_MIDNIGHT)).outcome
    assert isinstance(outcome, OrderRejected)
    assert outcome.reason == RejectReason.DAILY_LOSS_LIMIT
    assert decide_order(order_check(account=account, now=MIDNIGHT)).approved


def test_withdrawal_limit_resets_at_midnight_utc() -> None:
    account = AccountState(registered=True, withdrawn_usd={DAY_BEFORE: Decimal("500000")})
    late = withdrawal_check(account=account, now=JUST_BEFORE_MIDNIGHT)
    outcome = decide_withdrawal(late).outcome
    assert isinstance(outcome, WithdrawalRejected)
    assert outcome.reason == RejectReason.WITHDRAWAL_DAILY_LIMIT
    assert decide_withdrawal(withdrawal_check(account=account, now=MIDNIGHT)).approved


def test_cooldown_ends_exactly_five_minutes_after_the_last_failure() -> None:
    failed_at = datetime(2025, 3, 14, 12, 0, 0, tzinfo=UTC)
    account = AccountState(registered=True, consecutive_failures=3, last_failure_at=failed_at)
    during = order_check(account=account, now=failed_at + timedelta(minutes=5, microseconds=-1))
    outcome = decide_order(during).outcome
    assert isinstance(outcome, OrderRejected)
    assert outcome.reason == RejectReason.COOLDOWN_ACTIVE
    after = order_check(account=account, now=failed_at + timedelta(minutes=5))
    assert decide_order(after).approved


def test_orders_stamped_ahead_of_the_clock_still_count() -> None:
    """Another instance's clock running ahead must not open the hourly limit."""
    now = datetime(2025, 3, 14, 12, 0, 0, tzinfo=UTC)
    ahead = tuple(now + timedelta(seconds=2 + i) for i in range(100))
    outcome = decide_order(
        order_check(account=AccountState(registered=True, approvals=ahead), now=now)
    ).outcome
    assert isinstance(outcome, OrderRejected)
    assert outcome.reason == RejectReason.HOURLY_TRADE_LIMIT
