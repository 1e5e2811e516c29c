"""Positions and realised P&L by average cost; fees valued in USD or the fill is parked."""

from __future__ import annotations

from decimal import Decimal

from services.safety.domain import PriceBook, ReferencePrice, book_fill, fee_in_usd
from services.safety.domain.state import Position
from shared.contracts.orders import Side
from tests.unit.safety.scenario import NOW, default_limits

D = Decimal


def test_buys_average_their_cost() -> None:
    first = book_fill(Position(), Side.BUY, D("1"), D("100"), D("0"))
    second = book_fill(first.position, Side.BUY, D("1"), D("200"), D("0"))
    assert second.position.quantity == D("2")
    assert second.position.average_cost_usd == D("150")
    assert second.realised_usd == 0


def test_a_sale_realises_the_gain_over_average_cost_minus_its_fee() -> None:
    held = Position(D("2"), D("150"))
    sold = book_fill(held, Side.SELL, D("1"), D("300"), D("0.3"))
    assert sold.realised_usd == D("149.7")
    assert sold.position == Position(D("1"), D("150"))


def test_a_sale_below_cost_realises_a_loss() -> None:
    sold = book_fill(Position(D("1"), D("150")), Side.SELL, D("1"), D("100"), D("0"))
    assert sold.realised_usd == D("-50")
    assert sold.position.quantity == 0
    assert sold.position.average_cost_usd == 0


def test_selling_more_than_bought_opens_the_rest_at_the_sale_price() -> None:
    sold = book_fill(Position(D("1"), D("150")), Side.SELL, D("3"), D("100"), D("0"))
    assert sold.realised_usd == D("-50")
    assert sold.position == Position(D("-2"), D("100"))
    bought_back = book_fill(sold.position, Side.BUY, D("2"), D("90"), D("0"))
    assert bought_back.realised_usd == D("20")
    assert bought_back.position.quantity == 0


def test_a_buy_fee_is_a_realised_loss() -> None:
    assert book_fill(Position(), Side.BUY, D("1"), D("100"), D("0.1")).realised_usd == D("-0.1")


def test_average_cost_rounds_up_so_gains_are_never_overstated() -> None:
    first = book_fill(Position(), Side.BUY, D("3"), D("1"), D("0"))
    second = book_fill(first.position, Side.BUY, D("3"), D("2"), D("0"))
    third = book_fill(second.position, Side.BUY, D("3"), D("2"), D("0"))
    assert third.position.average_cost_usd == D("1.666666666666666667")


def fee(asset: str, book: PriceBook | None = None) -> Decimal | None:
    return fee_in_usd(
        fee=D("0.5"),
        fee_asset=asset,
        base="ETH",
        quote="BTC",
        fill_price=D("0.05"),
        quote_usd=D("50000"),
        prices=book or PriceBook({}),
        limits=default_limits(),
    )


def test_fee_in_the_quote_asset_is_valued_at_the_quote_rate() -> None:
    assert fee("BTC") == D("25000")


def test_fee_in_the_base_asset_is_valued_at_the_fill_price() -> None:
    assert fee("ETH") == D("1250")


def test_fee_in_a_third_asset_uses_its_last_known_price_at_any_age() -> None:
    old = PriceBook({"BNB/USDT": ReferencePrice(D("600"), NOW.replace(year=2020))})
    assert fee("BNB", old) == D("300")
    assert fee("USDC") == D("0.5")


def test_fee_in_an_asset_that_never_had_a_price_cannot_be_valued() -> None:
    assert fee("XYZ") is None
