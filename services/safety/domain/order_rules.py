"""The pre-trade rules, one function each. Each returns a `Rejection` or None (passed).

Rules before valuation see only the order and the account; rules after it also
get the order's `OrderValuation` (reference price, quote rate, USD notional).
The order they run in is fixed in `services.safety.domain.orders`.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from services.safety.domain.checks import OrderCheck, WithdrawalCheck
from services.safety.domain.rejection import Rejection, shown
from services.safety.domain.state import count_within, utc_day
from services.safety.domain.valuation import OrderValuation
from shared.contracts.accounts import KillSwitchMode
from shared.contracts.orders import Mode, OrderType, Side
from shared.contracts.reasons import RejectReason
from shared.money import is_multiple, multiply

HOUR = timedelta(hours=1)
SECOND = timedelta(seconds=1)


def account_active(check: OrderCheck | WithdrawalCheck) -> Rejection | None:
    """Orders and withdrawals alike: only from an account safety has seen registered."""
    if check.account.registered:
        return None
    return Rejection(
        RejectReason.ACCOUNT_INACTIVE,
        "account_active",
        "safety has not seen this account registered; if it was just created, retry shortly",
        {"account_id": check.account_id, "registered": "false"},
    )


def kill_switch(check: OrderCheck) -> Rejection | None:
    order = check.order
    stopping = check.switches.halting_order(check.account_id, order.symbol, order.side)
    if stopping is None:
        return None
    if stopping.mode is KillSwitchMode.REDUCE_ONLY:
        detail = f"the {stopping.scope} kill switch is reduce-only: only sells are accepted"
    else:
        detail = f"trading is halted by the {stopping.scope} kill switch"
    return Rejection(
        RejectReason.KILL_SWITCH,
        "kill_switch",
        detail,
        {"scope": stopping.scope.value, "target": stopping.target, "mode": stopping.mode.value},
    )


def two_factor(check: OrderCheck) -> Rejection | None:
    if check.order.mode is not Mode.REAL or check.command.two_factor_verified:
        return None
    return Rejection(
        RejectReason.TWO_FACTOR_REQUIRED,
        "two_factor",
        "a real-money order needs a verified second factor",
        {"mode": check.order.mode.value, "two_factor_verified": "false"},
    )


def exchange_key(check: OrderCheck) -> Rejection | None:
    exchange = check.order.exchange
    if check.order.mode is not Mode.REAL or exchange in check.account.validated_exchanges:
        return None
    return Rejection(
        RejectReason.EXCHANGE_KEY_INVALID,
        "exchange_key",
        f"no validated API key for exchange {exchange!r}",
        {"exchange": exchange},
    )


def symbol_listed(check: OrderCheck) -> Rejection | None:
    exchange, symbol, market = check.order.exchange, check.order.symbol, check.market
    if market.listed:
        return None
    if not market.venue_known:
        detail = f"the markets of {exchange!r} are not known yet; retry shortly"
    else:
        detail = f"{symbol} is not listed on {exchange!r}"
    return Rejection(
        RejectReason.INVALID_SYMBOL,
        "symbol_listed",
        detail,
        {"symbol": symbol, "exchange": exchange, "venue_known": str(market.venue_known).lower()},
    )


def decimals_of(value: Decimal) -> int:
    """Significant decimals: 65000.10 has 1, 65000 has 0."""
    exponent = value.normalize().as_tuple().exponent
    assert isinstance(exponent, int)
    return max(0, -exponent)


def price_valid(check: OrderCheck) -> Rejection | None:
    price = check.order.price
    if price is None:
        return None
    allowed = check.limits.price_max_decimals
    if price > 0 and decimals_of(price) <= allowed:
        return None
    return Rejection(
        RejectReason.PRICE_INVALID,
        "price_valid",
        f"price must be positive with at most {allowed} decimals",
        {"price": shown(price), "max_decimals": shown(allowed)},
    )


def market_precision(check: OrderCheck) -> Rejection | None:
    """The venue's lot size and tick size: an amount or price it would round is refused here,
    not silently changed there (the hold would no longer match the order)."""
    rules, order = check.market.rules, check.order
    if rules is None:
        return None
    for name, value, step in (
        ("amount", order.amount, rules.amount_step),
        ("price", order.price, rules.price_step),
    ):
        if value is not None and step is not None and not is_multiple(value, step):
            return Rejection(
                RejectReason.PRICE_INVALID,
                "market_precision",
                f"{name} {shown(value)} is not a multiple of {order.symbol}'s step {shown(step)}",
                {name: shown(value), f"{name}_step": shown(step)},
            )
    return None


def market_amount(check: OrderCheck) -> Rejection | None:
    """The venue's own minimum and maximum amount (in the base asset) for this market."""
    rules, amount = check.market.rules, check.order.amount
    if rules is None:
        return None
    if rules.amount_min is not None and amount < rules.amount_min:
        return Rejection(
            RejectReason.AMOUNT_BELOW_MIN,
            "market_amount",
            f"amount is below {check.order.symbol}'s minimum at {check.order.exchange!r}",
            {"amount": shown(amount), "amount_min": shown(rules.amount_min)},
        )
    if rules.amount_max is not None and amount > rules.amount_max:
        return Rejection(
            RejectReason.AMOUNT_ABOVE_MAX,
            "market_amount",
            f"amount is above {check.order.symbol}'s maximum at {check.order.exchange!r}",
            {"amount": shown(amount), "amount_max": shown(rules.amount_max)},
        )
    return None


def market_cost(check: OrderCheck, valuation: OrderValuation) -> Rejection | None:
    """The venue's own minimum and maximum cost (amount x price, in the quote asset); a market
    order is costed at the reference price."""
    rules, order = check.market.rules, check.order
    if rules is None:
        return None
    price = order.price if order.price is not None else valuation.reference_price
    cost = multiply(order.amount, price)
    if rules.cost_min is not None and cost < rules.cost_min:
        return Rejection(
            RejectReason.AMOUNT_BELOW_MIN,
            "market_cost",
            f"order cost is below {order.symbol}'s minimum at {order.exchange!r}",
            {"cost": shown(cost), "cost_min": shown(rules.cost_min), "quote": order.quote},
        )
    if rules.cost_max is not None and cost > rules.cost_max:
        return Rejection(
            RejectReason.AMOUNT_ABOVE_MAX,
            "market_cost",
            f"order cost is above {order.symbol}'s maximum at {order.exchange!r}",
            {"cost": shown(cost), "cost_max": shown(rules.cost_max), "quote": order.quote},
        )
    return None


def price_band(check: OrderCheck, valuation: OrderValuation) -> Rejection | None:
    price, reference = check.order.price, valuation.reference_price
    if check.order.type is not OrderType.LIMIT or price is None:
        return None
    band = check.limits.price_band
    if abs(price - reference) <= multiply(reference, band):
        return None
    return Rejection(
        RejectReason.PRICE_OUT_OF_BAND,
        "price_band",
        "limit price is too far from the reference price",
        {"price": shown(price), "reference_price": shown(reference), "band": shown(band)},
    )


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
