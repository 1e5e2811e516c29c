"""The paper market: a seeded random walk per symbol, pure and restartable.

Each step's random draw depends only on (seed, symbol, sequence), so the walk is the same for
the same seed and continues where it stopped after a restart (the last price and sequence are
persisted). The draw is the only float: `random.gauss` gives a float that is turned into a
`Decimal` through its shortest `str` form at once; everything after that is Decimal arithmetic,
and the price is kept to cents.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal

from services.execution.domain.orders import PRICE_QUANTUM
from shared.money import multiply

MAX_SHOCK = Decimal(4)
"""Draws are clipped to ±4 standard deviations: one tick can never wipe a price out."""


@dataclass(frozen=True)
class WalkPoint:
    symbol: str
    price: Decimal
    sequence: int


def shock(seed: int, symbol: str, sequence: int) -> Decimal:
    """A standard normal draw for one step, as a Decimal, clipped to ±`MAX_SHOCK`."""
    draw = random.Random(f"{seed}:{symbol}:{sequence}").gauss(0.0, 1.0)
    return max(-MAX_SHOCK, min(MAX_SHOCK, Decimal(str(draw))))


def step(point: WalkPoint, *, seed: int, volatility: Decimal) -> WalkPoint:
    """The next point of the walk: price * (1 + volatility * shock), to cents, at least 0.01."""
    sequence = point.sequence + 1
    moved = multiply(point.price, 1 + multiply(volatility, shock(seed, point.symbol, sequence)))
    price = max(moved.quantize(PRICE_QUANTUM, rounding=ROUND_HALF_EVEN), PRICE_QUANTUM)
    return WalkPoint(point.symbol, price, sequence)


def start(symbol: str, price: Decimal) -> WalkPoint:
    """Where a symbol's walk begins (sequence 0, never published)."""
    return WalkPoint(symbol, price.quantize(PRICE_QUANTUM, rounding=ROUND_HALF_EVEN), 0)
