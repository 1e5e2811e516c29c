"""A venue's markets as safety is told them: read exactly from ccxt, split to fit a message."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from services.execution.remote.listings import listing_parts
from services.execution.venues.ccxt_parse import DECIMAL_PLACES, TICK_SIZE, listed_markets
from shared.contracts.envelope import decode, encode, new_message
from shared.contracts.execution import MARKETS_PER_MESSAGE, ListedMarket, MarketsListed
from shared.ids import SYSTEM_ACCOUNT

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def ccxt_market(**changes: Any) -> dict[str, Any]:
    market: dict[str, Any] = {
        "spot": True,
        "active": True,
        "precision": {"amount": "0.00001000", "price": "0.01000000"},
        "limits": {
            "amount": {"min": "0.00001000", "max": "9000.00000000"},
            "cost": {"min": "5.00000000", "max": None},
        },
    }
    market.update(changes)
    return market


def test_a_ccxt_market_is_read_as_exact_decimals() -> None:
    [btc] = listed_markets({"BTC/USDT": ccxt_market()}, TICK_SIZE)
    assert btc == ListedMarket(
        symbol="BTC/USDT",
        amount_min=Decimal("0.00001"),
        amount_max=Decimal("9000"),
        cost_min=Decimal("5"),
        cost_max=None,
        amount_step=Decimal("0.00001"),
        price_step=Decimal("0.01"),
    )


def test_decimal_places_precision_becomes_a_step() -> None:
    places = ccxt_market(precision={"amount": 4, "price": 2})
    [eth] = listed_markets({"ETH/USDT": places}, DECIMAL_PLACES)
    assert (eth.amount_step, eth.price_step) == (Decimal("0.0001"), Decimal("0.01"))


def test_inactive_non_spot_and_unreadable_markets_are_not_listed() -> None:
    markets = {
        "BTC/USDT": ccxt_market(),
        "OLD/USDT": ccxt_market(active=False),
        "BTC/USDT:USDT": ccxt_market(spot=False),
        "FLT/USDT": ccxt_market(limits={"amount": {"min": 0.001}}),  # a float: not guessed
        "BAD/USDT": ccxt_market(limits={"cost": {"min": "five"}}),
    }
    assert [m.symbol for m in listed_markets(markets, TICK_SIZE)] == ["BTC/USDT"]


def test_a_long_listing_is_split_into_parts_that_each_fit_a_message() -> None:
    rule = Decimal("123456789012.123456789012345678")  # the widest amount the contract takes
    markets = [
        ListedMarket(
            symbol=f"ABCDEFGH{i:04d}/ABCDEFGHIJKL",
            amount_min=rule,
            amount_max=rule,
            cost_min=rule,
            cost_max=rule,
            amount_step=rule,
            price_step=rule,
        )
        for i in range(2 * MARKETS_PER_MESSAGE + 1)
    ]
    parts = listing_parts("binance", markets, NOW)
    assert [(p.part, p.parts, len(p.markets)) for p in parts] == [
        (1, 3, MARKETS_PER_MESSAGE),
        (2, 3, MARKETS_PER_MESSAGE),
        (3, 3, 1),
    ]
    assert [m for p in parts for m in p.markets] == markets
    for part in parts:  # every part survives the envelope's size cap
        message = new_message(
            part, producer="execution", account_id=SYSTEM_ACCOUNT, correlation_id="m", now=NOW
        )
        assert decode(encode(message)).body(MarketsListed) == part


def test_a_venue_listing_nothing_is_one_empty_part() -> None:
    [only] = listing_parts("paper", [], NOW)
    assert (only.part, only.parts, only.markets) == (1, 1, [])
