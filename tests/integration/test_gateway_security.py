"""Brute force is slowed down, and no secret reaches the logs."""

from __future__ import annotations

import logging

import pytest

from shared.infra.resolve import Infrastructure
from tests.support.gateway_service import (
    PASSWORD,
    Gateway,
    gateway,
    market_buy,
    new_key,
    running_gateway,
)

pytestmark = pytest.mark.integration
__all__ = ["gateway"]


async def test_repeated_login_failures_are_429_with_retry_after(infra: Infrastructure) -> None:
    async with running_gateway(infra, login_max_failures=3) as gw:
        user = await gw.register()
        for _ in range(3):
            assert (await gw.login(user.email, "wrong password")).status_code == 401
        locked = await gw.login(user.email, PASSWORD)
        assert (locked.status_code, locked.json()["code"]) == (429, "too_many_attempts")
        assert 0 < int(locked.headers["retry-after"]) <= gw.settings.login_failure_window_seconds


async def test_repeated_wrong_two_factor_codes_are_429(infra: Infrastructure) -> None:
    async with running_gateway(infra, login_max_failures=3) as gw:
        user = await gw.register()
        await user.enable_two_factor()
        body = market_buy(mode="real", exchange="binance")
        codes = []
        for wrong in ("000001", "000002", "000003", "000004"):
            headers = user.auth(new_key(), **{"X-TOTP-Code": wrong})
            codes.append((await gw.http.post("/v1/orders", json=body, headers=headers)).status_code)
        assert codes[:3] == [403, 403, 403]
        assert codes[3] == 429


async def test_no_secret_appears_in_the_logs(
    gateway: Gateway, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    user = await gateway.register()
    totp = await user.enable_two_factor()
    exchange_secret = "exchange-secret-" + new_key()
    await gateway.http.post(
        "/v1/exchange-keys",
        json={"exchange": "binance", "api_key": "k", "secret": exchange_secret},
        headers=user.auth(),
    )
    await gateway.http.post(
        "/v1/exchange-keys",
        json={"exchange": "BAD", "api_key": "k", "secret": exchange_secret},
        headers=user.auth(),
    )
    await gateway.login(user.email, PASSWORD)
    await gateway.login(user.email, PASSWORD + "x")
    await gateway.http.post(
        "/v1/orders", json=market_buy(), headers=user.auth(new_key(), **{"X-TOTP-Code": "1"})
    )
    logged = caplog.text + "".join(str(r.args) for r in caplog.records)
    for secret in (PASSWORD, totp.secret, exchange_secret, user.token, *gateway.secrets_seen):
        assert secret not in logged
