"""ccxt's unified structures (with `number = str`, so amounts are decimal strings) → our venue
vocabulary. Never a float: every amount goes through `Decimal(str)`."""

from __future__ import annotations

import logging
from decimal import Decimal, InvalidOperation
from typing import Any

from services.execution.domain.orders import Trade, VenueOrderStatus
from services.execution.venues.base import DepositSeen, VenueOrder
from shared.contracts.execution import ListedMarket

log = logging.getLogger(__name__)

_STATUS = {
    "open": VenueOrderStatus.OPEN,
    "closed": VenueOrderStatus.CLOSED,
    "canceled": VenueOrderStatus.CANCELED,
    "cancelled": VenueOrderStatus.CANCELED,
    "expired": VenueOrderStatus.CANCELED,  # what was not filled never will be
    "rejected": VenueOrderStatus.REJECTED,
}


def decimal(value: Any, default: Decimal | None = None) -> Decimal:
    if value is None or value == "":
        if default is None:
            raise ValueError("the venue left out an amount")
        return default
    if isinstance(value, float):
        raise TypeError("ccxt returned a float: the client must run with number = str")
    try:
        return Decimal(str(value))
    except InvalidOperation as exc:
        raise ValueError(f"the venue sent a malformed amount {value!r}") from exc


def order_status(raw: Any) -> VenueOrderStatus:
    return _STATUS.get(str(raw), VenueOrderStatus.OPEN)


def trade_key(symbol: str, venue_order_id: str, trade_id: str) -> str:
    """Our key for a venue trade: the venue's trade id is unique per symbol only, and the same
    trade is both sides' when two of our users meet, so the order id is part of it."""
    return f"{symbol}:{venue_order_id}:{trade_id}"


def trades(symbol: str, venue_order_id: str, raw_trades: list[dict[str, Any]]) -> list[Trade]:
    quote = symbol.split("/")[1]
    parsed: list[Trade] = []
    for raw in raw_trades:
        if raw.get("id") in (None, ""):
            log.warning("a trade of order %s came without an id: skipped", venue_order_id)
            continue
        fee = raw.get("fee") or {}
        fee_cost = decimal(fee.get("cost"), Decimal(0))
        parsed.append(
            Trade(
                trade_id=trade_key(symbol, venue_order_id, str(raw["id"])),
                amount=decimal(raw.get("amount")),
                price=decimal(raw.get("price")),
                fee=max(fee_cost, Decimal(0)),  # a maker rebate is not booked as a negative fee
                fee_asset=str(fee.get("currency") or quote),
            )
        )
    return parsed


def venue_order(raw: dict[str, Any], client_order_id: str, order_trades: list[Trade]) -> VenueOrder:
    return VenueOrder(
        client_order_id=str(raw.get("clientOrderId") or client_order_id),
        venue_order_id=str(raw["id"]),
        status=order_status(raw.get("status")),
        trades=tuple(order_trades),
    )


def filled(raw: dict[str, Any]) -> Decimal:
    return decimal(raw.get("filled"), Decimal(0))


def embedded_trades(raw: dict[str, Any]) -> list[dict[str, Any]]:
    """Trades the venue put in the order answer itself (Binance's `FULL` response `fills`)."""
    found = raw.get("trades") or []
    return [t for t in found if isinstance(t, dict)]


def credited_deposits(raw_deposits: list[dict[str, Any]]) -> list[DepositSeen]:
    """Deposits the venue reports as credited (`ok`), each with its transaction id."""
    seen: list[DepositSeen] = []
    for raw in raw_deposits:
        if raw.get("status") != "ok" or not raw.get("txid") or not raw.get("currency"):
            continue
        amount = decimal(raw.get("amount"), Decimal(0))
        if amount > 0:
            seen.append(DepositSeen(str(raw["txid"]), str(raw["currency"]), amount))
    return seen


def balance_totals(raw: dict[str, Any]) -> dict[str, Decimal]:
    """ccxt's `fetch_balance` → asset → total, for the assets held (a zero is left out).
    An asset without a readable, non-negative total refuses the whole answer: never a guess."""
    totals = raw.get("total")
    if not isinstance(totals, dict):
        raise ValueError("the venue's balance came without totals")
    held: dict[str, Decimal] = {}
    for asset, value in totals.items():
        amount = decimal(value)
        if amount < 0:
            raise ValueError(f"the venue reports a negative {asset} balance {amount}")
        if amount != 0:
            held[str(asset)] = amount
    return held


DECIMAL_PLACES, SIGNIFICANT_DIGITS, TICK_SIZE = 2, 3, 4
"""ccxt's precision modes (`exchange.precisionMode`)."""


def listed_markets(markets: dict[str, Any], precision_mode: int) -> list[ListedMarket]:
    """The active spot markets, with their limits and steps as Decimals. A market whose rules
    cannot be read exactly (a float, a malformed number) is left out: not listed, so orders for
    it are refused rather than checked against rules we guessed."""
    listed: list[ListedMarket] = []
    for symbol, market in sorted(markets.items()):
        if not market.get("spot") or market.get("active") is False:
            continue
        try:
            listed.append(_listed_market(symbol, market, precision_mode))
        except (ValueError, TypeError) as exc:  # includes a ValidationError
            log.warning("market %s left out of the listing: %s", symbol, exc)
    return listed


def _listed_market(symbol: str, market: dict[str, Any], precision_mode: int) -> ListedMarket:
    limits, precision = market.get("limits") or {}, market.get("precision") or {}
    amount, cost = limits.get("amount") or {}, limits.get("cost") or {}
    return ListedMarket(
        symbol=symbol,
        amount_min=_positive(amount.get("min")),
        amount_max=_positive(amount.get("max")),
        cost_min=_positive(cost.get("min")),
        cost_max=_positive(cost.get("max")),
        amount_step=_step(precision.get("amount"), precision_mode),
        price_step=_step(precision.get("price"), precision_mode),
    )


def _positive(value: Any) -> Decimal | None:
    """A limit the venue states, or None; zero means "no limit" in ccxt's markets."""
    if value is None or value == "":
        return None
    number = decimal(value)
    return number if number > 0 else None


def _step(value: Any, precision_mode: int) -> Decimal | None:
    if value is None or value == "":
        return None
    if precision_mode == TICK_SIZE:
        return _positive(value)
    if precision_mode == DECIMAL_PLACES:
        places = decimal(value)
        if places != places.to_integral_value():
            raise ValueError(f"{value!r} decimal places")
        return Decimal(1).scaleb(-int(places))
    return None  # significant digits: no fixed step; the venue's own check stays
