"""What safety knows of a venue's market for one order: whether it is listed, and the venue's
own rules for it (`MarketsListed` from execution, cached in safety's database)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True)
class MarketRules:
    """A listed market's own limits; None where the venue states none."""

    amount_min: Decimal | None = None
    amount_max: Decimal | None = None
    cost_min: Decimal | None = None
    cost_max: Decimal | None = None
    amount_step: Decimal | None = None
    price_step: Decimal | None = None


UNRESTRICTED = MarketRules()
"""A listed market with no rules of its own (the paper venue's)."""


@dataclass(frozen=True)
class MarketListing:
    """The order's market as safety last heard of it."""

    venue_known: bool
    """Safety has a listing for the venue at all (None of `rules` then means: not listed)."""
    rules: MarketRules | None

    @property
    def listed(self) -> bool:
        return self.rules is not None
