"""The post-trade controls: what the system does after orders were sent or filled (the dead
man's switch, the execution throttle, reconciliation with the venues, and the surveillance
flags for wash trades and a high order-to-trade ratio).
"""

from __future__ import annotations

from shared.controls.control import POST, Control

PT = "tests/integration/test_safety_post_trade.py::"

POST_TRADE: tuple[Control, ...] = (
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
