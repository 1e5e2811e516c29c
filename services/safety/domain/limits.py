"""The limits safety enforces, as one value the rules read. Per-account overrides replace fields."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

PAPER_VENUE = "paper"


@dataclass(frozen=True)
class Limits:
    usd_stable_assets: frozenset[str]
    price_max_decimals: int
    price_max_age: timedelta
    price_band: Decimal
    """Fraction (0.10 = 10%) a limit price may be away from the reference price."""
    min_notional_usd: Decimal
    max_notional_usd: Decimal
    hourly_trade_limit: int
    orders_per_second: int
    cooldown_after_failures: int
    cooldown: timedelta
    daily_volume_limit_usd: Decimal
    position_limit_usd: Decimal
    position_limits_usd: Mapping[str, Decimal]
    """Per base asset, replacing `position_limit_usd` for that asset."""
    daily_loss_limit_usd: Decimal
    withdrawal_daily_limit_usd: Decimal
    withdrawal_requires_two_factor: bool
    suspicious_rejections_per_hour: int
    suspicious_withdrawals_per_hour: int
    request_max_skew: timedelta = timedelta(hours=1)
    """How far before the decision a command's `occurred_at` may place it in the rolling
    windows (see `state.request_time`)."""
    duplicate_window_seconds: Decimal = Decimal(1)
    """An order identical to an approved one accepted less than this apart is a duplicate
    (DUPLICATE_ORDER); 0 turns the rule off. At most an hour takes effect (what is loaded)."""
    execution_throttle_fills: int = 200
    """More fills than this for one account within `execution_throttle_window_seconds` halts
    the account (RTS 6 Art. 15(3)); only an operator releases it."""
    execution_throttle_window_seconds: int = 60
    wash_trade_window_seconds: int = 60
    """A buy and a sell of the account in one symbol at crossing prices less than this apart
    is flagged `wash_trade` (surveillance: flagged, never rejected)."""
    order_to_trade_ratio: Decimal = Decimal(50)
    """Orders per fill above which an account is flagged `order_to_trade_ratio`..."""
    order_to_trade_min_orders: int = 100
    """...once it sent at least this many orders within `order_to_trade_window_seconds`."""
    order_to_trade_window_seconds: int = 3600

    @property
    def execution_throttle_window(self) -> timedelta:
        return timedelta(seconds=self.execution_throttle_window_seconds)

    @property
    def wash_trade_window(self) -> timedelta:
        return timedelta(seconds=self.wash_trade_window_seconds)

    @property
    def order_to_trade_window(self) -> timedelta:
        return timedelta(seconds=self.order_to_trade_window_seconds)

    @property
    def duplicate_window(self) -> timedelta:
        return timedelta(seconds=float(self.duplicate_window_seconds))

    def position_limit_for(self, asset: str) -> Decimal:
        return self.position_limits_usd.get(asset, self.position_limit_usd)

    def with_overrides(self, overrides: Mapping[str, Decimal]) -> Limits:
        """These limits with an account's own values; an unknown name is an error, not ignored."""
        changes: dict[str, object] = {}
        for name, value in overrides.items():
            if name not in OVERRIDABLE_LIMITS:
                raise ValueError(f"limit {name!r} cannot be overridden per account")
            if OVERRIDABLE_LIMITS[name] is int:
                if value != value.to_integral_value():
                    raise ValueError(f"limit {name!r} must be a whole number, got {value}")
                changes[name] = int(value)
            else:
                changes[name] = value
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]


OVERRIDABLE_LIMITS: dict[str, type] = {
    "min_notional_usd": Decimal,
    "max_notional_usd": Decimal,
    "hourly_trade_limit": int,
    "orders_per_second": int,
    "daily_volume_limit_usd": Decimal,
    "position_limit_usd": Decimal,
    "daily_loss_limit_usd": Decimal,
    "withdrawal_daily_limit_usd": Decimal,
    "duplicate_window_seconds": Decimal,
    "execution_throttle_fills": int,
    "execution_throttle_window_seconds": int,
    "order_to_trade_ratio": Decimal,
    "order_to_trade_min_orders": int,
}
"""Limits an operator may set per account (the `limit_overrides` table names these)."""
