"""A real-money order through the whole system, against a simulated Binance spoken to by the
real ccxt client: gateway → safety → ledger → execution → venue → ledger."""

from __future__ import annotations

import json
import signal
import socket
import sys
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
import pyotp
import pytest

from shared.infra.processes import ChildProcess, free_port, spawn
from shared.settings import database_url_for
from tests.support.client import ApiUser, balances_of, create_admin
from tests.support.console import console_session
from tests.support.system import SERVICES, System, system_env
from tests.support.waiting import eventually

pytestmark = pytest.mark.e2e
TERMINAL = {"filled", "rejected", "cancelled", "failed"}
API_KEY, API_SECRET = "alice-binance-key", "alice-binance-secret"


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture
def venue(tmp_path: Path) -> Iterator[tuple[str, ChildProcess]]:
    port = free_port()
    process = spawn(
        "simbinance",
        [
            sys.executable,
            "-m",
            "tests.support.simbinance",
            "--port",
            str(port),
            "--market",
            "BTC/USDT=65000",
            "--account",
            f"{API_KEY}:{API_SECRET}:USDT=100000",
        ],
        log_path=tmp_path / "logs" / "simbinance.log",
        death_signal=signal.SIGKILL,
        stop_signal=signal.SIGTERM,
    )
    process.wait_until(lambda: _listening(port), timeout=30, what="listening")
    try:
        yield f"http://127.0.0.1:{port}", process
    finally:
        process.stop()


@pytest.fixture
def real_system(
    service_env: dict[str, str], tmp_path: Path, venue: tuple[str, ChildProcess]
) -> Iterator[System]:
    env = system_env(service_env, tmp_path)
    env["CRYPTOORCH_EXCHANGE_URL_OVERRIDES"] = json.dumps({"binance": venue[0]})
    env["CRYPTOORCH_EXCHANGE_POLL_SECONDS"] = "0.3"
    env["CRYPTOORCH_VENUE_BALANCE_INTERVAL_SECONDS"] = "1"
    env["CRYPTOORCH_PAPER_START_PRICES"] = json.dumps({"BTC/USDT": "65000"})
    running = System(env, tmp_path / "logs", f"http://127.0.0.1:{env['CRYPTOORCH_GATEWAY_PORT']}")
    try:
        for name in SERVICES:
            running.start(name)
        running.wait_healthy()
        yield running
    except BaseException:
        print(running.logs(*SERVICES, "simbinance"))
        raise
    finally:
        running.stop()


async def test_real_money_market_buy_fills_at_the_venue_and_books_its_price_and_fee(
    real_system: System,
) -> None:
    system = real_system
    create_admin(system.env, "ops@example.com", "correct horse battery staple")
    admin = await ApiUser(
        system.gateway_url, "ops@example.com", "correct horse battery staple"
    ).login()
    alice = await ApiUser(
        system.gateway_url, "alice@example.com", "alice's long password"
    ).register()
    try:
        # 2FA: confirm with the previous step's code (accepted for drift), order with the next
        enrolled = await alice.http.post("/v1/auth/2fa/enroll")
        totp = pyotp.TOTP(enrolled.json()["secret"])
        step = int(time.time()) // 30
        confirmed = await alice.http.post(
            "/v1/auth/2fa/confirm", json={"code": totp.generate_otp(step - 1)}
        )
        assert confirmed.status_code == 200, confirmed.text

        added = await alice.http.post(
            "/v1/exchange-keys",
            json={"exchange": "binance", "api_key": API_KEY, "secret": API_SECRET},
        )
        assert added.status_code == 201, added.text
        assert (await admin.deposit(alice.user_id, "USDT", "10000")).status_code == 202
        await eventually(
            alice.balances,
            until=lambda b: balances_of(b, "USDT") == (Decimal("10000"), Decimal(0)),
            timeout=60,
            what="deposit credited",
        )

        async def key_validated() -> bool:
            """Safety learns of the validation from execution's `ExchangeKeyValidated`."""
            url = database_url_for(
                system.env["DATABASE_URL"], f"{system.env['CRYPTOORCH_DB_PREFIX']}_safety"
            )
            conn = await asyncpg.connect(url)
            try:
                return bool(
                    await conn.fetchval(
                        "SELECT valid FROM exchange_keys WHERE account_id = $1", alice.user_id
                    )
                )
            finally:
                await conn.close()

        await eventually(key_validated, timeout=60, what="exchange key validated by execution")

        placed = await alice.http.post(
            "/v1/orders",
            json={
                "symbol": "BTC/USDT",
                "side": "buy",
                "type": "market",
                "amount": "0.01",
                "mode": "real",
                "exchange": "binance",
            },
            headers={"Idempotency-Key": "real-1", "X-TOTP-Code": totp.generate_otp(step + 1)},
        )
        assert placed.status_code == 202, placed.text
        order_id = placed.json()["order_id"]
        order = await eventually(
            lambda: alice.order(order_id),
            until=lambda o: o["status"] in TERMINAL,
            timeout=90,
            what="real order terminal",
        )
        assert order["status"] == "filled", order
        assert Decimal(order["filled_amount"]) == Decimal("0.01")
        assert Decimal(order["average_price"]) == Decimal("65000")  # the venue's price, not paper's
        fee = Decimal(order["fee"])
        balances = await eventually(
            alice.balances,
            until=lambda b: balances_of(b, "USDT")[1] == 0 and "BTC" in b,
            timeout=60,
            what="hold settled and released",
        )
        if order["fee_asset"] == "USDT":
            assert balances_of(balances, "USDT")[0] == Decimal("10000") - Decimal("650") - fee
            assert balances_of(balances, "BTC") == (Decimal("0.01"), Decimal(0))
        else:  # a fee in the base asset comes out of what was bought
            assert balances_of(balances, "USDT")[0] == Decimal("10000") - Decimal("650")
            assert balances_of(balances, "BTC")[0] == Decimal("0.01") - fee
        await the_console_shows_the_venue(system, alice.user_id, order_id)
    finally:
        await admin.close()
        await alice.close()


async def the_console_shows_the_venue(system: System, account_id: str, order_id: str) -> None:
    """The order's timeline names the venue's order id and one send; the account shows the
    venue's last report compared by the ledger: the BTC bought is at the venue (no drift), and
    the venue holds 100,000 USDT the ledger never saw (the paper deposit is not binance's)."""
    console = await console_session(
        system.gateway_url, "ops@example.com", "correct horse battery staple"
    )
    try:
        timeline = (await console.get(f"/v1/admin/orders/{order_id}/timeline")).json()
        assert timeline["venue_order_id"] and timeline["sends"] == 1, timeline
        assert timeline["outcome_unknown"] is False
        submitted = [i for i in timeline["items"] if i["type"] == "OrderSubmitted"]
        assert [i["venue_order_id"] for i in submitted] == [timeline["venue_order_id"]]

        async def binance() -> dict[str, Any] | None:
            listed = (await console.get("/v1/admin/accounts", params={"limit": 500})).json()
            [row] = [a for a in listed["items"] if a["account_id"] == account_id]
            reports = [v for v in row["venues"] if v["venue"] == "binance" and v["assets"]]
            return reports[0] if reports else None

        report = await eventually(
            binance,
            until=lambda r: r is not None and "BTC" in {a["asset"] for a in r["assets"]},
            timeout=60,
            what="the venue's report compared by the ledger",
        )
    finally:
        await console.aclose()
    assert report is not None
    drift = {a["asset"]: Decimal(a["drift"]) for a in report["assets"]}
    assert drift["BTC"] == 0, report
    assert drift["USDT"] == Decimal("100000"), report
