"""The load generator: a second process that places orders over HTTP and times each answer.

Run by `benchmarks/system.py` (and `gateway_cpu.py`) as `python -m benchmarks.load CONFIG_JSON`
(`seconds` or `orders` bounds a closed loop; `rate` makes it open); prints one JSON
line with the accepted count and the accept latencies.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
import uuid
from typing import Any

import httpx


async def _place(client: httpx.AsyncClient, token: str, latencies: list[float]) -> bool:
    start = time.perf_counter()
    response = await client.post(
        "/v1/orders",
        json={"symbol": "BTC/USDT", "side": "buy", "type": "market", "amount": "0.001"},
        headers={"Authorization": f"Bearer {token}", "Idempotency-Key": str(uuid.uuid4())},
    )
    latencies.append(time.perf_counter() - start)
    return response.status_code == 202


async def run(config: dict[str, Any]) -> dict[str, Any]:
    tokens: list[str] = config["tokens"]
    seconds: float = config.get("seconds", 3600.0)
    orders: int | None = config.get("orders")
    rate: float | None = config.get("rate")
    latencies: list[float] = []
    accepted = 0
    limits = httpx.Limits(max_connections=config.get("concurrency", 32))
    async with httpx.AsyncClient(base_url=config["url"], timeout=30, limits=limits) as client:
        start = time.perf_counter()
        deadline = start + seconds
        if rate is None:  # closed loop: as fast as `concurrency` clients can go
            placed = 0

            async def worker(i: int) -> int:
                nonlocal placed
                done = 0
                while time.perf_counter() < deadline and (orders is None or placed < orders):
                    placed += 1
                    done += await _place(client, tokens[i % len(tokens)], latencies)
                return done

            accepted = sum(await asyncio.gather(*(worker(i) for i in range(config["concurrency"]))))
        else:  # open loop at a fixed rate: latency is measured, not throughput
            tasks = []
            n = 0
            while (now := time.perf_counter()) < deadline:
                tasks.append(
                    asyncio.create_task(_place(client, tokens[n % len(tokens)], latencies))
                )
                n += 1
                await asyncio.sleep(max(0.0, start + n / rate - now))
            accepted = sum(await asyncio.gather(*tasks))
        elapsed = time.perf_counter() - start
    return {"accepted": accepted, "seconds": elapsed, "latencies": latencies}


def in_second_process(config: dict[str, Any]) -> dict[str, Any]:
    """`run(config)` in a new process, so the generator does not share a core's event loop
    with the caller; blocks until it prints its result."""
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.load", json.dumps(config)],
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        raise RuntimeError(
            f"the load generator exited with {out.returncode}:\n{out.stderr[-3000:]}"
        )
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


if __name__ == "__main__":
    print(json.dumps(asyncio.run(run(json.loads(sys.argv[1])))))
