"""The pre-trade decision: every rule in a fixed order, the first failure wins.

Order (rule name → reject reason):

 1. account_active   → ACCOUNT_INACTIVE       (safety never saw the account registered)
 2. kill_switch      → KILL_SWITCH            (global, account or symbol switch engaged)
 3. restricted       → RESTRICTED             (the symbol or the account is on the operator's
                                               restricted list)
 4. two_factor       → TWO_FACTOR_REQUIRED    (mode real without two_factor_verified)
 5. exchange_key     → EXCHANGE_KEY_INVALID   (mode real without a validated key)
 6. symbol_listed    → INVALID_SYMBOL         (the venue does not list it, or safety has no
                                               listing of the venue yet)
 7. price_valid      → PRICE_INVALID          (limit price not positive or too precise)
 8. market_precision → PRICE_INVALID          (amount or price off the market's step)
 9. market_amount    → AMOUNT_BELOW_MIN/ABOVE_MAX (outside the market's own amount range)
10. duplicate_order  → DUPLICATE_ORDER        (an identical order approved less than the
                                               duplicate window apart, by acceptance time)
11. reference_price  → PRICE_UNAVAILABLE      (no fresh price for the symbol or its quote)
12. price_band       → PRICE_OUT_OF_BAND      (limit price beyond ±band of the reference)
13. market_cost      → AMOUNT_BELOW_MIN/ABOVE_MAX (outside the market's own cost range)
14. min_notional     → AMOUNT_BELOW_MIN       (USD value below the minimum)
15. max_notional     → AMOUNT_ABOVE_MAX       (USD value above the maximum)
16. hourly_trades    → HOURLY_TRADE_LIMIT     (approved orders in the rolling hour)
17. order_rate       → HOURLY_TRADE_LIMIT     (approved orders in the last second)
18. cooldown         → COOLDOWN_ACTIVE        (consecutive failures, then a pause)
19. daily_volume     → DAILY_VOLUME_EXCEEDED  (USD volume approved today, UTC)
20. position_limit   → POSITION_LIMIT         (resulting base-asset position, in USD)
21. daily_loss       → DAILY_LOSS_LIMIT       (realised loss today, UTC)
22. rejection_burst  → SUSPICIOUS_ACTIVITY    (many rejected orders in the last hour)

The rolling windows (16, 17, 22) end at the request's time (`OrderCheck.request_time`: when
the user made it, clamped to at most `request_max_skew` before now), so a backlog delivered
at once is not a burst; prices, days and the cooldown are judged at `now`. The duplicate
window (10) compares the gateway's acceptance times, unclamped (`OrderCheck.accepted_at`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from services.safety.domain.checks import OrderCheck
from services.safety.domain.duplicates import duplicate_order
from services.safety.domain.market_rules import (
    market_amount,
    market_cost,
    market_precision,
    price_band,
    price_valid,
    symbol_listed,
)
from services.safety.domain.order_gates import account_active, exchange_key, kill_switch, two_factor
from services.safety.domain.order_limits import (
    cooldown,
    daily_loss,
    daily_volume,
    hourly_trades,
    max_notional,
    min_notional,
    order_rate,
    position_limit,
)
from services.safety.domain.rejection import Rejection
from services.safety.domain.restrictions import restricted_order
from services.safety.domain.suspicious import rejection_burst
from services.safety.domain.valuation import OrderValuation, value_order
from shared.contracts.decisions import OrderApproved, OrderRejected
from shared.contracts.reasons import RejectReason

UnvaluedRule = Callable[[OrderCheck], Rejection | None]
ValuedRule = Callable[[OrderCheck, OrderValuation], Rejection | None]

RULES_BEFORE_VALUATION: tuple[tuple[str, UnvaluedRule], ...] = (
    ("account_active", account_active),
    ("kill_switch", kill_switch),
    ("restricted", restricted_order),
    ("two_factor", two_factor),
    ("exchange_key", exchange_key),
    ("symbol_listed", symbol_listed),
    ("price_valid", price_valid),
    ("market_precision", market_precision),
    ("market_amount", market_amount),
    ("duplicate_order", duplicate_order),
)
VALUATION_RULE = "reference_price"
RULES_AFTER_VALUATION: tuple[tuple[str, ValuedRule], ...] = (
    ("price_band", price_band),
    ("market_cost", market_cost),
    ("min_notional", min_notional),
    ("max_notional", max_notional),
    ("hourly_trades", hourly_trades),
    ("order_rate", order_rate),
    ("cooldown", cooldown),
    ("daily_volume", daily_volume),
    ("position_limit", position_limit),
    ("daily_loss", daily_loss),
    ("rejection_burst", rejection_burst),
)
ORDER_RULES: tuple[str, ...] = (
    *(name for name, _ in RULES_BEFORE_VALUATION),
    VALUATION_RULE,
    *(name for name, _ in RULES_AFTER_VALUATION),
)
"""Every rule's name, in the order they run (the `checks` of an approval)."""


@dataclass(frozen=True)
class OrderDecision:
    outcome: OrderApproved | OrderRejected
    valuation: OrderValuation | None
    """Present when the order could be valued (always, when approved)."""

    @property
    def approved(self) -> bool:
        return isinstance(self.outcome, OrderApproved)


def decide_order(check: OrderCheck) -> OrderDecision:
    """Approve or reject one order. Pure: the same check always gives the same decision."""
    for _, unvalued_rule in RULES_BEFORE_VALUATION:
        if (rejection := unvalued_rule(check)) is not None:
            return _rejected(check, rejection, None)
    valuation = value_order(check.order, check.prices, check.limits, check.now)
    if valuation is None:
        return _rejected(check, _price_unavailable(check), None)
    for _, valued_rule in RULES_AFTER_VALUATION:
        if (rejection := valued_rule(check, valuation)) is not None:
            return _rejected(check, rejection, valuation)
    approved = OrderApproved(
        order=check.order,
        reference_price=valuation.reference_price,
        price_band=check.limits.price_band,
        checks=list(ORDER_RULES),
    )
    return OrderDecision(approved, valuation)


def _price_unavailable(check: OrderCheck) -> Rejection:
    age = int(check.limits.price_max_age.total_seconds())
    return Rejection(
        RejectReason.PRICE_UNAVAILABLE,
        VALUATION_RULE,
        f"no reference price newer than {age} s to value {check.order.symbol} in USD",
        {"symbol": check.order.symbol, "max_age_seconds": str(age)},
    )


def _rejected(
    check: OrderCheck, rejection: Rejection, valuation: OrderValuation | None
) -> OrderDecision:
    outcome = OrderRejected(
        order_id=check.order.order_id,
        reason=rejection.reason,
        rule=rejection.rule,
        detail=rejection.detail,
        values=rejection.values,
    )
    return OrderDecision(outcome, valuation)
