"""Each pre-trade limit at its boundary: exactly at the limit passes, one cent over is rejected."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from services.safety.domain import AccountState, Position, decide_order
from shared.contracts.decisions import OrderApproved, OrderRejected
from shared.contracts.orders import Side
from shared.contracts.reasons import RejectReason
from tests.unit.safety.scenario import NOW, default_limits, order, order_check, times


def rejection(check_result: OrderApproved | OrderRejected) -> tuple[RejectReason, str] | None:
    if isinstance(check_result, OrderRejected):
        return check_result.reason, check_result.rule
    return None


def test_order_worth_exactly_the_minimum_is_approved() -> None:
    check = order_check(order(amount="0.0000002", price="50000"))  # $0.01
    assert decide_order(check).approved


def test_order_worth_less_than_the_minimum_is_rejected() -> None:
    decision = decide_order(order_check(order(amount="0.00000019999", price="50000")))
    assert rejection(decision.outcome) == (RejectReason.AMOUNT_BELOW_MIN, "min_notional")


def test_order_worth_exactly_the_maximum_is_approved() -> None:
    assert decide_order(order_check(order(amount="20", price="50000"))).approved  # $1,000,000


def test_order_one_cent_above_the_maximum_is_rejected() -> None:
    decision = decide_order(order_check(order(amount="20", price="50000.0005")))
    assert rejection(decision.outcome) == (RejectReason.AMOUNT_ABOVE_MAX, "max_notional")
    assert isinstance(decision.outcome, OrderRejected)
    assert decision.outcome.values["notional_usd"] == "1000000.01"
    assert decision.outcome.values["max_notional_usd"] == "1000000"


def test_market_order_is_valued_at_the_reference_price() -> None:
    decision = decide_order(order_check(order(amount="20.0000002")))  # $1,000,000.01 at market
    assert rejection(decision.outcome) == (RejectReason.AMOUNT_ABOVE_MAX, "max_notional")


def test_limit_price_exactly_ten_percent_from_reference_is_approved() -> None:
    assert decide_order(order_check(order(price="55000"))).approved
    assert decide_order(order_check(order(price="45000"))).approved


def test_limit_price_a_cent_beyond_the_band_is_rejected() -> None:
    for price in ("55000.01", "44999.99"):
        decision = decide_order(order_check(order(price=price)))
        assert rejection(decision.outcome) == (RejectReason.PRICE_OUT_OF_BAND, "price_band")


def test_daily_volume_reaching_exactly_the_limit_is_approved() -> None:
    account = AccountState(registered=True, order_volume_usd={NOW.date(): Decimal("9000000")})
    assert decide_order(order_check(order(amount="20"), account=account)).approved


def test_daily_volume_a_cent_over_the_limit_is_rejected() -> None:
    account = AccountState(registered=True, order_volume_usd={NOW.date(): Decimal("9000000.01")})
    decision = decide_order(order_check(order(amount="20"), account=account))
    assert rejection(decision.outcome) == (RejectReason.DAILY_VOLUME_EXCEEDED, "daily_volume")


def test_hundredth_order_in_an_hour_is_approved_and_the_next_is_rejected() -> None:
    ninety_nine = AccountState(
        registered=True,
        approvals=times(99, ending=NOW, spacing=timedelta(seconds=30)),
    )
    assert decide_order(order_check(account=ninety_nine)).approved
    hundred = AccountState(
        registered=True,
        approvals=times(100, ending=NOW, spacing=timedelta(seconds=30)),
    )
    decision = decide_order(order_check(account=hundred))
    assert rejection(decision.outcome) == (RejectReason.HOURLY_TRADE_LIMIT, "hourly_trades")


def test_eleventh_order_within_a_second_is_throttled() -> None:
    nine = AccountState(
        registered=True,
        approvals=times(9, ending=NOW, spacing=timedelta(milliseconds=50)),
    )
    assert decide_order(order_check(account=nine)).approved
    ten = AccountState(
        registered=True,
        approvals=times(10, ending=NOW, spacing=timedelta(milliseconds=50)),
    )
    decision = decide_order(order_check(account=ten))
    assert rejection(decision.outcome) == (RejectReason.HOURLY_TRADE_LIMIT, "order_rate")


def test_three_failures_in_a_row_start_a_five_minute_cooldown() -> None:
    two = AccountState(registered=True, consecutive_failures=2, last_failure_at=NOW)
    assert decide_order(order_check(account=two)).approved
    three = AccountState(
        registered=True,
        consecutive_failures=3,
        last_failure_at=NOW - timedelta(seconds=299),
    )
    decision = decide_order(order_check(account=three))
    assert rejection(decision.outcome) == (RejectReason.COOLDOWN_ACTIVE, "cooldown")


def test_position_reaching_exactly_its_limit_is_approved() -> None:
    # $10,000,000 at $50,000 is 200 BTC: 150 held + 40 on open orders + 10 now.
    held = {"BTC": Position(Decimal("150"), Decimal("40000"), open_buy=Decimal("40"))}
    check = order_check(order(amount="10"), account=AccountState(registered=True, positions=held))
    assert decide_order(check).approved


def test_position_a_cent_over_its_limit_is_rejected() -> None:
    held = {"BTC": Position(Decimal("150"), Decimal("40000"), open_buy=Decimal("40.0000002"))}
    decision = decide_order(
        order_check(
            order(amount="10"),
            account=AccountState(registered=True, positions=held),
        )
    )
    assert rejection(decision.outcome) == (RejectReason.POSITION_LIMIT, "position_limit")


def test_position_limit_can_be_set_per_asset() -> None:
    limits = default_limits(position_limits_usd={"BTC": Decimal("400")})
    decision = decide_order(order_check(order(amount="0.008000001"), limits=limits))
    assert rejection(decision.outcome) == (RejectReason.POSITION_LIMIT, "position_limit")
    assert decide_order(order_check(order(amount="0.008"), limits=limits)).approved


def test_selling_is_never_stopped_by_the_position_limit() -> None:
    held = {"BTC": Position(Decimal("500"), Decimal("40000"))}
    check = order_check(
        order(amount="1", side=Side.SELL),
        account=AccountState(registered=True, positions=held),
    )
    assert decide_order(check).approved


def test_coins_sold_earlier_do_not_make_room_for_a_bigger_position() -> None:
    sold = {"BTC": Position(Decimal("-100"), Decimal("40000"))}
    check = order_check(
        order(amount="10"),
        account=AccountState(registered=True, positions=sold),
        limits=default_limits(position_limit_usd=Decimal("499999.99")),
    )
    assert rejection(decide_order(check).outcome) == (RejectReason.POSITION_LIMIT, "position_limit")


def test_realised_loss_exactly_at_the_limit_still_allows_orders() -> None:
    account = AccountState(registered=True, realised_pnl_usd={NOW.date(): Decimal("-1000000")})
    assert decide_order(order_check(account=account)).approved


def test_realised_loss_a_cent_above_the_limit_stops_orders() -> None:
    account = AccountState(registered=True, realised_pnl_usd={NOW.date(): Decimal("-1000000.01")})
    decision = decide_order(order_check(account=account))
    assert rejection(decision.outcome) == (RejectReason.DAILY_LOSS_LIMIT, "daily_loss")


def test_many_rejections_in_an_hour_hold_orders_as_suspicious() -> None:
    fourty_nine = AccountState(
        registered=True, rejections=times(49, ending=NOW, spacing=timedelta(seconds=10))
    )
    assert decide_order(order_check(account=fourty_nine)).approved
    fifty = AccountState(
        registered=True, rejections=times(50, ending=NOW, spacing=timedelta(seconds=10))
    )
    decision = decide_order(order_check(account=fifty))
    assert rejection(decision.outcome) == (RejectReason.SUSPICIOUS_ACTIVITY, "rejection_burst")
