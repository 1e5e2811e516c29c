"""Whether an order fits its market and price: the venue lists the symbol, the price is well
formed, amount, price and cost sit on the venue market's own steps and ranges, and a limit
price is near the reference price. One function each, returning a `Rejection` or None.

`symbol_listed` to `market_amount` see only the order; `price_band` and `market_cost` run
after valuation and also get the order's `OrderValuation`. The order every rule runs in is
fixed in `services.safety.domain.orders`.
"""

from __future__ import annotations

from decimal import Decimal

from services.safety.domain.checks import OrderCheck
from services.safety.domain.rejection import Rejection, shown
from services.safety.domain.valuation import OrderValuation
from shared.contracts.orders import OrderType
from shared.contracts.reasons import RejectReason
from shared.money import is_multiple, multiply


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
