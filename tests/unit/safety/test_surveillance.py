"""The post-trade rules at their boundaries: the execution throttle, wash trades, the
order-to-trade ratio, and when a match starts a new episode."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from services.safety.domain.surveillance import (
    BookedFill,
    execution_throttle,
    order_to_trade,
    starts_episode,
    wash_trade,
)
from shared.contracts.orders import Side
from tests.unit.safety.scenario import default_limits

NOW = datetime(2024, 5, 1, 12, tzinfo=UTC)
LIMITS = default_limits(
    execution_throttle_fills=3,
    execution_throttle_window_seconds=60,
    wash_trade_window_seconds=60,
    order_to_trade_ratio=Decimal(50),
    order_to_trade_min_orders=100,
)


def seconds_ago(*seconds: float) -> tuple[datetime, ...]:
    return tuple(NOW - timedelta(seconds=s) for s in seconds)


def test_the_throttle_trips_at_n_plus_one_fills_in_the_window_not_at_n() -> None:
    assert execution_throttle(seconds_ago(0, 10, 20), NOW, LIMITS) is None
    tripped = execution_throttle(seconds_ago(0, 10, 20, 30), NOW, LIMITS)
    assert tripped is not None
    assert tripped.detail == "execution throttle: 4 fills within 60 s (limit 3)"
    assert tripped.values == {
        "fills": "4",
        "window_seconds": "60",
        "execution_throttle_fills": "3",
    }
    assert execution_throttle(seconds_ago(0, 10, 20, 60), NOW, LIMITS) is None  # one is out


def test_the_throttle_counts_only_fills_after_the_operators_release() -> None:
    fills = seconds_ago(0, 10, 20, 30)
    assert execution_throttle(fills, NOW, LIMITS, counting_since=NOW - timedelta(seconds=35))
    assert (
        execution_throttle(fills, NOW, LIMITS, counting_since=NOW - timedelta(seconds=30)) is None
    )


def fill(trade: str, side: Side, price: str, seconds: float) -> BookedFill:
    return BookedFill(f"o-{trade}", trade, side, Decimal(price), NOW + timedelta(seconds=seconds))


def test_a_buy_and_a_sell_at_crossing_prices_inside_the_window_are_a_wash_trade() -> None:
    sell = fill("s", Side.SELL, "99", 0)
    found = wash_trade(sell, (fill("b", Side.BUY, "100", -59.9),), LIMITS)
    assert found is not None and found.rule == "wash_trade"
    assert found.values["buy_order"] == "o-b" and found.values["seconds_apart"] == "59.9"
    assert wash_trade(sell, (fill("b", Side.BUY, "99", -1),), LIMITS) is not None  # equal


def test_no_wash_trade_outside_the_window_same_side_or_prices_not_crossing() -> None:
    sell = fill("s", Side.SELL, "99", 0)
    assert wash_trade(sell, (fill("b", Side.BUY, "100", -60),), LIMITS) is None
    assert wash_trade(sell, (fill("b", Side.SELL, "100", -1),), LIMITS) is None
    assert wash_trade(sell, (fill("b", Side.BUY, "98.99", -1),), LIMITS) is None
    assert wash_trade(sell, (sell,), LIMITS) is None


def test_the_order_to_trade_ratio_at_and_above_its_threshold() -> None:
    assert order_to_trade(99, 0, LIMITS) is None  # too few orders to judge
    assert order_to_trade(100, 2, LIMITS) is None  # 50 per fill: at the threshold
    above = order_to_trade(101, 2, LIMITS)
    assert above is not None and above.values["ratio"] == "50.5"
    no_fills = order_to_trade(100, 0, LIMITS)
    assert no_fills is not None and no_fills.values["ratio"] == "Infinity"


def test_a_match_starts_an_episode_only_after_a_quiet_window() -> None:
    window = timedelta(seconds=60)
    assert starts_episode(None, NOW, window)
    assert not starts_episode(NOW - timedelta(seconds=59), NOW, window)
    assert starts_episode(NOW - timedelta(seconds=60), NOW, window)
    assert not starts_episode(NOW + timedelta(seconds=5), NOW, window)  # late arrival
