"""The controls register: every pre-trade and post-trade control, what it does when it
trips, the setting that bounds it and the test that proves it.

One declarative list, read by `cryptoorch controls` (which adds the limit in force from each
service's settings) and by the generator of `docs/controls.md` (`make controls`). It holds
names only, no service code (shared never imports a service); unit tests keep it honest:
every safety rule has a control here, every `setting` is a field of its service's settings,
and every `test` is a test that exists (tests/unit/test_controls_register.py).

A setting is read from `CRYPTOORCH_<SETTING IN CAPITALS>`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Stage(StrEnum):
    PRE_TRADE = "pre-trade"
    POST_TRADE = "post-trade"


@dataclass(frozen=True)
class Control:
    name: str
    stage: Stage
    service: str
    """The service that enforces it (and whose settings hold `setting`)."""
    outcome: str
    """The reject reason, HTTP answer, flag or action it produces."""
    does: str
    test: str
    """A pytest node id that proves it at its boundary."""
    setting: str | None = None
    """The setting that bounds it (None: a check with no number to set)."""

    @property
    def env(self) -> str | None:
        return f"CRYPTOORCH_{self.setting.upper()}" if self.setting else None


PRE, POST = Stage.PRE_TRADE, Stage.POST_TRADE
G = "tests/unit/safety/test_order_gates.py::"
L = "tests/unit/safety/test_order_limits.py::"
M = "tests/unit/safety/test_market_rules.py::"
W = "tests/unit/safety/test_withdrawal_rules.py::"
C = "tests/unit/safety/test_controls.py::"
S = "tests/unit/safety/test_surveillance.py::"
PT = "tests/integration/test_safety_post_trade.py::"

CONTROLS: tuple[Control, ...] = (
    Control(
        "account_active",
        PRE,
        "safety",
        "ACCOUNT_INACTIVE",
        "orders and withdrawals only from accounts safety has seen registered",
        "tests/unit/safety/test_account_active.py::"
        "test_an_order_from_an_account_never_seen_registered_is_rejected_as_inactive",
    ),
    Control(
        "kill_switch",
        PRE,
        "safety",
        "KILL_SWITCH",
        "a global, account or symbol switch refuses new orders (halt) or buys (reduce_only); "
        "an account or global one also refuses withdrawals",
        G + "test_global_account_and_symbol_kill_switches_each_halt_the_order",
    ),
    Control(
        "kill_switch_cancels",
        POST,
        "execution",
        "orders cancelled (reason kill_switch)",
        "engaging a switch cancels the open orders in its scope (only buys under reduce_only)",
        "tests/e2e/test_kill_switch.py::"
        "test_an_upper_case_account_halt_cancels_the_resting_order_and_refuses_new_ones",
    ),
    Control(
        "restricted",
        PRE,
        "safety",
        "RESTRICTED",
        "the operator's restricted list: no new order for a listed symbol or from a listed "
        "account, no withdrawal from a listed account",
        C + "test_a_restricted_symbol_or_account_takes_no_new_order",
    ),
    Control(
        "two_factor",
        PRE,
        "safety",
        "TWO_FACTOR_REQUIRED (403 two_factor_required at the gateway)",
        "a real-money order needs a verified second factor; a withdrawal too while this is on",
        G + "test_real_money_order_without_second_factor_is_rejected",
        setting="withdrawal_requires_two_factor",
    ),
    Control(
        "exchange_key",
        PRE,
        "safety",
        "EXCHANGE_KEY_INVALID",
        "a real-money order needs an exchange key the venue accepted",
        G + "test_real_money_order_without_a_validated_key_fails_closed",
    ),
    Control(
        "symbol_listed",
        PRE,
        "safety",
        "INVALID_SYMBOL",
        "the symbol must be listed by the order's venue",
        M + "test_a_symbol_the_venue_does_not_list_is_an_invalid_symbol",
    ),
    Control(
        "price_valid",
        PRE,
        "safety",
        "PRICE_INVALID",
        "a limit price is positive and within the decimals allowed",
        G + "test_limit_price_finer_than_the_market_precision_is_invalid",
        setting="price_max_decimals",
    ),
    Control(
        "market_precision",
        PRE,
        "safety",
        "PRICE_INVALID",
        "amount and price sit on the venue market's steps",
        M + "test_amount_and_price_must_sit_on_the_market_steps",
    ),
    Control(
        "market_amount",
        PRE,
        "safety",
        "AMOUNT_BELOW_MIN / AMOUNT_ABOVE_MAX",
        "the amount within the venue market's own range",
        M + "test_amount_within_the_markets_own_range",
    ),
    Control(
        "duplicate_order",
        PRE,
        "safety",
        "DUPLICATE_ORDER",
        "an order identical to one the account had approved within the window "
        "(SEC 15c3-5 duplicative orders); 0 turns it off",
        C + "test_an_identical_order_inside_the_window_is_a_duplicate",
        setting="duplicate_window_seconds",
    ),
    Control(
        "reference_price",
        PRE,
        "safety",
        "PRICE_UNAVAILABLE",
        "an order or withdrawal is valued at a reference price no older than this (seconds)",
        G + "test_reference_price_exactly_sixty_seconds_old_is_fresh_and_older_is_stale",
        setting="price_max_age_seconds",
    ),
    Control(
        "price_band",
        PRE,
        "safety",
        "PRICE_OUT_OF_BAND",
        "a limit price at most this fraction away from the reference price",
        L + "test_limit_price_a_cent_beyond_the_band_is_rejected",
        setting="price_band",
    ),
    Control(
        "market_cost",
        PRE,
        "safety",
        "AMOUNT_BELOW_MIN / AMOUNT_ABOVE_MAX",
        "the order's cost within the venue market's own range",
        M + "test_cost_above_the_markets_maximum_is_refused",
    ),
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
    Control(
        "dead_man_switch",
        POST,
        "execution",
        "orders cancelled (reason cancel_all_after)",
        "POST /v1/orders/cancel-all-after: unless renewed in time, the caller's open orders "
        "are cancelled (checked every cancel_all_after_poll_seconds)",
        "tests/e2e/test_dead_man_switch.py::"
        "test_an_unrenewed_switch_cancels_on_time_a_renewed_or_disarmed_one_does_not",
        setting="cancel_all_after_poll_seconds",
    ),
    Control(
        "execution_throttle",
        POST,
        "safety",
        "account kill switch (halt), safety:execution_throttle",
        "more fills than this for one account within execution_throttle_window_seconds "
        "halt it until an operator releases it (RTS 6 Art. 15(3))",
        PT + "test_the_execution_throttle_halts_at_n_plus_one_fills_until_an_operator_releases",
        setting="execution_throttle_fills",
    ),
    Control(
        "reconciliation",
        POST,
        "safety",
        "account kill switch (halt), safety:reconciliation",
        "a venue's balance disagreeing with the ledger halts the account",
        "tests/integration/test_venue_reconciliation.py::"
        "test_a_confirmed_shortfall_halts_the_account_and_its_next_order_is_rejected",
    ),
    Control(
        "wash_trade",
        POST,
        "safety",
        "SuspiciousActivityFlagged (wash_trade), not a rejection",
        "a buy and a sell of one symbol by one account at crossing prices within this many "
        "seconds; once per episode",
        PT + "test_a_wash_trade_is_flagged_once_per_episode_even_when_redelivered",
        setting="wash_trade_window_seconds",
    ),
    Control(
        "order_to_trade_ratio",
        POST,
        "safety",
        "SuspiciousActivityFlagged (order_to_trade_ratio), not a rejection",
        "orders per fill above this within order_to_trade_window_seconds, once the account "
        "sent order_to_trade_min_orders; once per episode",
        PT + "test_the_order_to_trade_ratio_is_flagged_once_above_the_threshold",
        setting="order_to_trade_ratio",
    ),
)
"""In the order safety runs its rules, then the other services' controls and the post-trade ones."""
