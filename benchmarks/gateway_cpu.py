"""CPU per accepted order in the gateway's HTTP path, robust to a busy machine.

`python -m benchmarks.gateway_cpu [ORDERS] [--profile FILE]`: starts an embedded PostgreSQL,
serves the gateway app (`create_app`, the production composition minus Kafka, tracing
configured as `python -m services.gateway` does) with uvicorn in this process, and places ORDERS paper orders from a second process (`benchmarks.load`, 16
clients). The figure is this process's CPU time (`time.process_time`) divided by the orders
accepted: other processes on the machine slow the wall clock, not this count. With
`--profile`, the serving is run under cProfile and the stats are written to FILE.
"""

from __future__ import annotations

import asyncio
import cProfile
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from benchmarks.load import in_second_process
from services.gateway.app import create_app, new_event_loop, serve
from services.gateway.settings import GatewaySettings
from shared.db import create_pool, ensure_database
from shared.infra.postgres import EmbeddedPostgres
from shared.infra.processes import free_port
from shared.migrate import migrate
from shared.telemetry import configure as configure_tracing
from tests.support.waiting import eventually

MIGRATIONS = Path(__file__).resolve().parents[1] / "services" / "gateway" / "migrations"
CLIENTS = 16
WARM_UP = 50


async def _ready() -> bool:
    return True


async def _healthy(url: str) -> bool:
    try:
        async with httpx.AsyncClient() as client:
            return (await client.get(url + "/healthz")).status_code == 200
    except httpx.HTTPError:
        return False


async def _tokens(url: str, count: int) -> list[str]:
    tokens = []
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        for i in range(count):
            body = {"email": f"cpu{i}@example.com", "password": "bench trader password"}
            assert (await client.post("/v1/auth/register", json=body)).status_code == 201
            tokens.append((await client.post("/v1/auth/login", json=body)).json()["access_token"])
    return tokens


def _load(url: str, tokens: list[str], orders: int) -> dict[str, Any]:
    config = {"url": url, "tokens": tokens, "orders": orders, "concurrency": CLIENTS}
    return in_second_process(config)


async def measure(server_url: str, orders: int, profile: Path | None) -> dict[str, float]:
    database = await ensure_database(server_url, "bench_gateway_cpu")
    await migrate(database, MIGRATIONS)
    pool = await create_pool(database)
    settings = GatewaySettings(DATABASE_URL=server_url, jwt_secret="bench-" + "j" * 40)
    app = create_app(pool, settings, broker_ready=_ready)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    stop = asyncio.Event()
    serving = asyncio.create_task(serve(app, "127.0.0.1", port, stop))
    try:
        await eventually(lambda: _healthy(url), timeout=30, what="the gateway healthy")
        tokens = await _tokens(url, CLIENTS)
        await asyncio.to_thread(_load, url, tokens, WARM_UP)
        profiler = cProfile.Profile(time.process_time) if profile else None
        cpu, wall = time.process_time(), time.perf_counter()
        if profiler:
            profiler.enable()
        result = await asyncio.to_thread(_load, url, tokens, orders)
        if profiler:
            profiler.disable()
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        if profiler and profile:
            profiler.dump_stats(str(profile))
    finally:
        stop.set()
        await serving
        await pool.close()
    accepted = float(result["accepted"])
    return {
        "accepted": accepted,
        "cpu_ms_per_order": 1000 * cpu / accepted,
        "orders_per_cpu_second": accepted / cpu,
        "wall_orders_per_second": accepted / wall,
    }


def main() -> None:
    args = sys.argv[1:]
    profile = None
    if "--profile" in args:
        index = args.index("--profile")
        profile = Path(args[index + 1])
        del args[index : index + 2]
    orders = int(args[0]) if args else 2000
    configure_tracing("gateway", os.environ.get("CRYPTOORCH_TRACE_EXPORTER", "none"))
    with tempfile.TemporaryDirectory(prefix="cryptoorch-gwcpu-") as folder:
        with EmbeddedPostgres.start(Path(folder) / "pg", Path(folder), durable=True) as pg:
            with asyncio.Runner(loop_factory=new_event_loop) as runner:
                figures = runner.run(measure(pg.url, orders, profile))
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
