"""Execution's settings: the paper venue's market and fill rules. Every value is overridable by
environment (`CRYPTOORCH_PAPER_SEED=7`, `CRYPTOORCH_PAPER_START_PRICES='{"BTC/USDT": "60000"}'`).
"""

from __future__ import annotations

from decimal import Decimal

from pydantic import Field

from shared.settings import CommonSettings


def _default_start_prices() -> dict[str, Decimal]:
    return {
        "BTC/USDT": Decimal("65000.00"),
        "ETH/USDT": Decimal("3500.00"),
        "SOL/USDT": Decimal("150.00"),
    }


class ExecutionSettings(CommonSettings):
    paper_seed: int = 20240601
    """Seed of the paper market's random walk: the same seed gives the same prices."""
    paper_tick_seconds: float = Field(default=1.0, gt=0, le=3600)
    """How often the paper market moves and publishes a `PriceTick` per symbol."""
    paper_volatility: Decimal = Field(default=Decimal("0.0005"), ge=0, le=Decimal("0.1"))
    """Standard deviation of one tick's relative price move (0.0005 = 0.05%)."""
    paper_start_prices: dict[str, Decimal] = Field(default_factory=_default_start_prices)
    """The symbols the paper venue lists and where their walk starts (on first start only)."""
    paper_spread: Decimal = Field(default=Decimal("0"), ge=0, lt=Decimal("0.5"))
    """Fraction a market order pays over (buy) or under (sell) the current price."""
    paper_fee_rate: Decimal = Field(default=Decimal("0.001"), ge=0, lt=1)
    """Fee per trade as a fraction of its notional, charged in the quote asset."""
    paper_partial_fills: int = Field(default=1, ge=1, le=100)
    """Each paper fill is split into this many trades (`OrderFilled` each)."""
