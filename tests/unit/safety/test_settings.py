"""Every limit comes from the environment; an account's overrides replace the defaults."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest

import services.safety
from services.safety.domain import OVERRIDABLE_LIMITS
from services.safety.settings import SafetySettings
from tests.unit.safety.scenario import default_limits


def test_defaults_are_the_documented_limits() -> None:
    limits = default_limits()
    assert limits.usd_stable_assets == {"USDT", "USDC", "USD", "DAI"}
    assert limits.price_max_age == timedelta(seconds=60)
    assert limits.price_band == Decimal("0.10")
    assert (limits.min_notional_usd, limits.max_notional_usd) == (
        Decimal("0.01"),
        Decimal(1_000_000),
    )
    assert limits.daily_volume_limit_usd == 10_000_000
    assert (limits.hourly_trade_limit, limits.orders_per_second) == (100, 10)
    assert (limits.cooldown_after_failures, limits.cooldown) == (3, timedelta(minutes=5))
    assert limits.withdrawal_daily_limit_usd == 500_000
    assert limits.duplicate_window == timedelta(seconds=1)


def test_limits_are_read_from_cryptoorch_environment_variables(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CRYPTOORCH_MAX_NOTIONAL_USD", "2500.50")
    monkeypatch.setenv("CRYPTOORCH_HOURLY_TRADE_LIMIT", "7")
    monkeypatch.setenv("CRYPTOORCH_POSITION_LIMITS_USD", '{"BTC": "1000"}')
    monkeypatch.setenv("CRYPTOORCH_COOLDOWN_SECONDS", "60")
    limits = SafetySettings().limits()
    assert limits.max_notional_usd == Decimal("2500.50")
    assert limits.hourly_trade_limit == 7
    assert limits.position_limit_for("BTC") == Decimal("1000")
    assert limits.position_limit_for("ETH") == Decimal("10000000")
    assert limits.cooldown == timedelta(seconds=60)


def test_a_float_looking_limit_in_the_environment_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CRYPTOORCH_MAX_NOTIONAL_USD", "1e6")
    with pytest.raises(ValueError, match="decimal string"):
        SafetySettings()


def test_account_overrides_replace_only_the_named_limits() -> None:
    limits = default_limits().with_overrides(
        {"hourly_trade_limit": Decimal("5"), "daily_volume_limit_usd": Decimal("1000")}
    )
    assert limits.hourly_trade_limit == 5
    assert limits.daily_volume_limit_usd == Decimal("1000")
    assert limits.max_notional_usd == Decimal("1000000")


def test_an_unknown_or_fractional_override_is_an_error_not_ignored() -> None:
    with pytest.raises(ValueError, match="cannot be overridden"):
        default_limits().with_overrides({"price_band": Decimal("0.5")})
    with pytest.raises(ValueError, match="whole number"):
        default_limits().with_overrides({"hourly_trade_limit": Decimal("5.5")})


def test_every_overridable_limit_is_a_setting() -> None:
    assert set(OVERRIDABLE_LIMITS) <= set(SafetySettings.model_fields)


def test_the_overrides_table_accepts_exactly_the_overridable_limits() -> None:
    migrations = sorted((Path(services.safety.__file__).parent / "migrations").glob("*.sql"))
    schema = [path.read_text() for path in migrations if "CHECK (name IN (" in path.read_text()]
    allowed = schema[-1].split("CHECK (name IN (", 1)[1].split("))", 1)[0]
    assert {name.strip().strip("'") for name in allowed.split(",")} == set(OVERRIDABLE_LIMITS)
