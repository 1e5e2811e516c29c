"""The whole system under load: accepted orders/s at the gateway, orders/s end to end
(HTTP accept → filled on the paper venue, ledger settled), and p50/p99 at a fixed rate."""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import httpx
import psutil

from benchmarks import kill_switch
from benchmarks.harness import Report, p50_p99, skip_backlog
from benchmarks.hops import hop_delays
from benchmarks.load import in_second_process
from benchmarks.messages import message_counts
from cryptoorch.runtime_info import SERVICES
from cryptoorch.supervisor import Supervisor
from cryptoorch.up import load_or_create_secrets
from shared.contracts.access import readable_by
from shared.infra.processes import free_port
from shared.kafka import ensure_topics
from shared.kafka_access import KafkaAccess
from shared.settings import database_url_for

UNLIMITED = {
    "CRYPTOORCH_HOURLY_TRADE_LIMIT": "100000000",
    "CRYPTOORCH_ORDERS_PER_SECOND": "100000",
    "CRYPTOORCH_DUPLICATE_WINDOW_SECONDS": "0",
    "CRYPTOORCH_EXECUTION_THROTTLE_FILLS": "100000000",
    "CRYPTOORCH_CANCELS_PER_SECOND": "10000",
    "CRYPTOORCH_DAILY_VOLUME_LIMIT_USD": "100000000000",
    "CRYPTOORCH_POSITION_LIMIT_USD": "100000000000",
    "CRYPTOORCH_SUSPICIOUS_REJECTIONS_PER_HOUR": "100000000",
}
"""The bench measures throughput, not the limits: they are lifted for its users."""


async def _wait_healthy(url: str, supervisor: Supervisor, deadline: float) -> None:
    async with httpx.AsyncClient() as client:
        while True:
            supervisor.check()
            try:
                if (await client.get(url + "/healthz")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("gateway did not become healthy")
            await asyncio.sleep(0.2)


async def _users(url: str, env: dict[str, str], count: int) -> tuple[str, list[str]]:
    """The admin's token and `count` funded traders' tokens."""
    from cryptoorch.admin_cmd import create_admin_user

    os.environ.update({k: env[k] for k in ("DATABASE_URL", "CRYPTOORCH_DB_PREFIX")})
    await create_admin_user("bench-admin@example.com", "bench admin password")
    tokens: list[str] = []
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        login = await client.post(
            "/v1/auth/login",
            json={"email": "bench-admin@example.com", "password": "bench admin password"},
        )
        admin_token = str(login.json()["access_token"])
        admin = {"Authorization": f"Bearer {admin_token}"}
        for i in range(count):
            body = {"email": f"trader{i}@example.com", "password": "bench trader password"}
            user_id = (await client.post("/v1/auth/register", json=body)).json()["user_id"]
            tokens.append((await client.post("/v1/auth/login", json=body)).json()["access_token"])
            await client.post(
                "/v1/admin/deposits",
                json={
                    "user_id": user_id,
                    "asset": "USDT",
                    "amount": "100000000",
                    "reference": f"b{i}",
                },
                headers={**admin, "Idempotency-Key": str(uuid.uuid4())},
            )
        for token in tokens:  # funds credited before the load starts
            while True:
                items = (
                    await client.get("/v1/balances", headers={"Authorization": f"Bearer {token}"})
                ).json()["items"]
                if any(i["asset"] == "USDT" and i["available"] != "0" for i in items):
                    break
                await asyncio.sleep(0.1)
    return admin_token, tokens


async def _drain(gateway_db: str, since: float, wait_seconds: float = 600) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(gateway_db)
    try:
        deadline = time.monotonic() + wait_seconds
        while True:
            pending = await conn.fetchval(
                "SELECT count(*) FROM orders WHERE status NOT IN ('filled','rejected','cancelled','failed')"
            )
            if pending == 0 or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.5)
        rows: list[asyncpg.Record] = await conn.fetch(
            "SELECT status, created_at, updated_at FROM orders WHERE created_at >= to_timestamp($1)",
            since,
        )
        return rows
    finally:
        await conn.close()


def _cpu_seconds(supervisor: Supervisor) -> dict[str, float]:
    """CPU time (user + system) each service process has used so far."""
    used = {}
    for name, entry in supervisor.services.items():
        if entry.process is not None:
            times = psutil.Process(entry.process.pid).cpu_times()
            used[name] = times.user + times.system
    return used


async def run(server_url: str, bootstrap: str, report: Report, scratch: Path, scale: float) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    prefix = "benchsys"
    env = {
        **os.environ,
        **load_or_create_secrets(scratch),
        **UNLIMITED,
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "DATABASE_URL": server_url,
        "CRYPTOORCH_DB_PREFIX": prefix,
        "CRYPTOORCH_GATEWAY_PORT": str(port),
        "CRYPTOORCH_AUDIT_CHECKPOINT_FILE": str(scratch / "checkpoints.jsonl"),
        "CRYPTOORCH_LOG_LEVEL": "WARNING",
    }
    await ensure_topics(KafkaAccess(bootstrap))
    for name in SERVICES:  # what earlier suites left on the topics is not this suite's orders
        await skip_backlog(bootstrap, f"{prefix}.{name}", readable_by(name))
    supervisor = Supervisor(env, scratch / "logs", announce=False)
    for name in SERVICES:
        supervisor.start(name)
    try:
        await _wait_healthy(url, supervisor, time.monotonic() + 120)
        admin_token, tokens = await _users(url, env, 16)
        gateway_db = database_url_for(server_url, f"{prefix}_gateway")
        seconds = max(5.0, 60 * scale)

        started = time.time()
        cpu_before = _cpu_seconds(supervisor)
        burst = await asyncio.to_thread(
            in_second_process, {"url": url, "tokens": tokens, "seconds": seconds, "concurrency": 32}
        )
        report.add(
            "gw_accept",
            "gateway: orders accepted (HTTP → outbox commit)",
            burst["accepted"],
            burst["seconds"],
            "orders/s",
            baseline="pg_commit",
        )
        rows = await _drain(gateway_db, started)
        cpu_after = _cpu_seconds(supervisor)
        counted = await message_counts(
            server_url,
            prefix,
            list(SERVICES),
            datetime.fromtimestamp(started, UTC),
            datetime.now(UTC),
            burst["accepted"],
        )
        print("  messages per order (burst + drain):", flush=True)
        for line in counted:
            print(f"    {line}", flush=True)
        report.notes += ["messages per order (burst + drain):", *counted]
        per_order = ", ".join(
            f"{name} {1000 * (cpu_after[name] - cpu_before[name]) / max(1, burst['accepted']):.1f}"
            for name in cpu_before
            if name in cpu_after
        )
        print(f"  CPU ms per accepted order (burst + drain): {per_order}", flush=True)
        summed = sum(cpu_after[n] - cpu_before[n] for n in cpu_before if n in cpu_after)
        cpu_ms = 1000 * summed / max(1, burst["accepted"])
        report.measured("cpu_ms_per_order", "CPU per order, five processes summed", cpu_ms, "ms")
        report.notes.append(f"CPU ms per accepted order, by process: {per_order}")
        filled = [r for r in rows if r["status"] == "filled"]
        if filled:
            span = (
                max(r["updated_at"] for r in filled) - min(r["created_at"] for r in filled)
            ).total_seconds()
            report.add(
                "e2e",
                f"end to end: accepted → filled ({len(filled)}/{len(rows)} filled)",
                len(filled),
                span,
                "orders/s",
                baseline="pg_commit",
            )

        rate = max(5.0, round(0.5 * len(filled) / max(span, 1.0))) if filled else 10.0
        started = time.time()
        steady = await asyncio.to_thread(
            in_second_process,
            {"url": url, "tokens": tokens, "seconds": seconds / 2, "rate": rate, "concurrency": 64},
        )
        rows = await _drain(gateway_db, started)
        accept_p50, accept_p99 = p50_p99(steady["latencies"])
        e2e = [
            (r["updated_at"] - r["created_at"]).total_seconds()
            for r in rows
            if r["status"] == "filled"
        ]
        e2e_p50, e2e_p99 = p50_p99(e2e)
        print(
            f"  at a fixed {rate:.0f} orders/s: HTTP accept p50 {accept_p50 * 1000:.1f} ms, "
            f"p99 {accept_p99 * 1000:.1f} ms; accept → filled p50 {e2e_p50 * 1000:.0f} ms, "
            f"p99 {e2e_p99 * 1000:.0f} ms ({len(e2e)} orders)",
            flush=True,
        )
        report.measured("fixed_rate", "the fixed rate", rate, "orders/s")
        report.measured("fixed_p50_ms", "accept → filled p50", e2e_p50 * 1000, "ms")
        report.measured("fixed_p99_ms", "accept → filled p99", e2e_p99 * 1000, "ms")
        report.notes.append(
            f"fixed rate {rate:.0f} orders/s: HTTP accept p50 {accept_p50 * 1000:.1f} ms / p99 "
            f"{accept_p99 * 1000:.1f} ms; accept → filled p50 {e2e_p50 * 1000:.0f} ms / p99 {e2e_p99 * 1000:.0f} ms"
        )
        hops = await hop_delays(
            server_url, prefix, list(SERVICES), datetime.fromtimestamp(started, UTC)
        )
        print("  per hop at the fixed rate, p50 / p99 (messages):", flush=True)
        for line in hops:
            print(f"    {line}", flush=True)
        report.notes += ["per hop at the fixed rate, p50 / p99:", *hops]
        execution_db = database_url_for(server_url, f"{prefix}_execution")
        await kill_switch.run(url, admin_token, tokens, gateway_db, execution_db, report)
    finally:
        supervisor.stop_all()
