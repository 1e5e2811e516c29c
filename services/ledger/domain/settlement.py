"""Charging a user for a fill or a sent withdrawal: from the hold, then available, then suspense.

A trade that happened at the venue must be booked whatever the ledger thought
it would cost. What the hold does not cover comes from `available`; what
`available` cannot cover is booked against suspense and reported, so a user
bucket never goes negative and no difference is ever silent.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from services.ledger.domain.accounts import (
    ZERO,
    AccountKey,
    Posting,
    available,
    custody,
    fees,
    held,
    move,
    suspense,
)
from services.ledger.domain.holds import Hold
from services.ledger.errors import MalformedMessage
from shared.contracts.execution import OrderFilled
from shared.contracts.orders import SYMBOL_PATTERN, Side
from shared.money import multiply, quantize_down, quantize_up


@dataclass(frozen=True)
class Leg:
    """One asset changing hands between the user and a counterparty."""

    asset: str
    user_amount: Decimal
    """Positive: the user receives it; negative: the user pays it."""
    counterparty: AccountKey


def fill_legs(fill: OrderFilled, venue: str) -> list[Leg]:
    """What a trade moves: the cost rounded up against the user, proceeds rounded down."""
    base, quote = symbol_assets(fill.symbol)
    if fill.side not in (Side.BUY, Side.SELL):
        raise MalformedMessage(f"fill {fill.trade_id} has side {fill.side!r}")
    gross = multiply(fill.amount, fill.price)
    if fill.side == Side.BUY:
        legs = [
            Leg(quote, -quantize_up(gross), custody(venue, quote)),
            Leg(base, fill.amount, custody(venue, base)),
        ]
    else:
        legs = [
            Leg(base, -fill.amount, custody(venue, base)),
            Leg(quote, quantize_down(gross), custody(venue, quote)),
        ]
    if fill.fee > 0:
        legs.append(Leg(fill.fee_asset, -fill.fee, fees(venue, fill.fee_asset)))
    return legs


def symbol_assets(symbol: str) -> tuple[str, str]:
    """(base, quote) of `BASE/QUOTE`; anything else is refused rather than guessed at."""
    if not re.fullmatch(SYMBOL_PATTERN, symbol):
        raise MalformedMessage(f"symbol {symbol!r} is not BASE/QUOTE")
    base, quote = symbol.split("/")
    return base, quote


@dataclass(frozen=True)
class Settlement:
    postings: tuple[Posting, ...]
    from_hold: Decimal
    """How much of the hold this settlement used."""
    shortfalls: dict[str, Decimal] = field(default_factory=dict)
    """Per asset, what neither the hold nor available covered (booked against suspense)."""


def settle(
    owner: str,
    legs: list[Leg],
    hold: Hold | None,
    available_by_asset: Mapping[str, Decimal],
) -> Settlement:
    """Book `legs` for `owner`, paying from the open `hold` first, then available, then suspense.

    Credits are booked before debits, so a fee in the quote asset of a sell is
    paid from the proceeds of the same trade.
    """
    hold_left = hold.remaining if hold is not None and hold.is_open else ZERO
    spendable = dict(available_by_asset)
    postings: list[Posting] = []
    shortfalls: dict[str, Decimal] = {}
    used_from_hold = ZERO
    for leg in sorted(legs, key=lambda leg: leg.user_amount < 0):
        asset = leg.asset
        if leg.user_amount >= 0:
            postings += move(leg.counterparty, available(owner, asset), leg.user_amount)
            spendable[asset] = spendable.get(asset, ZERO) + leg.user_amount
            continue
        due = -leg.user_amount
        from_hold = min(due, hold_left) if hold is not None and hold.asset == asset else ZERO
        hold_left -= from_hold
        used_from_hold += from_hold
        from_available = min(due - from_hold, max(spendable.get(asset, ZERO), ZERO))
        spendable[asset] = spendable.get(asset, ZERO) - from_available
        short = due - from_hold - from_available
        postings += move(held(owner, asset), leg.counterparty, from_hold)
        postings += move(available(owner, asset), leg.counterparty, from_available)
        postings += move(suspense(asset), leg.counterparty, short)
        if short > 0:
            shortfalls[asset] = shortfalls.get(asset, ZERO) + short
    return Settlement(tuple(postings), used_from_hold, shortfalls)
