"""Safety's settings: every limit, overridable by environment (`CRYPTOORCH_<FIELD NAME>`).

Which symbols a venue lists, and each market's own limits, are not settings: they come from
the venue (`MarketsListed`, see `services.safety.domain.markets`)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from pydantic import Field

from services.safety.domain.limits import Limits
from shared.money import NonNegativeMoney, PositiveMoney
from shared.settings import CommonSettings


class SafetySettings(CommonSettings):
    usd_stable_assets: list[str] = Field(default=["USDT", "USDC", "USD", "DAI"])
    price_max_decimals: int = Field(default=8, ge=0, le=18)
    price_max_age_seconds: int = Field(default=60, ge=1)
    price_band: PositiveMoney = Decimal("0.10")
    min_notional_usd: NonNegativeMoney = Decimal("0.01")
    max_notional_usd: PositiveMoney = Decimal("1000000")
    hourly_trade_limit: int = Field(default=100, ge=0)
    orders_per_second: int = Field(default=10, ge=0)
    cooldown_after_failures: int = Field(default=3, ge=1)
    cooldown_seconds: int = Field(default=300, ge=0)
    daily_volume_limit_usd: NonNegativeMoney = Decimal("10000000")
    position_limit_usd: NonNegativeMoney = Decimal("10000000")
    position_limits_usd: dict[str, NonNegativeMoney] = Field(default_factory=dict)
    """Per base asset, e.g. `{"BTC": "2000000"}` (JSON object in the environment)."""
    daily_loss_limit_usd: NonNegativeMoney = Decimal("1000000")
    withdrawal_daily_limit_usd: NonNegativeMoney = Decimal("500000")
    withdrawal_requires_two_factor: bool = True
    suspicious_rejections_per_hour: int = Field(default=50, ge=1)
    suspicious_withdrawals_per_hour: int = Field(default=20, ge=1)
    duplicate_window_seconds: Decimal = Field(default=Decimal(1), ge=0, le=3600, decimal_places=3)
    """An order identical to one the account had approved less than this many seconds before
    (or after) it, by the gateway's acceptance times, is DUPLICATE_ORDER; 0 turns it off."""
    execution_throttle_fills: int = Field(default=200, ge=1)
    """More fills than this for one account within the window halts that account (its kill
    switch, `changed_by: safety:execution_throttle`) until an operator releases it."""
    execution_throttle_window_seconds: int = Field(default=60, ge=1, le=3600)
    wash_trade_window_seconds: int = Field(default=60, ge=1, le=3600)
    """A buy and a sell of one account in one symbol at crossing prices less than this many
    seconds apart raise `SuspiciousActivityFlagged` (`wash_trade`)."""
    order_to_trade_ratio: PositiveMoney = Decimal(50)
    """Orders per fill above which `SuspiciousActivityFlagged` (`order_to_trade_ratio`) is
    raised, once the account sent `order_to_trade_min_orders` orders within the window."""
    order_to_trade_min_orders: int = Field(default=100, ge=1)
    order_to_trade_window_seconds: int = Field(default=3600, ge=1, le=86400)
    request_max_skew_seconds: int = Field(default=3600, ge=0)
    """The rolling windows count a command at its `occurred_at`, clamped to at most this many
    seconds before safety decides it (and never after): see `domain.state.request_time`."""

    def limits(self) -> Limits:
        return Limits(
            usd_stable_assets=frozenset(self.usd_stable_assets),
            price_max_decimals=self.price_max_decimals,
            price_max_age=timedelta(seconds=self.price_max_age_seconds),
            price_band=self.price_band,
            min_notional_usd=self.min_notional_usd,
            max_notional_usd=self.max_notional_usd,
            hourly_trade_limit=self.hourly_trade_limit,
            orders_per_second=self.orders_per_second,
            cooldown_after_failures=self.cooldown_after_failures,
            cooldown=timedelta(seconds=self.cooldown_seconds),
            daily_volume_limit_usd=self.daily_volume_limit_usd,
            position_limit_usd=self.position_limit_usd,
            position_limits_usd=dict(self.position_limits_usd),
            daily_loss_limit_usd=self.daily_loss_limit_usd,
            withdrawal_daily_limit_usd=self.withdrawal_daily_limit_usd,
            withdrawal_requires_two_factor=self.withdrawal_requires_two_factor,
            suspicious_rejections_per_hour=self.suspicious_rejections_per_hour,
            suspicious_withdrawals_per_hour=self.suspicious_withdrawals_per_hour,
            request_max_skew=timedelta(seconds=self.request_max_skew_seconds),
            duplicate_window_seconds=self.duplicate_window_seconds,
            execution_throttle_fills=self.execution_throttle_fills,
            execution_throttle_window_seconds=self.execution_throttle_window_seconds,
            wash_trade_window_seconds=self.wash_trade_window_seconds,
            order_to_trade_ratio=self.order_to_trade_ratio,
            order_to_trade_min_orders=self.order_to_trade_min_orders,
            order_to_trade_window_seconds=self.order_to_trade_window_seconds,
        )
