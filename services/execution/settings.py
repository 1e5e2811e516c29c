"""Execution's settings: the paper venue's market and fill rules, and how network exchanges
(ccxt) are called, waited for and looked up. Every value is overridable by environment
(`CRYPTOORCH_PAPER_SEED=7`, `CRYPTOORCH_PAPER_START_PRICES='{"BTC/USDT": "60000"}'`,
`CRYPTOORCH_EXCHANGE_URL_OVERRIDES='{"binance": "http://127.0.0.1:9011"}'`). Exchange keys are
opened with `CRYPTOORCH_EXCHANGE_SEAL_KEY` (`CommonSettings.exchange_seal_key`).
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

    exchange_url_overrides: dict[str, str] = Field(default_factory=dict)
    """Exchange id → base URL replacing the host of every API URL ccxt has for it, e.g.
    `CRYPTOORCH_EXCHANGE_URL_OVERRIDES='{"binance": "http://127.0.0.1:9011"}'` (tests, e2e)."""
    exchange_timeout_ms: int = Field(default=10_000, ge=100, le=120_000)
    """ccxt's request timeout: past it, an order's outcome is unknown and it is looked up."""
    exchange_poll_seconds: float = Field(default=2.0, gt=0, le=3600)
    """How often open orders are asked for new trades, and pending work is looked at."""
    exchange_lookup_backoff_seconds: float = Field(default=1.0, gt=0, le=3600)
    """First wait before looking up an order whose outcome is unknown; doubles each time."""
    exchange_lookup_backoff_max_seconds: float = Field(default=60.0, gt=0, le=86_400)
    exchange_not_found_lookups: int = Field(default=5, ge=1, le=1000)
    """Answers "order does not exist" in a row (spaced by the backoff) before an unknown order
    is concluded never placed (and only then sent again, with the same client order id)."""
    exchange_max_submissions: int = Field(default=3, ge=1, le=20)
    """Times one order may be sent in all; past it, an order never found fails."""
    exchange_startup_reconcile_seconds: float = Field(default=120.0, gt=0, le=3600)
    """At most this long comparing non-terminal orders with their venues before consuming; what
    is left is reconciled by the background passes."""
    deposit_poll_seconds: float = Field(default=30.0, gt=0, le=86_400)
    """How often each account with a validated key is asked for new deposits."""
    exchange_markets_refresh_seconds: float = Field(default=3600.0, ge=1, le=86_400)
    """How often each network venue with a validated key is asked for its markets again
    (`MarketsListed`: safety checks orders against the latest listing)."""
    venue_balance_interval_seconds: float = Field(default=300.0, ge=0, le=86_400)
    """How often each account with a validated key reports its venue balances
    (`VenueBalancesReported`, reconciled by the ledger); 0 turns the reports off. The paper venue
    is never asked: its balances are the ledger's own."""
    cancel_all_after_poll_seconds: float = Field(default=0.5, gt=0, le=60)
    """How often the dead man's switches are looked at: an unrenewed one fires at most this
    long after its `armed_until`."""
