"""Execution's startup reconciliation: N orders left open at a (simulated) Binance, filled there
while execution was down, then the time from starting execution again until every one is
reconciled (its fill recorded and `OrderFilled` in the outbox) — before it consumes anything.

The orders are made the way production makes them: keys added and checked, `FundsHeld` for
limit buys below the market, sent by execution's sender through ccxt's own `binance` class to
the simulator of `tests/support/simbinance` (in this process, like the integration tests).
"""

from __future__ import annotations

import asyncio
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg

from benchmarks.harness import Report, publish, skip_backlog, stopwatch
from services.execution.app import build_with
from services.execution.remote.work import VenueWork
from services.execution.settings import ExecutionSettings
from services.execution.venues.ccxt_client import ccxt_async
from shared.clock import utc_now
from shared.contracts import Envelope, new_message
from shared.contracts.access import readable_by
from shared.contracts.accounts import ExchangeKeyAdded
from shared.contracts.ledger import FundsHeld, HoldPurpose
from shared.contracts.orders import Mode, OrderSpec, OrderType, Side
from shared.kafka import ensure_topics
from shared.kafka_access import KafkaAccess
from shared.sealed import new_seal_key, seal
from shared.service import ServiceRuntime, Task
from tests.support.running import running_service
from tests.support.simbinance import SimBinance, running_simbinance

NAME = "execution"
MIGRATIONS = Path("services/execution/migrations")
ORDERS_PER_ACCOUNT = 20
MARKET, LIMIT, FILL_AT = Decimal("65000.00"), Decimal("60000.00"), Decimal("59000.00")
"""Limit buys at 60,000 rest under a 65,000 market; the market falls to 59,000 while down."""


def _message(payload: FundsHeld | ExchangeKeyAdded, account: str, correlation: str) -> Envelope:
    return new_message(
        payload, producer="bench", account_id=account, correlation_id=correlation, now=utc_now()
    )


def _limit_buy_held(order_id: str) -> FundsHeld:
    spec = OrderSpec(
        order_id=order_id,
        symbol="BTC/USDT",
        side=Side.BUY,
        type=OrderType.LIMIT,
        amount=Decimal("0.01"),
        price=LIMIT,
        mode=Mode.REAL,
        exchange="binance",
    )
    return FundsHeld(
        hold_id="h-" + order_id, purpose=HoldPurpose.ORDER, asset="USDT", amount="601", order=spec
    )


async def _until(pool: asyncpg.Pool, sql: str, count: int, what: str, within: float) -> None:
    """Wait until `sql` (a count) reaches `count`; fail loudly past `within` seconds."""
    deadline = asyncio.get_running_loop().time() + within
    while (found := await pool.fetchval(sql)) < count:
        failed = await pool.fetchval("SELECT count(*) FROM orders WHERE status = 'failed'")
        if failed or asyncio.get_running_loop().time() > deadline:
            raise RuntimeError(f"{what}: {found} of {count} ({failed} orders failed)")
        await asyncio.sleep(0.1)


async def _open_orders(
    sim: SimBinance, settings: ExecutionSettings, tag: str, orders: int, accounts: int
) -> None:
    """Keys added and validated, then `orders` limit buys sent to the simulator and open."""
    users = [f"{tag}-u{i}" for i in range(accounts)]
    keys = []
    for user in users:
        sim.add_account(f"key-{user}", f"secret-{user}", {"USDT": "1000000000", "BTC": "0"})
        sealed = seal(
            {"apiKey": f"key-{user}", "secret": f"secret-{user}"}, settings.exchange_seal_key
        )
        keys.append(
            _message(
                ExchangeKeyAdded(key_id=user, exchange="binance", sealed_secret=sealed), user, user
            )
        )
    held = [
        _message(_limit_buy_held(f"{tag}-o{n}"), users[n % accounts], f"{tag}-o{n}")
        for n in range(orders)
    ]

    sender: list[VenueWork] = []

    async def build(runtime: ServiceRuntime[Any]) -> None:
        sender.append(await build_with(runtime))
        # While seeding, the sender goes every 0.2 s, but an open order is looked at again only
        # after `exchange_poll_seconds` (a minute): those looks would only slow seeding down.
        sender[0].poll_seconds = 0.2

    def consumers_and_sender(runtime: ServiceRuntime[Any]) -> list[Task]:
        return [*(c.run for c in runtime.consumers), sender[0].run]  # no paper market

    async with running_service(NAME, settings, MIGRATIONS, build, consumers_and_sender) as runtime:
        await publish(settings.kafka_bootstrap_servers, keys)
        valid = "SELECT count(*) FROM exchange_keys WHERE status = 'valid'"
        await _until(runtime.pool, valid, accounts, "keys validated", 60 + accounts)
        await publish(settings.kafka_bootstrap_servers, held)
        placed = "SELECT count(*) FROM orders WHERE status = 'open'"
        await _until(runtime.pool, placed, orders, "orders open at the venue", 60 + orders / 5)


async def _filled(pool: asyncpg.Pool) -> tuple[int, int]:
    orders = await pool.fetchval("SELECT count(*) FROM orders WHERE status = 'filled'")
    events = await pool.fetchval(
        "SELECT count(*) FROM outbox "
        "WHERE convert_from(value, 'UTF8')::jsonb ->> 'type' = 'OrderFilled'"
    )
    return orders, events


async def run(server_url: str, bootstrap: str, report: Report, orders: int) -> None:
    tag = "bench" + uuid.uuid4().hex[:8]
    accounts = max(1, orders // ORDERS_PER_ACCOUNT)
    await asyncio.to_thread(ccxt_async)  # ccxt's import (seconds of CPU) is not part of it
    await ensure_topics(KafkaAccess(bootstrap))
    await skip_backlog(bootstrap, f"{tag}.{NAME}", readable_by(NAME))
    async with running_simbinance(markets={"BTC/USDT": str(MARKET)}) as sim:
        settings = ExecutionSettings(
            KAFKA_BOOTSTRAP_SERVERS=bootstrap,
            DATABASE_URL=server_url,
            db_prefix=tag,
            exchange_url_overrides={"binance": sim.base_url},
            exchange_seal_key=new_seal_key(),
            exchange_poll_seconds=60.0,
            exchange_startup_reconcile_seconds=3600.0,
        )
        await _open_orders(sim, settings, tag, orders, accounts)
        sim.book.set_price("BTCUSDT", FILL_AT)  # every order fills while execution is down

        runtime = ServiceRuntime(NAME, settings, MIGRATIONS)
        work: VenueWork | None = None
        try:
            with stopwatch() as started:
                await runtime.start()  # database, migrations, broker
            with stopwatch() as reconciled:
                work = await build_with(runtime)  # reconciles before it would consume
            filled, events = await _filled(runtime.pool)
        finally:
            runtime.stop.set()  # stops right after: its consumers are only closed
            await asyncio.gather(*(c.run(runtime.stop) for c in runtime.consumers))
            if work is not None:
                await work.clients.close()
            await runtime.close()
    if filled != orders or events != orders:
        report.notes.append(
            f"execution restart bench: {filled} orders filled, {events} OrderFilled "
            f"of {orders} (expected all)"
        )
    seconds = started[0] + reconciled[0]
    report.add(
        "execution_reconcile",
        f"execution: restart, {orders:,} open orders reconciled ({accounts} keys)",
        orders,
        seconds,
        "orders/s",
    )
    print(
        f"    start to all reconciled {seconds:.2f} s "
        f"(database + broker {started[0]:.2f} s, reconciliation {reconciled[0]:.2f} s)",
        flush=True,
    )
