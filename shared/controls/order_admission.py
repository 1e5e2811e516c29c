"""The controls that decide whether an order may be sent at all: the account, the kill
switches (and the cancels an engaged one makes), the restricted list, the second factor and
exchange key, the symbol and the market's steps and ranges, duplicates, and a fresh
reference price with a limit price near it. Safety decides all but the cancels (execution).
"""

from __future__ import annotations

from shared.controls.control import POST, PRE, Control

G = "tests/unit/safety/test_order_gates.py::"
L = "tests/unit/safety/test_order_limits.py::"
M = "tests/unit/safety/test_market_rules.py::"
C = "tests/unit/safety/test_controls.py::"

ORDER_ADMISSION: tuple[Control, ...] = (
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
)
