"""How fast a global halt takes effect, as the users see it (issue 18's timing).

On the running bench system: `resting` limit buys far below the market are left open, then
the admin engages a global `halt` while a probe keeps placing orders. Printed: how long after
the engage (its HTTP answer) orders were still approved (the switch's trip to safety), and how
long until the last resting order showed `cancelled` (safety → execution → venue → ledger →
the gateway's read model). Targets (API.md, issue 18): new orders refused within 100 ms of the
switch reaching safety, cancels sent within 1 s. Figures only, never asserted.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime
from decimal import Decimal

import asyncpg
import httpx

from benchmarks.harness import Report

TERMINAL = ("filled", "rejected", "cancelled", "failed")
RESTING = "submitted"
"""An order the venue holds open (the API's status for a resting limit order)."""


async def _price(execution_db: str) -> Decimal:
    conn = await asyncpg.connect(execution_db)
    try:
        price = await conn.fetchval("SELECT price FROM paper_prices WHERE symbol = 'BTC/USDT'")
    finally:
        await conn.close()
    assert isinstance(price, Decimal), "no paper BTC/USDT price"
    return price


async def _place(client: httpx.AsyncClient, token: str, body: dict[str, str]) -> str | None:
    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": str(uuid.uuid4())}
    response = await client.post("/v1/orders", json=body, headers=headers)
    if response.status_code != 202:
        print(f"  an order was refused: {response.status_code} {response.text[:200]}")
        return None
    return str(response.json()["order_id"])


async def _statuses(gateway_db: str, ids: list[str]) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(gateway_db)
    try:
        rows: list[asyncpg.Record] = await conn.fetch(
            "SELECT order_id, status, reject_reason, created_at, updated_at FROM orders "
            "WHERE order_id = ANY($1::text[])",
            ids,
        )
        return rows
    finally:
        await conn.close()


async def _until_all(
    gateway_db: str, ids: list[str], statuses: tuple[str, ...], seconds: float
) -> list[asyncpg.Record]:
    deadline = time.monotonic() + seconds
    while True:
        rows = await _statuses(gateway_db, ids)
        if (len(rows) == len(ids) and all(r["status"] in statuses for r in rows)) or (
            time.monotonic() > deadline
        ):
            return rows
        await asyncio.sleep(0.05)


async def run(
    url: str,
    admin_token: str,
    tokens: list[str],
    gateway_db: str,
    execution_db: str,
    report: Report,
    resting: int = 50,
) -> None:
    # 5% below the market: inside safety's price band, far enough not to fill meanwhile
    price = (await _price(execution_db) * Decimal("0.95")).quantize(Decimal("0.01"))
    limit = {"symbol": "BTC/USDT", "side": "buy", "type": "limit", "amount": "0.001"}
    market = {"symbol": "BTC/USDT", "side": "buy", "type": "market", "amount": "0.0001"}
    admin = {"Authorization": f"Bearer {admin_token}"}
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        placed = await asyncio.gather(
            *(
                _place(client, tokens[i % len(tokens)], {**limit, "price": str(price)})
                for i in range(resting)
            )
        )
        rested = await _until_all(
            gateway_db, [i for i in placed if i is not None], (RESTING, *TERMINAL), 120
        )
        open_ids = [r["order_id"] for r in rested if r["status"] == RESTING]
        if len(open_ids) < len(rested):
            early = sorted({f"{r['status']} {r['reject_reason'] or ''}" for r in rested})
            print(f"  {len(rested) - len(open_ids)} resting orders ended early: {early}")

        probes: list[str] = []
        stop = asyncio.Event()

        async def probe() -> None:
            n = 0
            while not stop.is_set():
                if (order_id := await _place(client, tokens[n % len(tokens)], market)) is not None:
                    probes.append(order_id)
                n += 1
                await asyncio.sleep(0.01)

        probing = asyncio.create_task(probe())
        await asyncio.sleep(0.3)  # the probe is placing orders before the switch
        body = {"scope": "global", "engaged": True, "reason": "bench: halt timing"}
        answer = await client.post("/v1/admin/kill-switch", json=body, headers=admin)
        engaged_at = datetime.now(UTC)
        assert answer.status_code == 200, answer.text
        await asyncio.sleep(2)
        stop.set()
        await probing
        cancelled = await _until_all(gateway_db, open_ids, TERMINAL, 60)
        probed = await _until_all(gateway_db, probes, TERMINAL, 60)
        release = {"scope": "global", "engaged": False, "reason": "bench: done"}
        await client.post("/v1/admin/kill-switch", json=release, headers=admin)

    after = [r for r in probed if r["created_at"] >= engaged_at]
    passed = [r for r in after if r["status"] != "rejected"]
    refused = [r for r in after if r["reject_reason"] == "KILL_SWITCH"]
    last_pass = max(((r["created_at"] - engaged_at).total_seconds() for r in passed), default=0)
    ended = [r for r in cancelled if r["status"] == "cancelled"]
    last_cancel = max(((r["updated_at"] - engaged_at).total_seconds() for r in ended), default=0)
    line = (
        f"global halt: orders placed after the engage still approved for {last_pass * 1000:.0f} ms"
        f" ({len(passed)} of {len(after)}; {len(refused)} refused KILL_SWITCH); "
        f"{len(ended)}/{len(open_ids)} resting orders shown cancelled, the last "
        f"{last_cancel * 1000:.0f} ms after the engage"
    )
    print(f"  {line}", flush=True)
    report.notes.append(line)
