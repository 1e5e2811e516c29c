"""USD valuation. Stablecoins are worth 1; anything else needs a fresh ASSET/USDT price.

An amount that cannot be valued is not guessed: the caller rejects with
`PRICE_UNAVAILABLE` (orders, withdrawals) or parks the event (fills).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from services.safety.domain.limits import Limits
from services.safety.domain.state import PriceBook
from shared.contracts.orders import OrderSpec
from shared.money import multiply, quantize_up

VALUATION_QUOTE = "USDT"
"""Non-stable assets are valued through their `ASSET/USDT` reference price."""


def usd_rate(asset: str, prices: PriceBook, limits: Limits, now: datetime) -> Decimal | None:
    """USD per one unit of `asset`, from a fresh price; None when it cannot be valued."""
    if asset in limits.usd_stable_assets:
        return Decimal(1)
    return prices.fresh(f"{asset}/{VALUATION_QUOTE}", now, limits.price_max_age)


def usd_rate_at_any_age(asset: str, prices: PriceBook, limits: Limits) -> Decimal | None:
    """USD per unit from the last price ever seen: for booking fills, never for approval."""
    if asset in limits.usd_stable_assets:
        return Decimal(1)
    return prices.latest(f"{asset}/{VALUATION_QUOTE}")


@dataclass(frozen=True)
class OrderValuation:
    reference_price: Decimal
    """Fresh reference price of the order's symbol, in the quote asset."""
    quote_usd: Decimal
    """USD per unit of the quote asset."""
    notional_usd: Decimal
    """amount * (limit price, or the reference price for a market order) * quote_usd, rounded
    up to 18 decimals: the figure the limits compare and the counters store, never undercounted."""


def value_order(
    order: OrderSpec, prices: PriceBook, limits: Limits, now: datetime
) -> OrderValuation | None:
    reference = prices.fresh(order.symbol, now, limits.price_max_age)
    quote_usd = usd_rate(order.quote, prices, limits, now)
    if reference is None or quote_usd is None:
        return None
    unit_price = order.price if order.price is not None else reference
    notional = quantize_up(multiply(multiply(order.amount, unit_price), quote_usd))
    return OrderValuation(reference, quote_usd, notional)
