"""A user of the HTTP API, as the README tour drives it."""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx

from tests.support.system import System
from tests.support.waiting import eventually


def create_admin(env: Mapping[str, str], email: str, password: str) -> str:
    """Through the real CLI, as an operator would; the admin's user id."""
    result = subprocess.run(
        [sys.executable, "-m", "cryptoorch.cli", "admin", "create", "--email", email],
        env={**env, "CRYPTOORCH_ADMIN_PASSWORD": password},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr + result.stdout
    return result.stdout.strip().rsplit(" ", 1)[-1]


class ApiUser:
    def __init__(self, base_url: str, email: str, password: str) -> None:
        self.http = httpx.AsyncClient(base_url=base_url, timeout=30)
        self.email = email
        self.password = password
        self.user_id = ""

    async def register(self) -> ApiUser:
        response = await self.http.post(
            "/v1/auth/register", json={"email": self.email, "password": self.password}
        )
        assert response.status_code == 201, response.text
        self.user_id = response.json()["user_id"]
        return await self.login()

    async def login(self) -> ApiUser:
        response = await self.http.post(
            "/v1/auth/login", json={"email": self.email, "password": self.password}
        )
        assert response.status_code == 200, response.text
        self.http.headers["Authorization"] = f"Bearer {response.json()['access_token']}"
        return self

    async def deposit(self, user_id: str, asset: str, amount: str) -> httpx.Response:
        return await self.http.post(
            "/v1/admin/deposits",
            json={
                "user_id": user_id,
                "asset": asset,
                "amount": amount,
                "reference": str(uuid.uuid4()),
            },
            headers={"Idempotency-Key": str(uuid.uuid4())},
        )

    async def place_order(self, key: str | None = None, **body: Any) -> httpx.Response:
        return await self.http.post(
            "/v1/orders", json=body, headers={"Idempotency-Key": key or str(uuid.uuid4())}
        )

    async def order(self, order_id: str) -> dict[str, Any]:
        response = await self.http.get(f"/v1/orders/{order_id}")
        assert response.status_code == 200, response.text
        data: dict[str, Any] = response.json()
        return data

    async def balances(self) -> dict[str, tuple[Decimal, Decimal]]:
        response = await self.http.get("/v1/balances")
        assert response.status_code == 200, response.text
        return {
            item["asset"]: (Decimal(item["available"]), Decimal(item["held"]))
            for item in response.json()["items"]
        }

    async def close(self) -> None:
        await self.http.aclose()


def balances_of(
    items: Mapping[str, tuple[Decimal, Decimal]], asset: str
) -> tuple[Decimal, Decimal]:
    return items.get(asset, (Decimal(0), Decimal(0)))


@dataclass(frozen=True)
class FundedUser:
    user: ApiUser
    deposit_id: str
    """The deposit that funded the user."""


@asynccontextmanager
async def funded_user(
    system: System, usdt: str = "10000", email: str = "alice@example.com"
) -> AsyncIterator[FundedUser]:
    """The README tour's first steps: the operator (made with the CLI) deposits `usdt` USDT for
    a newly registered user, and the user sees it available; the user's client is closed
    afterwards."""
    create_admin(system.env, "ops@example.com", "correct horse battery staple")
    admin = await ApiUser(
        system.gateway_url, "ops@example.com", "correct horse battery staple"
    ).login()
    user = await ApiUser(system.gateway_url, email, "alice's long password").register()
    try:
        deposit = await admin.deposit(user.user_id, "USDT", usdt)
        assert deposit.status_code == 202, deposit.text
        await eventually(
            user.balances,
            until=lambda b: balances_of(b, "USDT") == (Decimal(usdt), Decimal(0)),
            what="deposit credited",
        )
        yield FundedUser(user, deposit.json()["deposit_id"])
    finally:
        await admin.close()
        await user.close()
