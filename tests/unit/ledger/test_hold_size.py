from __future__ import annotations

from decimal import Decimal

import pytest

from services.ledger.domain import order_hold_size
from shared.contracts.orders import OrderSpec, OrderType, Side

FEE = Decimal("0.001")


def spec(side: Side, amount: str, price: str | None = None) -> OrderSpec:
    return OrderSpec(
        order_id="o-1",
        symbol="BTC/USDT",
        side=side,
        type=OrderType.LIMIT if price else OrderType.MARKET,
        amount=Decimal(amount),
        price=Decimal(price) if price else None,
    )


def size(order: OrderSpec, reference: str = "60000", band: str = "0.10") -> tuple[str, Decimal]:
    return order_hold_size(
        order, reference_price=Decimal(reference), price_band=Decimal(band), max_fee_rate=FEE
    )


def test_buy_limit_holds_cost_at_limit_price_plus_the_maximum_fee_in_quote() -> None:
    assert size(spec(Side.BUY, "0.5", "60000")) == ("USDT", Decimal("30030.000"))


def test_buy_market_holds_cost_at_the_top_of_the_price_band_plus_fee() -> None:
    # 0.01 * 60000 * 1.10 * 1.001
    assert size(spec(Side.BUY, "0.01")) == ("USDT", Decimal("660.66"))


def test_sell_holds_the_amount_in_the_base_asset() -> None:
    assert size(spec(Side.SELL, "0.25")) == ("BTC", Decimal("0.25"))


def test_hold_is_rounded_up_to_eighteen_decimals_never_down() -> None:
    asset, held = size(spec(Side.BUY, "0.000000000000000001", "0.333333333333333333"))
    assert asset == "USDT"
    assert held == Decimal("0.000000000000000001")
    assert held.as_tuple().exponent == -18


@pytest.mark.parametrize("band", ["0.05", "0.10", "0.25"])
def test_a_wider_band_never_holds_less(band: str) -> None:
    narrow = size(spec(Side.BUY, "1.5"), band="0.01")[1]
    assert size(spec(Side.BUY, "1.5"), band=band)[1] >= narrow
