"""Real money under venue faults and crashes: every order ends once at the exchange, no cent lost.

All five services run as real processes; execution talks, through the real ccxt client, to a
simulated Binance served from this test's event loop. Several users with 2FA and validated keys
place real-money market and limit orders, cancel some and withdraw, while the simulator answers
seeded random requests badly (accepted then timed out, 5xx after applying or not, 429 with
Retry-After), its prices move (resting limits fill), and execution is killed with SIGKILL and
restarted several times. Then the system drains and the invariant checker decides, with the
simulator's books as the venue's; and at the venue itself every order exists at most once per
client order id and none is left open.

`CHAOS_SEED=<n>` replays a run's plan (the seed is printed); the interleaving is not replayed.
`VENUE_CHAOS_SECONDS=600` runs a long one (the default, 24 s of load (the least two kills fit in), fits `make test`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import pytest

from cryptoorch.check import check_system
from cryptoorch.check_cmd import print_report
from cryptoorch.check_venues import VenueRecords
from services.execution.domain.orders import client_order_id
from shared.settings import database_url_for
from tests.support.chaos import CHECKPOINT_OFTEN, Monkey, plan_kills
from tests.support.client import ApiUser, create_admin
from tests.support.simbinance import SimBinance, running_simbinance
from tests.support.simbinance.faults import ORDER_PATH, random_faults
from tests.support.system import SERVICES, System, system_env
from tests.support.venue_load import (
    MARKETS,
    VENUE,
    VenueLoad,
    arm_faults,
    venue_records,
    wander_prices,
)
from tests.support.waiting import eventually

RUN_SECONDS = float(os.environ.get("VENUE_CHAOS_SECONDS") or 24)
TRADERS = 5
EXECUTION_KILLS = max(2, int(RUN_SECONDS // 15))
FAULTS = max(16, int(RUN_SECONDS // 3))
CLIENT_TIMEOUT_MS = 1500
pytestmark = [pytest.mark.chaos, pytest.mark.timeout(int(RUN_SECONDS) + 270)]

SETTINGS = {
    "CRYPTOORCH_PAPER_START_PRICES": json.dumps({s: str(p) for s, p in MARKETS.items()}),
    "CRYPTOORCH_EXCHANGE_TIMEOUT_MS": str(CLIENT_TIMEOUT_MS),
    "CRYPTOORCH_EXCHANGE_POLL_SECONDS": "0.3",
    "CRYPTOORCH_EXCHANGE_LOOKUP_BACKOFF_SECONDS": "0.3",
    "CRYPTOORCH_EXCHANGE_LOOKUP_BACKOFF_MAX_SECONDS": "2",
    "CRYPTOORCH_EXCHANGE_NOT_FOUND_LOOKUPS": "3",
    "CRYPTOORCH_AUDIT_CHECKPOINT_SECONDS": "5",
    "CRYPTOORCH_JWT_TTL_SECONDS": str(int(RUN_SECONDS) + 3600),
    "CRYPTOORCH_HOURLY_TRADE_LIMIT": "1000000",
    "CRYPTOORCH_COOLDOWN_AFTER_FAILURES": "1000",
    "CRYPTOORCH_SUSPICIOUS_WITHDRAWALS_PER_HOUR": "1000000",
    "CRYPTOORCH_SUSPICIOUS_REJECTIONS_PER_HOUR": "1000000",
    "CRYPTOORCH_DUPLICATE_WINDOW_SECONDS": "0",
    "CRYPTOORCH_EXECUTION_THROTTLE_FILLS": "1000000",
}
"""Quick lookups and backoffs and audit checkpoints (the run is short); limits that are not
under test lifted."""


@dataclass
class VenueChaos:
    seed: int
    system: System
    sim: SimBinance
    admin: ApiUser

    def database_url(self, service: str) -> str:
        env = self.system.env
        return database_url_for(env["DATABASE_URL"], f"{env['CRYPTOORCH_DB_PREFIX']}_{service}")


@pytest.fixture
async def chaos(service_env: dict[str, str], tmp_path: Path) -> AsyncIterator[VenueChaos]:
    seed = int(os.environ.get("CHAOS_SEED") or random.SystemRandom().randrange(1, 1_000_000))
    print(f"\nvenue chaos run: CHAOS_SEED={seed}")
    begun = time.monotonic()
    markets = {symbol: str(price) for symbol, price in MARKETS.items()}
    async with running_simbinance(markets=markets) as sim:
        sim.book.fill_parts = 2
        sim.book.client_ids_unique_among_open_only = True  # as Binance: a resend could duplicate
        settings = {
            **service_env,
            **SETTINGS,
            **CHECKPOINT_OFTEN,
            "CRYPTOORCH_PAPER_SEED": str(seed),
        }
        env = system_env(settings, tmp_path)
        env["CRYPTOORCH_EXCHANGE_URL_OVERRIDES"] = json.dumps({VENUE: sim.base_url})
        url = f"http://127.0.0.1:{env['CRYPTOORCH_GATEWAY_PORT']}"
        system = System(env, tmp_path / "logs", url)
        admin: ApiUser | None = None
        try:
            for name in SERVICES:
                system.start(name)
            # blocking waits in a thread: the simulator answers from this event loop
            await asyncio.to_thread(system.wait_healthy)
            print(f"healthy after {time.monotonic() - begun:.0f}s")
            await asyncio.to_thread(create_admin, env, "venue-ops@example.com", "ops password 1")
            admin = await ApiUser(url, "venue-ops@example.com", "ops password 1").login()
            yield VenueChaos(seed, system, sim, admin)
        except BaseException:
            print(f"venue chaos run failed: CHAOS_SEED={seed}\n" + system.logs(*SERVICES))
            raise
        finally:
            if admin is not None:
                await admin.close()
            running = list(system.processes.values())  # stopped side by side: quicker
            system.processes.clear()
            await asyncio.gather(*(asyncio.to_thread(p.stop, 10) for p in running))


async def outcomes(url: str) -> dict[str, int]:
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch(
            "SELECT type || ' ' || status || coalesce(' ' || reject_reason, '') AS outcome, "
            "count(*) AS n FROM orders GROUP BY 1 ORDER BY 2 DESC"
        )
    finally:
        await conn.close()
    return {r["outcome"]: r["n"] for r in rows}


async def test_real_money_orders_end_once_at_the_venue_through_faults_and_kills(
    chaos: VenueChaos,
) -> None:
    started = time.monotonic()
    rng = random.Random(chaos.seed)
    sim = chaos.sim
    load = VenueLoad(
        chaos.system.gateway_url,
        chaos.admin,
        sim,
        chaos.seed,
        gateway_db=chaos.database_url("gateway"),
        safety_db=chaos.database_url("safety"),
    )
    monkey = Monkey(chaos.system, {name: name for name in SERVICES})
    faults = random_faults(
        rng, within=RUN_SECONDS, count=FAULTS, hold_seconds=2 * CLIENT_TIMEOUT_MS / 1000
    )
    kills = plan_kills(
        rng, ["execution"], times_each=EXECUTION_KILLS, within=RUN_SECONDS, min_gap=10
    )

    async def external() -> list[VenueRecords]:
        return [venue_records(sim)]

    watching = asyncio.Event()
    watcher = asyncio.create_task(monkey.watch(watching))
    try:
        await load.add_traders(TRADERS)
        monkey.note(f"{TRADERS} traders ready")
        await asyncio.gather(
            load.run(RUN_SECONDS),
            monkey.run(kills),
            arm_faults(sim, faults, monkey.note),
            wander_prices(sim, random.Random(f"{chaos.seed}:prices"), RUN_SECONDS, monkey.note),
        )
        monkey.note("run over")
        # execution catches up with what it missed while down (faults still armed), then
        # what rests is cancelled
        with contextlib.suppress(AssertionError):  # what is never sent, the checker reports
            await eventually(load.unsent_orders, until=lambda n: n == 0, timeout=30)
        monkey.note(f"{await load.unsent_orders()} orders not yet at the venue")
        left = await load.cancel_everything_open(timeout=60, interval=1.0)
        unused = [f for f in sim.faults if f.times > 0]
        sim.faults.clear()
        monkey.note(f"cancelled what was open; {len(unused)} armed faults never hit, disarmed")
        report = await check_system(
            {name: chaos.database_url(name) for name in SERVICES},
            drain_seconds=60,
            checkpoint_file=Path(chaos.system.env["CRYPTOORCH_AUDIT_CHECKPOINT_FILE"]),
            external_venues=external,
        )
        monkey.note("checked")
    finally:
        watching.set()
        await watcher
        print(f"venue chaos run: CHAOS_SEED={chaos.seed}, {time.monotonic() - started:.0f}s")
        print("\n".join(monkey.events))
        print(f"kills: {monkey.kills}; load: {dict(sorted(load.stats.items()))}")
        print("venue answers:", dict(Counter(f"{s.method} {s.path} {s.status}" for s in sim.seen)))
        await load.close()
    print_report(report)
    print("orders by outcome:", await outcomes(chaos.database_url("gateway")))
    assert not monkey.unexpected_exits, "\n".join(monkey.unexpected_exits)
    assert not load.idempotency_violations, load.idempotency_violations
    assert report.ok, f"CHAOS_SEED={chaos.seed}, {len(left)} orders open after cancelling:\n" + (
        "\n".join(report.violations[:30])
    )

    accepted = {client_order_id(o) for t in load.traders for o in t.orders}
    at_venue = Counter(o.client_order_id for o in sim.book.orders)
    assert not [c for c, n in at_venue.items() if n > 1], f"duplicates at the venue: {at_venue}"
    assert set(at_venue) <= accepted, "the venue holds orders nobody placed"
    assert not [o for o in sim.book.orders if o.is_open], "orders left open at the venue"
    assert monkey.kills.get("execution", 0) >= 2
    hit = [f for f in faults if all(f.fault is not u for u in unused)]
    assert len(hit) >= 3, f"only {len(hit)} of {FAULTS} faults hit a request"
    assert any(f.fault.path == ORDER_PATH and f.fault.method == "POST" for f in hit), hit
    assert len(at_venue) >= 5 and sim.book.trades, "the run placed too little to prove anything"
