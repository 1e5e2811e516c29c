"""The account's limits on an order, judged after valuation: its USD notional, how many
orders in the rolling hour and second, the cooldown after failures, today's volume and loss,
and the resulting position. Each rule gets the check and the order's `OrderValuation`
(reference price, quote rate, USD notional) and returns a `Rejection` or None (passed).

The limits' values are `services.safety.domain.limits.Limits`; the order every rule runs in
is fixed in `services.safety.domain.orders`.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from services.safety.domain.checks import OrderCheck
from services.safety.domain.rejection import Rejection, shown
from services.safety.domain.state import count_within, utc_day
from services.safety.domain.valuation import OrderValuation
from shared.contracts.orders import Side
from shared.contracts.reasons import RejectReason
from shared.money import multiply

HOUR = timedelta(hours=1)
SECOND = timedelta(seconds=1)


def min_notional(check: OrderCheck, valuation: OrderValuation) -> Rejection | None:
    minimum = check.limits.min_notional_usd
    if valuation.notional_usd >= minimum:
        return None
    return Rejection(
        RejectReason.AMOUNT_BELOW_MIN,
        "min_notional",
        "order value is below the minimum",
        {"notional_usd": shown(valuation.notional_usd), "min_notional_usd": shown(minimum)},
    )


def max_notional(check: OrderCheck, valuation: OrderValuation) -> Rejection | None:
    maximum = check.limits.max_notional_usd
    if valuation.notional_usd <= maximum:
        return None
    return Rejection(
        RejectReason.AMOUNT_ABOVE_MAX,
        "max_notional",
        "order value is above the maximum",
        {"notional_usd": shown(valuation.notional_usd), "max_notional_usd": shown(maximum)},
    )


def hourly_trades(check: OrderCheck, valuation: OrderValuation) -> Rejection | None:
    limit = check.limits.hourly_trade_limit
    recent = count_within(check.account.approvals, check.request_time, HOUR)
    if recent < limit:
        return None
    return Rejection(
        RejectReason.HOURLY_TRADE_LIMIT,
        "hourly_trades",
        f"{recent} orders in the last hour; the limit is {limit}",
        {"orders_last_hour": shown(recent), "hourly_trade_limit": shown(limit)},
    )


def order_rate(check: OrderCheck, valuation: OrderValuation) -> Rejection | None:
    """The per-second throttle. It reuses HOURLY_TRADE_LIMIT (no new code in the contract);
    the rule name `order_rate` tells the two apart. Like every rolling window it counts by
    when the orders were made (`request_time`), not when safety got to them."""
    limit = check.limits.orders_per_second
    recent = count_within(check.account.approvals, check.request_time, SECOND)
    if recent < limit:
        return None
    return Rejection(
        RejectReason.HOURLY_TRADE_LIMIT,
        "order_rate",
        f"{recent} orders in the last second; the limit is {limit} per second",
        {"orders_last_second": shown(recent), "orders_per_second": shown(limit)},
    )


def cooldown(check: OrderCheck, valuation: OrderValuation) -> Rejection | None:
    account, limits = check.account, check.limits
    last = account.last_failure_at
    if account.consecutive_failures < limits.cooldown_after_failures or last is None:
        return None
    until = last + limits.cooldown
    if check.now >= until:
        return None
    return Rejection(
        RejectReason.COOLDOWN_ACTIVE,
        "cooldown",
        f"{account.consecutive_failures} failed orders in a row; no new orders until {until}",
        {"consecutive_failures": shown(account.consecutive_failures), "until": until.isoformat()},
    )


def daily_volume(check: OrderCheck, valuation: OrderValuation) -> Rejection | None:
    limit = check.limits.daily_volume_limit_usd
    already = check.account.volume_on(utc_day(check.now))
    if already + valuation.notional_usd <= limit:
        return None
    return Rejection(
        RejectReason.DAILY_VOLUME_EXCEEDED,
        "daily_volume",
        "this order would take today's volume over the limit",
        {
            "volume_today_usd": shown(already),
            "notional_usd": shown(valuation.notional_usd),
            "daily_volume_limit_usd": shown(limit),
        },
    )


def position_limit(check: OrderCheck, valuation: OrderValuation) -> Rejection | None:
    """Buys only: a sale reduces the position. The position counts what approved buys may
    still add, and never less than zero (coins sold may have been deposited, unseen here)."""
    order = check.order
    if order.side is not Side.BUY:
        return None
    position = check.account.position(order.base)
    after = max(position.quantity, Decimal(0)) + position.open_buy + order.amount
    value = multiply(multiply(after, valuation.reference_price), valuation.quote_usd)
    limit = check.limits.position_limit_for(order.base)
    if value <= limit:
        return None
    return Rejection(
        RejectReason.POSITION_LIMIT,
        "position_limit",
        f"the resulting {order.base} position would be above its limit",
        {
            "position_after": shown(after),
            "position_value_usd": shown(value),
            "position_limit_usd": shown(limit),
        },
    )


def daily_loss(check: OrderCheck, valuation: OrderValuation) -> Rejection | None:
    limit = check.limits.daily_loss_limit_usd
    loss = -check.account.pnl_on(utc_day(check.now))
    if loss <= limit:
        return None
    return Rejection(
        RejectReason.DAILY_LOSS_LIMIT,
        "daily_loss",
        "today's realised loss is above the limit",
        {"realised_loss_today_usd": shown(loss), "daily_loss_limit_usd": shown(limit)},
    )
