"""Execution in this process against the simulated Binance, for integration tests.

Execution runs in this process with its production composition root (`build_with`), on the
real broker and PostgreSQL of the `infra` fixture; ccxt's unmodified `binance` class is pointed
at the simulator through `CRYPTOORCH_EXCHANGE_URL_OVERRIDES`. Commands go in through the broker;
what execution emitted is read from its outbox (the log the relay publishes from).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

import services.execution
from services.execution.app import build_with
from services.execution.remote.clients import VenueOpener
from services.execution.remote.deposits import deposit_id
from services.execution.remote.orders import AfterSend
from services.execution.settings import ExecutionSettings
from services.execution.venues.ccxt_client import ccxt_async
from shared.clock import utc_now
from shared.contracts import Envelope, Payload, decode, new_message
from shared.contracts.accounts import ExchangeKeyAdded
from shared.contracts.execution import ExchangeKeyValidated
from shared.contracts.ledger import FundsHeld, HoldPurpose
from shared.contracts.orders import Mode, OrderSpec, OrderType, Side
from shared.db import connect, drop_database
from shared.sealed import new_seal_key, seal
from shared.service import ServiceRuntime
from tests.support.running import running_service
from tests.support.simbinance import SimBinance, running_simbinance
from tests.support.topics import publish_to
from tests.support.waiting import eventually

MIGRATIONS = Path(services.execution.__file__).parent / "migrations"
DEPOSITS_PATH = "/sapi/v1/capital/deposit/hisrec"
FAST = {
    "exchange_timeout_ms": 1000,
    "exchange_poll_seconds": 0.2,
    "exchange_lookup_backoff_seconds": 0.2,
    "exchange_lookup_backoff_max_seconds": 1.0,
    "exchange_not_found_lookups": 3,
    "deposit_poll_seconds": 0.3,
    "paper_tick_seconds": 5.0,
}
"""Timings that make a test take seconds, not minutes (production defaults are slower)."""


@dataclass
class Account:
    user: str
    api_key: str
    secret: str


@dataclass
class Execution:
    sim: SimBinance
    settings: ExecutionSettings

    @property
    def database_url(self) -> str:
        return self.settings.service_database_url("execution")

    @asynccontextmanager
    async def running(
        self, *, after_send: AfterSend | None = None, opener: VenueOpener | None = None
    ) -> AsyncIterator[ServiceRuntime[Any]]:
        async def build(runtime: ServiceRuntime[Any]) -> None:
            await build_with(runtime, after_send=after_send, opener=opener)

        async with running_service("execution", self.settings, MIGRATIONS, build) as runtime:
            yield runtime

    def new_account(self, usdt: str = "100000") -> Account:
        suffix = uuid.uuid4().hex[:10]
        account = Account(f"user-{suffix}", f"key-{suffix}", f"secret-{suffix}")
        self.sim.add_account(account.api_key, account.secret, {"USDT": usdt, "BTC": "10"})
        return account

    async def publish(self, payload: Payload, *, account: str, correlation_id: str) -> Envelope:
        message = new_message(
            payload,
            producer="test",
            account_id=account,
            correlation_id=correlation_id,
            now=utc_now(),
        )
        await publish_to(self.settings.kafka_access, message)
        return message

    async def add_key(
        self, account: Account, *, secret: str | None = None, exchange: str = "binance"
    ) -> str:
        """Send the user's key the way the gateway does (sealed); the key id."""
        key_id = str(uuid.uuid4())
        credentials = {"apiKey": account.api_key, "secret": secret or account.secret}
        sealed = seal(credentials, self.settings.exchange_seal_key)
        added = ExchangeKeyAdded(key_id=key_id, exchange=exchange, sealed_secret=sealed)
        await self.publish(added, account=account.user, correlation_id=key_id)
        return key_id

    async def add_valid_key(self, account: Account) -> None:
        key_id = await self.add_key(account)
        (checked,) = await self.wait_for(key_id, lambda found: len(found) >= 1, "key checked")
        assert checked.body(ExchangeKeyValidated).valid, checked.body(ExchangeKeyValidated)

    async def outbox(self) -> list[Envelope]:
        conn = await connect(self.database_url)
        try:
            rows = await conn.fetch("SELECT value FROM outbox ORDER BY id")
        finally:
            await conn.close()
        return [decode(bytes(r["value"])) for r in rows]

    async def events_of(self, correlation_id: str) -> list[Envelope]:
        return [m for m in await self.outbox() if m.correlation_id == correlation_id]

    async def wait_for(
        self, correlation_id: str, until: Callable[[list[Envelope]], bool], what: str
    ) -> list[Envelope]:
        return await eventually(
            lambda: self.events_of(correlation_id), until=until, timeout=60, what=what
        )

    async def wait_for_type(self, correlation_id: str, type_name: str) -> list[Envelope]:
        return await self.wait_for(
            correlation_id, lambda found: any(m.type == type_name for m in found), type_name
        )

    async def row(self, sql: str, *args: Any) -> Any:
        conn = await connect(self.database_url)
        try:
            return await conn.fetchrow(sql, *args)
        finally:
            await conn.close()

    async def rows(self, sql: str, *args: Any) -> list[Any]:
        conn = await connect(self.database_url)
        try:
            return list(await conn.fetch(sql, *args))
        finally:
            await conn.close()


def real_order_held(
    order_id: str,
    *,
    amount: str = "0.01",
    price: str | None = None,
    side: Side = Side.BUY,
) -> FundsHeld:
    spec = OrderSpec(
        order_id=order_id,
        symbol="BTC/USDT",
        side=side,
        type=OrderType.LIMIT if price else OrderType.MARKET,
        amount=Decimal(amount),
        price=Decimal(price) if price else None,
        mode=Mode.REAL,
        exchange="binance",
    )
    return FundsHeld(
        hold_id="h-" + order_id, purpose=HoldPurpose.ORDER, asset="USDT", amount="800", order=spec
    )


def types(messages: list[Envelope]) -> list[str]:
    return [m.type for m in messages]


def venue_deposit_id(user: str, txid: str) -> str:
    return deposit_id("binance", user, txid)


async def deposits_polled_again(execution: Execution) -> None:
    """Wait until execution has asked the venue for deposits twice more."""

    async def asked() -> int:
        return len(execution.sim.requests_to("GET", DEPOSITS_PATH))

    before = await asked()
    await eventually(asked, until=lambda now: now >= before + 2, what="two more deposit polls")


def at_least(count: int, type_name: str) -> Callable[[list[Envelope]], bool]:
    return lambda found: types(found).count(type_name) >= count


@pytest.fixture
async def execution(
    settings_factory: Callable[..., Any], db_prefix: str
) -> AsyncIterator[Execution]:
    await asyncio.to_thread(ccxt_async)  # imported once per session, before any clock runs
    async with running_simbinance(markets={"BTC/USDT": "65000.00"}) as sim:
        settings: ExecutionSettings = settings_factory(
            ExecutionSettings,
            exchange_url_overrides={"binance": sim.base_url},
            exchange_seal_key=new_seal_key(),
            **FAST,
        )
        try:
            yield Execution(sim, settings)
        finally:
            await drop_database(settings.database_url, f"{db_prefix}_execution")
