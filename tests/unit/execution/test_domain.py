from __future__ import annotations

from decimal import Context, Decimal, localcontext

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.execution.domain.orders import (
    CLIENT_ORDER_ID_PATTERN,
    OrderRecord,
    OrderStatus,
    Trade,
    VenueOrderStatus,
    arrival_fill_price,
    client_order_id,
    fill_reports,
    limit_crossed,
    market_fill_price,
    plan_trades,
    split_amount,
    status_after,
    trade_fee,
    venue_refusal,
)
from shared.contracts.execution import FillStatus
from shared.contracts.orders import Mode, OrderType, Side


def order(amount: str = "1", filled: str = "0") -> OrderRecord:
    return OrderRecord(
        order_id="o-1",
        account_id="alice",
        client_order_id=client_order_id("o-1"),
        venue="paper",
        symbol="BTC/USDT",
        side=Side.BUY,
        type=OrderType.MARKET,
        amount=Decimal(amount),
        price=None,
        status=OrderStatus.OPEN,
        filled_amount=Decimal(filled),
    )


def test_client_order_id_is_the_same_on_every_retry_and_differs_between_orders() -> None:
    assert client_order_id("order-42") == client_order_id("order-42")
    assert client_order_id("order-42") != client_order_id("order-43")


@pytest.mark.parametrize("order_id", ["x", "0b6f1d2e-8f3a-4c5b-9d7e-1a2b3c4d5e6f", "a" * 64])
def test_client_order_id_fits_binance_new_client_order_id(order_id: str) -> None:
    cid = client_order_id(order_id)
    assert CLIENT_ORDER_ID_PATTERN.match(cid)
    assert cid.startswith("co-") and len(cid) == 35


def test_market_order_fills_at_the_current_price_without_spread() -> None:
    assert market_fill_price(Side.BUY, Decimal("65000.00"), Decimal(0)) == Decimal("65000.00")
    assert market_fill_price(Side.SELL, Decimal("65000.00"), Decimal(0)) == Decimal("65000.00")


def test_spread_costs_the_buyer_and_the_seller_rounded_against_them() -> None:
    spread = Decimal("0.0001")
    assert market_fill_price(Side.BUY, Decimal("150.05"), spread) == Decimal("150.07")
    assert market_fill_price(Side.SELL, Decimal("150.05"), spread) == Decimal("150.03")


@pytest.mark.parametrize(
    ("side", "limit", "current", "crossed"),
    [
        (Side.BUY, "100.00", "99.99", True),
        (Side.BUY, "100.00", "100.00", True),
        (Side.BUY, "100.00", "100.01", False),
        (Side.SELL, "100.00", "100.01", True),
        (Side.SELL, "100.00", "100.00", True),
        (Side.SELL, "100.00", "99.99", False),
    ],
)
def test_limit_order_fills_only_when_the_price_reaches_it(
    side: Side, limit: str, current: str, crossed: bool
) -> None:
    assert limit_crossed(side, Decimal(limit), Decimal(current)) is crossed


@pytest.mark.parametrize(
    ("side", "limit", "current", "fills_at"),
    [
        (Side.BUY, "70200.00", "65000.00", "65000.00"),  # 8% above: pays the market, not +8%
        (Side.BUY, "65000.00", "65000.00", "65000.00"),
        (Side.BUY, "64999.99", "65000.00", None),  # rests
        (Side.SELL, "59800.00", "65000.00", "65000.00"),  # 8% below: gets the market
        (Side.SELL, "65000.00", "65000.00", "65000.00"),
        (Side.SELL, "65000.01", "65000.00", None),  # rests
    ],
)
def test_a_limit_that_crosses_on_arrival_fills_at_the_market_not_at_its_limit(
    side: Side, limit: str, current: str, fills_at: str | None
) -> None:
    price = arrival_fill_price(side, OrderType.LIMIT, Decimal(limit), Decimal(current), Decimal(0))
    assert price == (None if fills_at is None else Decimal(fills_at))


def test_a_crossing_limit_pays_the_spread_but_never_more_than_its_limit() -> None:
    spread, current = Decimal("0.001"), Decimal("100.00")
    assert arrival_fill_price(Side.BUY, OrderType.LIMIT, Decimal("101"), current, spread) == (
        Decimal("100.10")
    )
    assert arrival_fill_price(Side.BUY, OrderType.LIMIT, Decimal("100.05"), current, spread) == (
        Decimal("100.05")
    )
    assert arrival_fill_price(Side.SELL, OrderType.LIMIT, Decimal("99"), current, spread) == (
        Decimal("99.90")
    )
    assert arrival_fill_price(Side.SELL, OrderType.LIMIT, Decimal("99.95"), current, spread) == (
        Decimal("99.95")
    )


def test_a_market_order_fills_on_arrival_at_the_market_price() -> None:
    assert arrival_fill_price(
        Side.BUY, OrderType.MARKET, None, Decimal("65000.00"), Decimal(0)
    ) == Decimal("65000.00")


prices = st.decimals(min_value="0.01", max_value="1000000", places=2)


@given(
    side=st.sampled_from(Side),
    limit=prices,
    current=prices,
    spread=st.decimals(min_value="0", max_value="0.01", places=4),
)
def test_an_arriving_limit_fills_no_worse_than_its_limit_or_the_market_or_rests(
    side: Side, limit: Decimal, current: Decimal, spread: Decimal
) -> None:
    price = arrival_fill_price(side, OrderType.LIMIT, limit, current, spread)
    if not limit_crossed(side, limit, current):
        assert price is None
        return
    assert price is not None
    market = market_fill_price(side, current, spread)
    if side is Side.BUY:
        assert price <= limit and price <= market
    else:
        assert price >= limit and price >= market


def test_fee_is_a_tenth_of_a_percent_of_the_notional() -> None:
    assert trade_fee(Decimal("0.01"), Decimal("65000.00"), Decimal("0.001")) == Decimal("0.65")


def test_fee_is_rounded_up_never_down() -> None:
    tiny = trade_fee(Decimal("0.000000000000000001"), Decimal("1.01"), Decimal("0.001"))
    assert tiny == Decimal("0.000000000000000001")


def test_split_fill_adds_up_to_the_amount_exactly() -> None:
    pieces = split_amount(Decimal("1"), 3)
    assert len(pieces) == 3 and sum(pieces) == Decimal("1") and all(p > 0 for p in pieces)
    assert split_amount(Decimal("0.000000000000000001"), 3) == [Decimal("0.000000000000000001")]


def test_partial_trades_cost_the_same_fee_as_one_trade() -> None:
    whole = trade_fee(Decimal("0.7"), Decimal("3333.33"), Decimal("0.001"))
    trades = plan_trades("co-x", Decimal("0.7"), Decimal("3333.33"), Decimal("0.001"), 3, "USDT")
    assert len(trades) == 3
    assert sum(t.amount for t in trades) == Decimal("0.7")
    assert sum(t.fee for t in trades) == whole
    assert len({t.trade_id for t in trades}) == 3
    assert all(t.fee_asset == "USDT" and t.price == Decimal("3333.33") for t in trades)


def test_trade_ids_are_deterministic() -> None:
    first = plan_trades("co-x", Decimal("1"), Decimal("10"), Decimal("0.001"), 2, "USDT")
    again = plan_trades("co-x", Decimal("1"), Decimal("10"), Decimal("0.001"), 2, "USDT")
    assert [t.trade_id for t in first] == [t.trade_id for t in again]


def test_fill_reports_say_partially_filled_until_the_last_trade() -> None:
    trades = [
        Trade("t1", Decimal("0.4"), Decimal("10"), Decimal(0), "USDT"),
        Trade("t2", Decimal("0.6"), Decimal("10"), Decimal(0), "USDT"),
    ]
    reports = fill_reports(order("1"), trades)
    assert [(r.status, r.cumulative_amount) for r in reports] == [
        (FillStatus.PARTIALLY_FILLED, Decimal("0.4")),
        (FillStatus.FILLED, Decimal("1.0")),
    ]


def test_fill_reports_continue_from_what_was_filled_before() -> None:
    trades = [Trade("t2", Decimal("0.5"), Decimal("10"), Decimal(0), "USDT")]
    (report,) = fill_reports(order("1", filled="0.5"), trades)
    assert report.status is FillStatus.FILLED and report.cumulative_amount == Decimal("1.0")


def test_a_fully_filled_order_is_filled_even_if_a_cancel_raced_it() -> None:
    assert status_after(order("1"), Decimal("1"), VenueOrderStatus.CANCELED) is OrderStatus.FILLED
    assert (
        status_after(order("1"), Decimal("0.5"), VenueOrderStatus.CANCELED) is OrderStatus.CANCELLED
    )
    assert status_after(order("1"), Decimal("0.5"), VenueOrderStatus.CLOSED) is OrderStatus.OPEN
    assert status_after(order("1"), Decimal(0), VenueOrderStatus.REJECTED) is OrderStatus.FAILED


def test_paper_money_stays_on_the_paper_venue() -> None:
    assert venue_refusal(Mode.PAPER, "paper") is None
    assert venue_refusal(Mode.PAPER, "binance") is not None
    assert venue_refusal(Mode.REAL, "paper") is not None
    assert venue_refusal(Mode.REAL, "binance") is None


def test_a_split_of_a_38_digit_amount_is_exact() -> None:
    amount = Decimal("12345678901234567890.123456789012345678")
    pieces = split_amount(amount, 7)
    assert len(pieces) == 7
    with localcontext(Context(prec=80)):
        assert sum(pieces[1:], pieces[0]) == amount
    reports = fill_reports(
        order(str(amount)),
        [Trade(str(i), p, Decimal(1), Decimal(0), "USDT") for i, p in enumerate(pieces)],
    )
    assert reports[-1].cumulative_amount == amount
    assert reports[-1].status is FillStatus.FILLED
