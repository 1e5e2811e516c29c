"""Duplicative orders and the restricted list end to end, as a trader and an operator see them:
five processes, the real broker, the real PostgreSQL. A retry of the same order under a new
Idempotency-Key is rejected DUPLICATE_ORDER; a restricted symbol or account is rejected
RESTRICTED until the operator lifts it."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
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
WIDE_WINDOW = {"CRYPTOORCH_DUPLICATE_WINDOW_SECONDS": "60"}
"""Wide enough that two requests sent back to back fall inside it on the slowest machine."""
POST_TRADE = {"CRYPTOORCH_PAPER_VOLATILITY": "0", "CRYPTOORCH_EXECUTION_THROTTLE_FILLS": "2"}
"""A still paper market (a buy and a sell fill at one price: crossing) and a throttle of 2."""
REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Desk:
    system: System
    admin: ApiUser
    trader: ApiUser

    async def buy(self, symbol: str, amount: str, side: str = "buy") -> dict[str, Any]:
        placed = await self.trader.place_order(
            symbol=symbol, side=side, type="market", amount=amount
        )
        assert placed.status_code == 202, placed.text
        order_id = placed.json()["order_id"]
        settled: dict[str, Any] = await eventually(
            lambda: self.trader.order(order_id),
            until=lambda o: o["status"] in TERMINAL,
            timeout=60,
            what=f"order {order_id} settled",
        )
        return settled

    async def restrict(self, scope: str, target: str, *, restricted: bool) -> str:
        body = {"scope": scope, "target": target, "restricted": restricted, "reason": "drill"}
        response = await self.admin.http.post("/v1/admin/restrictions", json=body)
        assert response.status_code == 200, response.text
        stored: str = response.json()["target"]
        await eventually(
            lambda: self.safety_has(scope, stored, restricted),
            timeout=30,
            what=f"safety holding {scope} {stored} restricted={restricted}",
        )
        return stored

    async def safety_has(self, scope: str, target: str, restricted: bool) -> bool:
        server, prefix = self.system.env["DATABASE_URL"], self.system.env["CRYPTOORCH_DB_PREFIX"]
        conn = await asyncpg.connect(database_url_for(server, f"{prefix}_safety"))
        try:
            found = await conn.fetchval(
                "SELECT restricted FROM restrictions WHERE scope = $1 AND target = $2",
                scope,
                target,
            )
        finally:
            await conn.close()
        return found is restricted


@pytest.fixture
async def desk(system: System) -> AsyncIterator[Desk]:
    create_admin(system.env, "ops@example.com", PASSWORD)
    admin = await ApiUser(system.gateway_url, "ops@example.com", PASSWORD).login()
    trader = await ApiUser(system.gateway_url, "trader@example.com", PASSWORD).register()
    try:
        assert (await admin.deposit(trader.user_id, "USDT", "100000")).status_code == 202
        await eventually(
            trader.balances,
            until=lambda b: balances_of(b, "USDT") == (Decimal("100000"), Decimal(0)),
            timeout=60,
            what="the deposit credited",
        )
        yield Desk(system, admin, trader)
    finally:
        await admin.close()
        await trader.close()


@pytest.mark.parametrize("system", [WIDE_WINDOW], indirect=True)
async def test_a_retried_order_is_a_duplicate_and_restrictions_hold_until_lifted(
    desk: Desk,
) -> None:
    order = {"symbol": "BTC/USDT", "side": "buy", "type": "market", "amount": "0.001"}
    first = await desk.trader.place_order(**order)
    retry = await desk.trader.place_order(**{**order, "amount": "0.0010"})  # a new key
    assert (first.status_code, retry.status_code) == (202, 202)
    retried: dict[str, Any] = await eventually(
        lambda: desk.trader.order(retry.json()["order_id"]),
        until=lambda o: o["status"] in TERMINAL,
        timeout=60,
        what="the retry settled",
    )
    assert (retried["status"], retried["reject_reason"]) == ("rejected", "DUPLICATE_ORDER")
    assert (await desk.trader.order(first.json()["order_id"]))["status"] != "rejected"

    symbol = await desk.restrict("symbol", "eth/usdt", restricted=True)
    assert symbol == "ETH/USDT"
    refused = await desk.buy("ETH/USDT", "0.01")
    assert (refused["status"], refused["reject_reason"]) == ("rejected", "RESTRICTED")
    await desk.restrict("symbol", symbol, restricted=False)
    assert (await desk.buy("ETH/USDT", "0.02"))["status"] == "filled"

    account = await desk.restrict("account", desk.trader.user_id.upper(), restricted=True)
    assert account == desk.trader.user_id
    refused = await desk.buy("SOL/USDT", "0.1")
    assert (refused["status"], refused["reject_reason"]) == ("rejected", "RESTRICTED")
    listed = await desk.admin.http.get("/v1/admin/restrictions")
    assert [(i["scope"], i["target"]) for i in listed.json()["items"]] == [
        ("account", desk.trader.user_id)
    ]
    await desk.restrict("account", account, restricted=False)
    assert (await desk.buy("SOL/USDT", "0.2"))["status"] == "filled"


async def trace(system: System, order_id: str) -> list[dict[str, Any]]:
    process = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "cryptoorch.cli", "trace", order_id, "--json"),
        cwd=REPO_ROOT,
        env=system.env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, _ = await asyncio.wait_for(process.communicate(), timeout=120)
    if process.returncode != 0:
        return []  # not audited yet
    found: list[dict[str, Any]] = json.loads(out)
    return found


@pytest.mark.parametrize("system", [POST_TRADE], indirect=True)
async def test_a_wash_trade_is_flagged_in_the_trace_and_the_third_fill_halts_the_account(
    desk: Desk,
) -> None:
    bought = await desk.buy("BTC/USDT", "0.001")
    sold = await desk.buy("BTC/USDT", "0.001", side="sell")
    assert (bought["status"], sold["status"]) == ("filled", "filled")

    traced = await eventually(
        lambda: trace(desk.system, sold["order_id"]),
        until=lambda ms: any(m["type"] == "SuspiciousActivityFlagged" for m in ms),
        timeout=60,
        what="the wash-trade flag in the sell's trace",
    )
    [flag] = [m for m in traced if m["type"] == "SuspiciousActivityFlagged"]
    assert flag["producer"] == "safety"

    assert (await desk.buy("BTC/USDT", "0.001"))["status"] == "filled"  # the third fill
    switches = await eventually(
        lambda: desk.admin.http.get("/v1/admin/kill-switch"),
        until=lambda r: any(i["engaged"] for i in r.json()["items"]),
        timeout=60,
        what="the account halted by the execution throttle",
    )
    [halt] = switches.json()["items"]
    assert (halt["scope"], halt["target"], halt["mode"], halt["changed_by"]) == (
        "account",
        desk.trader.user_id,
        "halt",
        "safety:execution_throttle",
    )
    refused = await desk.buy("BTC/USDT", "0.001")
    assert (refused["status"], refused["reject_reason"]) == ("rejected", "KILL_SWITCH")
