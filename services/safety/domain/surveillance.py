"""Post-trade controls on an account's fills and orders: what safety does after the fact.

* `execution_throttle` (RTS 6 Art. 15(3)): more than `execution_throttle_fills` fills of one
  account within `execution_throttle_window_seconds` halts the account (its kill switch,
  mode halt). Counting starts again after an operator's release, so a release is never
  undone by the fills that led to it.
* `wash_trade`: the account bought and sold the same symbol at crossing prices (the buy's
  price at or above the sell's) less than `wash_trade_window_seconds` apart. Flagged only.
* `order_to_trade_ratio`: the account sent at least `order_to_trade_min_orders` orders within
  `order_to_trade_window_seconds` and more than `order_to_trade_ratio` orders per fill.
  Flagged only.

A flag is raised once per episode: an episode of a rule (for an account, and a symbol for
`wash_trade`) starts when the rule matches and lasts until a whole window passes without it
matching again (`starts_episode`).

Times are the events' own: a fill's `occurred_at` (when execution booked it), an order's
request time, so a redelivered or late message is judged where it happened.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from services.safety.domain.limits import Limits
from services.safety.domain.rejection import shown
from shared.contracts.orders import Side

EXECUTION_THROTTLE = "execution_throttle"
WASH_TRADE = "wash_trade"
ORDER_TO_TRADE_RATIO = "order_to_trade_ratio"


@dataclass(frozen=True)
class Finding:
    """A post-trade rule that matched: its name, a sentence, and the values it compared."""

    rule: str
    detail: str
    values: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class BookedFill:
    """One fill of the account as surveillance compares it."""

    order_id: str
    trade_id: str
    side: Side
    price: Decimal
    at: datetime


def execution_throttle(
    fill_times: tuple[datetime, ...],
    at: datetime,
    limits: Limits,
    counting_since: datetime | None = None,
) -> Finding | None:
    """The fills (this one included) in the window ending `at`, but none at or before the
    operator's last release (`counting_since`). A fill after `at` (it arrived out of order)
    counts too, as for the order limits: a late message must not open a limit."""
    start = at - limits.execution_throttle_window
    if counting_since is not None and counting_since > start:
        start = counting_since
    fills = sum(1 for moment in fill_times if moment > start)
    threshold, seconds = limits.execution_throttle_fills, limits.execution_throttle_window_seconds
    if fills <= threshold:
        return None
    return Finding(
        EXECUTION_THROTTLE,
        f"execution throttle: {fills} fills within {seconds} s (limit {threshold})",
        {
            "fills": shown(fills),
            "window_seconds": shown(seconds),
            "execution_throttle_fills": shown(threshold),
        },
    )


def wash_trade(fill: BookedFill, others: tuple[BookedFill, ...], limits: Limits) -> Finding | None:
    """The first fill of the other side, within the window, whose price crosses this one's."""
    window = limits.wash_trade_window
    for other in others:
        if other.side is fill.side or other.trade_id == fill.trade_id:
            continue
        apart = abs(fill.at - other.at)
        if apart >= window:
            continue
        buy, sell = (fill, other) if fill.side is Side.BUY else (other, fill)
        if buy.price < sell.price:
            continue
        seconds = shown(Decimal(apart.total_seconds()).quantize(Decimal("0.001")))
        return Finding(
            WASH_TRADE,
            f"bought at {shown(buy.price)} and sold at {shown(sell.price)} {seconds} s apart "
            f"(order {buy.order_id} against {sell.order_id})",
            {
                "buy_order": buy.order_id,
                "buy_price": shown(buy.price),
                "sell_order": sell.order_id,
                "sell_price": shown(sell.price),
                "seconds_apart": seconds,
                "wash_trade_window_seconds": shown(limits.wash_trade_window_seconds),
            },
        )
    return None


def order_to_trade(orders: int, fills: int, limits: Limits) -> Finding | None:
    """Orders sent and fills booked within the window; compared without dividing (no fill at
    all is the highest ratio there is)."""
    minimum, threshold = limits.order_to_trade_min_orders, limits.order_to_trade_ratio
    if orders < minimum or orders <= threshold * fills:
        return None
    ratio = (Decimal(orders) / fills).quantize(Decimal("0.01")) if fills else None
    shown_ratio = shown(ratio) if ratio is not None else "Infinity"
    return Finding(
        ORDER_TO_TRADE_RATIO,
        f"{orders} orders and {fills} fills in {limits.order_to_trade_window_seconds} s: "
        f"{shown_ratio} orders per fill (threshold {shown(threshold)})",
        {
            "orders": shown(orders),
            "fills": shown(fills),
            "ratio": shown_ratio,
            "order_to_trade_ratio": shown(threshold),
            "order_to_trade_min_orders": shown(minimum),
            "window_seconds": shown(limits.order_to_trade_window_seconds),
        },
    )


def starts_episode(last_seen: datetime | None, at: datetime, window: timedelta) -> bool:
    """Whether a match at `at` starts a new episode: the rule had not matched within a whole
    window before it (a match older than the last one seen never does)."""
    return last_seen is None or at - last_seen >= window
