"""The limits an order, a withdrawal or a cancel must stay within: an order's USD notional,
its rate per hour and second, the cooldown after failures, today's volume and loss, the
resulting position, bursts held as suspicious, the daily withdrawal limit, the pre-funded
credit the ledger holds, and the gateway's cancel cap.
"""

from __future__ import annotations

from shared.controls.control import PRE, Control

L = "tests/unit/safety/test_order_limits.py::"
W = "tests/unit/safety/test_withdrawal_rules.py::"

LIMITS: tuple[Control, ...] = (
    Control(
        "min_notional",
        PRE,
        "safety",
        "AMOUNT_BELOW_MIN",
        "the order's notional in USD at least this",
        L + "test_order_worth_less_than_the_minimum_is_rejected",
        setting="min_notional_usd",
    ),
    Control(
        "max_notional",
        PRE,
        "safety",
        "AMOUNT_ABOVE_MAX",
        "the order's notional in USD at most this",
        L + "test_order_one_cent_above_the_maximum_is_rejected",
        setting="max_notional_usd",
    ),
    Control(
        "hourly_trades",
        PRE,
        "safety",
        "HOURLY_TRADE_LIMIT",
        "orders approved in the last rolling hour",
        L + "test_hundredth_order_in_an_hour_is_approved_and_the_next_is_rejected",
        setting="hourly_trade_limit",
    ),
    Control(
        "order_rate",
        PRE,
        "safety",
        "HOURLY_TRADE_LIMIT",
        "orders per second (the message throttle, RTS 6 Art. 15(1)(d))",
        L + "test_eleventh_order_within_a_second_is_throttled",
        setting="orders_per_second",
    ),
    Control(
        "cooldown",
        PRE,
        "safety",
        "COOLDOWN_ACTIVE",
        "this many failed orders in a row stop orders for `cooldown_seconds`",
        L + "test_three_failures_in_a_row_start_a_five_minute_cooldown",
        setting="cooldown_after_failures",
    ),
    Control(
        "daily_volume",
        PRE,
        "safety",
        "DAILY_VOLUME_EXCEEDED",
        "notional in USD approved today (UTC)",
        L + "test_daily_volume_a_cent_over_the_limit_is_rejected",
        setting="daily_volume_limit_usd",
    ),
    Control(
        "position_limit",
        PRE,
        "safety",
        "POSITION_LIMIT",
        "the resulting position in the base asset, in USD (per asset: position_limits_usd)",
        L + "test_position_a_cent_over_its_limit_is_rejected",
        setting="position_limit_usd",
    ),
    Control(
        "daily_loss",
        PRE,
        "safety",
        "DAILY_LOSS_LIMIT",
        "today's realised loss in USD",
        L + "test_realised_loss_a_cent_above_the_limit_stops_orders",
        setting="daily_loss_limit_usd",
    ),
    Control(
        "rejection_burst",
        PRE,
        "safety",
        "SUSPICIOUS_ACTIVITY + SuspiciousActivityFlagged",
        "this many orders rejected in the last hour hold the next ones for review",
        L + "test_many_rejections_in_an_hour_hold_orders_as_suspicious",
        setting="suspicious_rejections_per_hour",
    ),
    Control(
        "withdrawal_daily",
        PRE,
        "safety",
        "WITHDRAWAL_DAILY_LIMIT",
        "USD withdrawn today (UTC)",
        W + "test_withdrawal_a_cent_over_the_daily_limit_is_rejected",
        setting="withdrawal_daily_limit_usd",
    ),
    Control(
        "withdrawal_burst",
        PRE,
        "safety",
        "SUSPICIOUS_ACTIVITY + SuspiciousActivityFlagged",
        "this many withdrawals in the last hour hold the next ones for review",
        W + "test_many_withdrawals_in_an_hour_are_held_as_suspicious",
        setting="suspicious_withdrawals_per_hour",
    ),
    Control(
        "funds_held",
        PRE,
        "ledger",
        "INSUFFICIENT_FUNDS",
        "pre-funded credit: an approved order's maximum cost is held before it is sent",
        "tests/unit/ledger/test_ledger_flow.py::"
        "test_an_order_that_does_not_fit_is_rejected_and_moves_nothing",
    ),
    Control(
        "cancel_cap",
        PRE,
        "gateway",
        "429 too_many_cancels",
        "cancel requests per account per second (RTS 6 Art. 15(1)(d)); orders never count",
        "tests/integration/test_gateway_controls.py::"
        "test_cancels_at_the_cap_pass_and_one_more_is_429_while_orders_go_on",
        setting="cancels_per_second",
    ),
)
