"""Kill switches end to end, as an operator on call uses them: five processes, the real broker,
the real PostgreSQL. `halt` refuses the scope's new orders and cancels its resting ones (funds
released); `reduce_only` lets sells of held coins through, refuses buys and cancels open buys.
An account target in another letter case halts the same account."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import asyncpg
import pytest

from shared.settings import database_url_for
from tests.support.client import ApiUser, balances_of, create_admin
from tests.support.system import System
from tests.support.waiting import eventually

pytestmark = pytest.mark.e2e
TERMINAL = {"filled", "rejected", "cancelled", "failed"}
PASSWORD = "correct horse battery staple"


@dataclass
class Desk:
    """The operator and one funded trader of a running system."""

    system: System
    admin: ApiUser
    trader: ApiUser

    async def engage(self, **body: Any) -> dict[str, Any]:
        request = {"scope": "account", "engaged": True, "reason": "on-call drill", **body}
        response = await self.admin.http.post("/v1/admin/kill-switch", json=request)
        assert response.status_code == 200, response.text
        switch: dict[str, Any] = response.json()
        assert switch["target"] == self.trader.user_id, "stored as the account's own id"
        await eventually(
            lambda: self.safety_enforces(switch["target"], switch["mode"]),
            timeout=30,
            what="safety enforcing the switch",
        )
        return switch

    async def safety_enforces(self, target: str, mode: str) -> bool:
        server, prefix = self.system.env["DATABASE_URL"], self.system.env["CRYPTOORCH_DB_PREFIX"]
        conn = await asyncpg.connect(database_url_for(server, f"{prefix}_safety"))
        try:
            row = await conn.fetchrow(
                "SELECT engaged, mode FROM kill_switches WHERE scope = 'account' AND target = $1",
                target,
            )
        finally:
            await conn.close()
        return row is not None and row["engaged"] and row["mode"] == mode

    async def price(self, symbol: str) -> Decimal:
        """The paper venue's current price (execution's walk)."""
        server, prefix = self.system.env["DATABASE_URL"], self.system.env["CRYPTOORCH_DB_PREFIX"]
        conn = await asyncpg.connect(database_url_for(server, f"{prefix}_execution"))
        try:
            price = await eventually(
                lambda: conn.fetchval("SELECT price FROM paper_prices WHERE symbol = $1", symbol),
                until=lambda p: p is not None,
                what=f"a paper price for {symbol}",
            )
        finally:
            await conn.close()
        assert isinstance(price, Decimal)
        return price

    async def resting_limit(self, side: str, price: Decimal) -> str:
        """A BTC/USDT limit order 5% away from the market (inside the price band): it rests."""
        placed = await self.trader.place_order(
            symbol="BTC/USDT", side=side, type="limit", amount="0.01", price=str(price)
        )
        assert placed.status_code == 202, placed.text
        order_id: str = placed.json()["order_id"]
        order = await self.settled(order_id, until={"submitted", *TERMINAL})
        assert order["status"] == "submitted", order
        return order_id

    async def settled(self, order_id: str, until: set[str] = TERMINAL) -> dict[str, Any]:
        return await eventually(
            lambda: self.trader.order(order_id),
            until=lambda o: o["status"] in until,
            timeout=60,
            what=f"order {order_id} in {sorted(until)}",
        )

    async def market(self, side: str, amount: str = "0.01") -> dict[str, Any]:
        placed = await self.trader.place_order(
            symbol="BTC/USDT", side=side, type="market", amount=amount
        )
        assert placed.status_code == 202, placed.text
        return await self.settled(placed.json()["order_id"])

    async def funds(self, asset: str, until: tuple[Decimal, Decimal]) -> None:
        await eventually(
            self.trader.balances,
            until=lambda b: balances_of(b, asset) == until,
            timeout=60,
            what=f"{asset} (available, held) == {until}",
        )


@pytest.fixture
async def desk(system: System) -> AsyncIterator[Desk]:
    create_admin(system.env, "ops@example.com", PASSWORD)
    admin = await ApiUser(system.gateway_url, "ops@example.com", PASSWORD).login()
    trader = await ApiUser(system.gateway_url, "trader@example.com", PASSWORD).register()
    try:
        for asset, amount in (("USDT", "10000"), ("BTC", "0.05")):
            assert (await admin.deposit(trader.user_id, asset, amount)).status_code == 202
        desk = Desk(system, admin, trader)
        await desk.funds("USDT", (Decimal("10000"), Decimal(0)))
        await desk.funds("BTC", (Decimal("0.05"), Decimal(0)))
        yield desk
    finally:
        await admin.close()
        await trader.close()


def cents(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"))


async def test_an_upper_case_account_halt_cancels_the_resting_order_and_refuses_new_ones(
    desk: Desk,
) -> None:
    price = await desk.price("BTC/USDT")
    resting = await desk.resting_limit("buy", cents(price * Decimal("0.95")))
    assert balances_of(await desk.trader.balances(), "USDT")[1] > 0

    switch = await desk.engage(target=desk.trader.user_id.upper())

    assert switch["mode"] == "halt"
    cancelled = await desk.settled(resting)
    assert cancelled["status"] == "cancelled", cancelled
    took = datetime.fromisoformat(cancelled["updated_at"]) - datetime.fromisoformat(
        switch["changed_at"]
    )
    print(f"halt: resting order shown cancelled {took.total_seconds() * 1000:.0f} ms after engage")
    await desk.funds("USDT", (Decimal("10000"), Decimal(0)))
    for side in ("buy", "sell"):
        refused = await desk.market(side)
        assert (refused["status"], refused["reject_reason"]) == ("rejected", "KILL_SWITCH")
    listed = await desk.admin.http.get("/v1/admin/kill-switch")
    assert [(i["target"], i["engaged"], i["mode"]) for i in listed.json()["items"]] == [
        (desk.trader.user_id, True, "halt")
    ]


async def test_reduce_only_lets_a_sell_of_held_coins_through_and_refuses_buys(
    desk: Desk,
) -> None:
    price = await desk.price("BTC/USDT")
    open_buy = await desk.resting_limit("buy", cents(price * Decimal("0.95")))
    open_sell = await desk.resting_limit("sell", cents(price * Decimal("1.05")))

    await desk.engage(target=desk.trader.user_id, mode="reduce_only")

    assert (await desk.settled(open_buy))["status"] == "cancelled"
    await desk.funds("USDT", (Decimal("10000"), Decimal(0)))
    assert (await desk.trader.order(open_sell))["status"] == "submitted"
    sold = await desk.market("sell")
    assert sold["status"] == "filled", sold
    bought = await desk.market("buy")
    assert (bought["status"], bought["reject_reason"]) == ("rejected", "KILL_SWITCH")
    more_than_held = await desk.market("sell", amount="1")
    assert (more_than_held["status"], more_than_held["reject_reason"]) == (
        "rejected",
        "INSUFFICIENT_FUNDS",
    )
    await desk.funds("BTC", (Decimal("0.03"), Decimal("0.01")))

    cancelled = await desk.trader.http.post(
        f"/v1/orders/{open_sell}/cancel", headers={"Idempotency-Key": f"cancel-{open_sell}"}
    )
    assert cancelled.status_code == 202, "a reducing order may still be cancelled by its owner"
    assert (await desk.settled(open_sell))["status"] == "cancelled"
    await desk.funds("BTC", (Decimal("0.04"), Decimal(0)))
