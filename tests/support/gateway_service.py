"""The gateway in this process, its users and fixtures, for integration and security tests.

The gateway runs in this process with the same composition root as production
(`services.gateway.app.build`): real HTTP on a free port, the real database and
broker of the `infra` fixture, its outbox relay and read-model consumer.
"""

from __future__ import annotations

import base64
import functools
import os
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pyotp
import pytest

from services.gateway.admin import create_admin
from services.gateway.app import build
from services.gateway.settings import GatewaySettings
from shared.clock import utc_now
from shared.contracts.envelope import Envelope, Payload, decode, new_message
from shared.db import connect
from shared.infra import free_port
from shared.infra.resolve import Infrastructure
from shared.service import ServiceRuntime, prepare_database
from tests.support.running import running_service
from tests.support.waiting import eventually

MIGRATIONS = Path(__file__).resolve().parents[2] / "services" / "gateway" / "migrations"
AUDIT_MIGRATIONS = MIGRATIONS.parents[1] / "audit" / "migrations"
JWT_SECRET = "integration-" + "j" * 40
PASSWORD = "correct horse battery staple"


@dataclass
class Gateway:
    runtime: ServiceRuntime[Any]
    settings: GatewaySettings
    http: httpx.AsyncClient
    admin_token: str = ""
    secrets_seen: list[str] = field(default_factory=list)
    """Every secret a test handed the gateway or got from it (checked against the logs)."""

    @property
    def database_url(self) -> str:
        return self.runtime.database_url

    async def register(self) -> User:
        email = f"user-{uuid.uuid4().hex[:10]}@example.com"
        response = await self.http.post(
            "/v1/auth/register", json={"email": email, "password": PASSWORD}
        )
        assert response.status_code == 201, response.text
        user = User(self, response.json()["user_id"], email)
        await user.login()
        return user

    async def login(self, email: str, password: str = PASSWORD, **extra: str) -> httpx.Response:
        body = {"email": email, "password": password, **extra}
        return await self.http.post("/v1/auth/login", json=body)

    def admin(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.admin_token}"}

    async def deposit(self, user_id: str, amount: str, asset: str = "USDT") -> httpx.Response:
        body = {"user_id": user_id, "asset": asset, "amount": amount, "reference": new_key()}
        headers = {**self.admin(), "Idempotency-Key": new_key()}
        return await self.http.post("/v1/admin/deposits", json=body, headers=headers)

    async def sql(self, query: str, *args: Any) -> list[dict[str, Any]]:
        conn = await connect(self.database_url)
        try:
            return [dict(row) for row in await conn.fetch(query, *args)]
        finally:
            await conn.close()

    async def outbox(self, message_type: str) -> list[Envelope]:
        rows = await self.sql("SELECT value FROM outbox ORDER BY id")
        messages = [decode(bytes(row["value"])) for row in rows]
        return [m for m in messages if m.type == message_type]


@dataclass
class User:
    gateway: Gateway
    user_id: str
    email: str
    token: str = ""
    totp: pyotp.TOTP | None = None
    used_step: int = -1

    async def login(self, **extra: str) -> httpx.Response:
        response = await self.gateway.login(self.email, **extra)
        if response.status_code == 200:
            self.token = response.json()["access_token"]
            self.gateway.secrets_seen.append(self.token)
        return response

    def auth(self, key: str | None = None, **headers: str) -> dict[str, str]:
        values = {"Authorization": f"Bearer {self.token}", **headers}
        if key is not None:
            values["Idempotency-Key"] = key
        return values

    async def enable_two_factor(self) -> pyotp.TOTP:
        enrolled = await self.gateway.http.post("/v1/auth/2fa/enroll", headers=self.auth())
        assert enrolled.status_code == 200, enrolled.text
        self.totp = pyotp.TOTP(enrolled.json()["secret"])
        self.gateway.secrets_seen.append(self.totp.secret)
        code = await self.fresh_code()
        confirm = await self.gateway.http.post(
            "/v1/auth/2fa/confirm", json={"code": code}, headers=self.auth()
        )
        assert confirm.status_code == 200, confirm.text
        return self.totp

    async def fresh_code(self) -> str:
        """A code of a time step not used yet: the previous, current or next step (the
        gateway accepts one step of clock drift either way; the previous one only while more
        than 3 s of the current step are left); waits for the clock when all are used."""
        assert self.totp is not None
        totp = self.totp

        async def next_step() -> int | None:
            now = time.time()
            now_step = int(now) // 30
            earliest = now_step - 1 if (now_step + 1) * 30 - now > 3 else now_step
            step = max(self.used_step + 1, earliest)
            return step if step <= now_step + 1 else None

        step = await eventually(next_step, until=lambda s: s is not None, timeout=35)
        assert step is not None
        self.used_step = step
        return totp.generate_otp(step)


def new_key() -> str:
    return str(uuid.uuid4())


def market_buy(amount: str = "0.01", **changes: Any) -> dict[str, Any]:
    return {"symbol": "BTC/USDT", "side": "buy", "type": "market", "amount": amount, **changes}


def gateway_settings(infra: Infrastructure, **overrides: Any) -> GatewaySettings:
    values: dict[str, Any] = {
        "KAFKA_BOOTSTRAP_SERVERS": infra.kafka_bootstrap_servers,
        "DATABASE_URL": infra.database_url,
        "db_prefix": "t" + uuid.uuid4().hex[:12],
        "relay_poll_seconds": 0.2,
        "gateway_port": free_port(),
        "jwt_secret": JWT_SECRET,
        "encryption_key": base64.urlsafe_b64encode(os.urandom(32)).decode(),
        "exchange_seal_key": base64.urlsafe_b64encode(os.urandom(32)).decode(),
        "login_max_failures": 1000,
        "login_address_max_failures": 1000,
    }
    values.update(overrides)
    return GatewaySettings(**values)


@asynccontextmanager
async def running_gateway(
    infra: Infrastructure, clock: Callable[[], datetime] = utc_now, **overrides: Any
) -> AsyncIterator[Gateway]:
    """The gateway in this process; `clock` is what its requests read as now."""
    settings = gateway_settings(infra, **overrides)
    await prepare_database(settings, "audit", AUDIT_MIGRATIONS)  # the (empty) trail it exports
    wired = functools.partial(build, clock=clock)
    async with running_service("gateway", settings, MIGRATIONS, wired) as runtime:
        base_url = f"http://{settings.gateway_host}:{settings.gateway_port}"
        async with httpx.AsyncClient(base_url=base_url, timeout=30) as http:

            async def healthy() -> bool:
                try:
                    return (await http.get("/healthz")).status_code == 200
                except httpx.TransportError:
                    return False

            await eventually(healthy, timeout=20, what="gateway answering /healthz")
            gateway = Gateway(runtime, settings, http)
            admin_email = f"admin-{uuid.uuid4().hex[:8]}@example.com"
            await create_admin(runtime.database_url, admin_email, PASSWORD)
            response = await gateway.login(admin_email)
            assert response.status_code == 200, response.text
            gateway.admin_token = response.json()["access_token"]
            yield gateway


@pytest.fixture(scope="module")
async def gateway(infra: Infrastructure) -> AsyncIterator[Gateway]:
    async with running_gateway(infra) as running:
        yield running


def event(payload: Payload, user_id: str, correlation_id: str, producer: str = "test") -> Envelope:
    return new_message(
        payload, producer=producer, account_id=user_id, correlation_id=correlation_id, now=utc_now()
    )
