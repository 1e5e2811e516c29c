from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from services.execution.domain.orders import VenueOrderStatus
from services.execution.venues import ccxt_parse
from services.execution.venues.base import DepositSeen


def test_a_float_from_ccxt_is_refused_rather_than_turned_into_money() -> None:
    with pytest.raises(TypeError, match="number = str"):
        ccxt_parse.decimal(0.1)
    assert ccxt_parse.decimal("0.10000000") == Decimal("0.1")


def test_a_trade_is_keyed_by_symbol_order_and_venue_trade_id_with_its_fee() -> None:
    raw: list[dict[str, Any]] = [
        {
            "id": "1001",
            "amount": "0.01",
            "price": "65000.00",
            "fee": {"cost": "0.65", "currency": "USDT"},
        },
        {"id": "1002", "amount": "0.02", "price": "65001.00", "fee": None},
        {"id": None, "amount": "0.03", "price": "65002.00"},
    ]
    first, second = ccxt_parse.trades("BTC/USDT", "77", raw)

    assert first.trade_id == "BTC/USDT:77:1001"
    assert (first.amount, first.price, first.fee, first.fee_asset) == (
        Decimal("0.01"),
        Decimal("65000.00"),
        Decimal("0.65"),
        "USDT",
    )
    assert (second.fee, second.fee_asset) == (Decimal(0), "USDT")


def test_a_maker_rebate_is_not_booked_as_a_negative_fee() -> None:
    (trade,) = ccxt_parse.trades(
        "BTC/USDT",
        "7",
        [{"id": "1", "amount": "1", "price": "2", "fee": {"cost": "-0.1", "currency": "USDT"}}],
    )
    assert trade.fee == 0


@pytest.mark.parametrize(
    ("status", "ours"),
    [
        ("open", VenueOrderStatus.OPEN),
        ("closed", VenueOrderStatus.CLOSED),
        ("canceled", VenueOrderStatus.CANCELED),
        ("expired", VenueOrderStatus.CANCELED),
        ("rejected", VenueOrderStatus.REJECTED),
        (None, VenueOrderStatus.OPEN),
    ],
)
def test_ccxt_order_statuses_map_to_ours(status: str | None, ours: VenueOrderStatus) -> None:
    assert ccxt_parse.order_status(status) is ours


def test_only_credited_deposits_with_a_transaction_id_count() -> None:
    raw: list[dict[str, Any]] = [
        {"status": "ok", "txid": "0xa", "currency": "USDT", "amount": "150"},
        {"status": "pending", "txid": "0xb", "currency": "USDT", "amount": "1"},
        {"status": "ok", "txid": None, "currency": "USDT", "amount": "2"},
        {"status": "ok", "txid": "0xc", "currency": "BTC", "amount": "0"},
    ]
    assert ccxt_parse.credited_deposits(raw) == [DepositSeen("0xa", "USDT", Decimal("150"))]


def test_balance_totals_keep_every_asset_held_and_leave_zeros_out() -> None:
    raw: dict[str, Any] = {
        "info": {},
        "free": {"BTC": "0.5", "USDT": "900.00000000", "ETH": "0.00000000"},
        "total": {"BTC": "0.75000000", "USDT": "1000.00000000", "ETH": "0.00000000"},
    }
    assert ccxt_parse.balance_totals(raw) == {"BTC": Decimal("0.75"), "USDT": Decimal("1000")}


@pytest.mark.parametrize(
    "raw",
    [
        {"free": {"BTC": "1"}},  # no totals at all
        {"total": {"BTC": None}},  # an asset whose total the venue left out
        {"total": {"BTC": "-0.1"}},
        {"total": {"BTC": "lots"}},
    ],
)
def test_a_balance_that_cannot_be_read_is_refused_whole(raw: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        ccxt_parse.balance_totals(raw)
