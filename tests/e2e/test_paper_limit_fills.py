"""Limit orders on the paper venue, through the HTTP API and every service: a limit that crosses
the market on arrival pays (or gets) the market price, and the ledger books exactly that."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from tests.support.client import ApiUser, balances_of, funded_user
from tests.support.system import System
from tests.support.waiting import eventually

pytestmark = pytest.mark.e2e
TERMINAL = {"filled", "rejected", "cancelled", "failed"}
MARKET = Decimal("65000.00")
"""BTC/USDT's paper price: where the walk starts, and stays with no volatility."""
STEADY = {"CRYPTOORCH_PAPER_VOLATILITY": "0"}


async def filled(user: ApiUser, side: str, price: str) -> dict[str, Any]:
    placed = await user.place_order(
        symbol="BTC/USDT", side=side, type="limit", amount="0.01", price=price
    )
    assert placed.status_code == 202, placed.text
    order = await eventually(
        lambda: user.order(placed.json()["order_id"]),
        until=lambda o: o["status"] in TERMINAL,
        timeout=60,
        what=f"{side} limit terminal",
    )
    assert order["status"] == "filled", order
    return order


@pytest.mark.parametrize("system", [STEADY], indirect=True)
async def test_limits_through_the_market_fill_at_the_market_and_cost_exactly_that(
    system: System,
) -> None:
    async with funded_user(system) as funded:
        alice = funded.user

        bought = await filled(alice, "buy", "70200.00")  # 8% above the market
        assert Decimal(bought["average_price"]) == MARKET, bought
        assert (Decimal(bought["fee"]), bought["fee_asset"]) == (Decimal("0.65"), "USDT")
        balances = await eventually(
            alice.balances,
            until=lambda b: balances_of(b, "USDT")[1] == 0 and "BTC" in b,
            what="buy settled and the rest of its hold released",
        )
        assert balances_of(balances, "USDT") == (Decimal("10000") - Decimal("650.65"), Decimal(0))
        assert balances_of(balances, "BTC") == (Decimal("0.01"), Decimal(0))

        sold = await filled(alice, "sell", "59800.00")  # 8% below the market
        assert Decimal(sold["average_price"]) == MARKET, sold
        assert (Decimal(sold["fee"]), sold["fee_asset"]) == (Decimal("0.65"), "USDT")
        balances = await eventually(
            alice.balances,
            until=lambda b: balances_of(b, "BTC") == (Decimal(0), Decimal(0)),
            what="sell settled",
        )
        # 650 received for the BTC, less the 0.65 fee
        assert balances_of(balances, "USDT") == (
            Decimal("10000") - Decimal("650.65") + Decimal("649.35"),
            Decimal(0),
        )
