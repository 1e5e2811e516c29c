"""The dead man's switch end to end, as a trading bot uses it: `POST /v1/orders/cancel-all-after`
renewed while the bot is alive; when it stops renewing, its resting orders are cancelled (funds
released). Renewed or disarmed, nothing is cancelled. The deadline survives kill -9 of
execution, which keeps it."""

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
PASSWORD = "correct horse battery staple"
OPEN = "submitted"


@dataclass
class Bot:
    """A funded trader with one BTC/USDT limit buy resting 5% under the market."""

    user: ApiUser
    order_id: str

    async def arm(self, seconds: int) -> datetime | None:
        response = await self.user.http.post(
            "/v1/orders/cancel-all-after", json={"timeout_seconds": seconds}
        )
        assert response.status_code == 200, response.text
        until = response.json()["armed_until"]
        return None if until is None else datetime.fromisoformat(until)

    async def order(self) -> dict[str, Any]:
        return await self.user.order(self.order_id)

    async def cancelled(self) -> dict[str, Any]:
        order = await eventually(
            self.order,
            until=lambda o: o["status"] != OPEN,
            timeout=60,
            what=f"order {self.order_id} of {self.user.user_id} cancelled",
        )
        assert order["status"] == "cancelled", order
        await eventually(
            self.user.balances,
            until=lambda b: balances_of(b, "USDT") == (Decimal("10000"), Decimal(0)),
            timeout=60,
            what="the hold released",
        )
        return order


class Desk:
    def __init__(self, system: System, admin: ApiUser) -> None:
        self.system = system
        self.admin = admin
        self.users: list[ApiUser] = []

    async def execution_db(self) -> asyncpg.Connection:
        server, prefix = self.system.env["DATABASE_URL"], self.system.env["CRYPTOORCH_DB_PREFIX"]
        return await asyncpg.connect(database_url_for(server, f"{prefix}_execution"))

    async def armed_until(self, user_id: str) -> tuple[bool, datetime | None] | None:
        """(fired, armed_until) as execution stores it, or None before the first arming."""
        conn = await self.execution_db()
        try:
            row = await conn.fetchrow(
                "SELECT fired_at IS NOT NULL AS fired, armed_until FROM cancel_all_after "
                "WHERE account_id = $1",
                user_id,
            )
        finally:
            await conn.close()
        return None if row is None else (row["fired"], row["armed_until"])

    async def stored(self, bot: Bot, until: datetime | None) -> None:
        await eventually(
            lambda: self.armed_until(bot.user.user_id),
            until=lambda row: row is not None and row[1] == until,
            timeout=30,
            what=f"execution storing {bot.user.user_id}'s switch until {until}",
        )

    async def price(self) -> Decimal:
        conn = await self.execution_db()
        try:
            price = await eventually(
                lambda: conn.fetchval("SELECT price FROM paper_prices WHERE symbol = 'BTC/USDT'"),
                until=lambda p: p is not None,
                what="a paper BTC/USDT price",
            )
        finally:
            await conn.close()
        assert isinstance(price, Decimal)
        return price

    async def bot(self, name: str) -> Bot:
        user = await ApiUser(self.system.gateway_url, f"{name}@example.com", PASSWORD).register()
        self.users.append(user)
        assert (await self.admin.deposit(user.user_id, "USDT", "10000")).status_code == 202
        await eventually(
            user.balances,
            until=lambda b: balances_of(b, "USDT") == (Decimal("10000"), Decimal(0)),
            timeout=60,
            what=f"{name} funded",
        )
        price = (await self.price() * Decimal("0.95")).quantize(Decimal("0.01"))
        placed = await user.place_order(
            symbol="BTC/USDT", side="buy", type="limit", amount="0.01", price=str(price)
        )
        assert placed.status_code == 202, placed.text
        bot = Bot(user, placed.json()["order_id"])
        order = await eventually(
            bot.order,
            until=lambda o: o["status"] not in {"requested", "approved", "funds_held"},
            timeout=60,
            what=f"{name}'s limit buy resting",
        )
        assert order["status"] == OPEN, order
        return bot


@pytest.fixture
async def desk(system: System) -> AsyncIterator[Desk]:
    create_admin(system.env, "ops@example.com", PASSWORD)
    admin = await ApiUser(system.gateway_url, "ops@example.com", PASSWORD).login()
    desk = Desk(system, admin)
    try:
        yield desk
    finally:
        for user in [admin, *desk.users]:
            await user.close()


async def test_an_unrenewed_switch_cancels_on_time_a_renewed_or_disarmed_one_does_not(
    desk: Desk,
) -> None:
    renewed, disarmed, lapsed = [await desk.bot(n) for n in ("renewed", "disarmed", "lapsed")]
    first_renewed = await renewed.arm(8)
    await disarmed.arm(8)
    # armed last: its deadline is the latest of the three first deadlines
    lapsed_until = await lapsed.arm(8)
    assert first_renewed is not None and lapsed_until is not None

    renewed_until = await renewed.arm(15)
    assert await disarmed.arm(0) is None
    assert renewed_until is not None and renewed_until > first_renewed
    await desk.stored(renewed, renewed_until)
    await desk.stored(disarmed, None)

    cancelled = await lapsed.cancelled()
    assert datetime.fromisoformat(cancelled["updated_at"]) >= lapsed_until, "never early"
    # the lapsed deadline came after the others' first ones: those were passed, not fired
    assert (await renewed.order())["status"] == OPEN
    assert (await disarmed.order())["status"] == OPEN
    assert await desk.armed_until(lapsed.user.user_id) == (True, lapsed_until)

    # the renewal armed a new deadline: not renewed again, it fires in turn
    await renewed.cancelled()
    assert (await disarmed.order())["status"] == OPEN
    # the disarmed bot cancels its own order: the run ends with every order terminal
    response = await disarmed.user.http.post(
        f"/v1/orders/{disarmed.order_id}/cancel",
        headers={"Idempotency-Key": f"cancel-{disarmed.order_id}"},
    )
    assert response.status_code == 202, response.text
    await disarmed.cancelled()


async def test_an_armed_switch_fires_after_execution_is_killed_and_restarted(
    desk: Desk,
) -> None:
    bot = await desk.bot("restarted")
    until = await bot.arm(10)
    await desk.stored(bot, until)

    desk.system.kill("execution")
    assert (await bot.order())["status"] == OPEN
    desk.system.start("execution")

    await bot.cancelled()
    assert await desk.armed_until(bot.user.user_id) == (True, until)
