"""What `cryptoorch status` reports: each service's database (outbox backlog, dead letters),
its consumer group's lag on the broker, and the kill switches engaged (API.md, `cryptoorch
status --json`: `kafka_bootstrap_servers`, `kill_switches`, `services`, and for each service
`outbox_backlog`, `dead_letters`, `consumer_lag`, `consumer_lag_seconds`)."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
from aiokafka.errors import KafkaError

from cryptoorch import runtime_info
from shared.clock import utc_now
from shared.consumer_lag import LagReader
from shared.contracts.access import SERVICES, readable_by
from shared.kafka_access import KafkaAccess

BROKER_SECONDS = 30.0


def consumed_topics(service: str) -> list[str]:
    """The topics `service` consumes (`shared.contracts.access`)."""
    if service not in SERVICES:
        raise ValueError(f"unknown service {service}")
    return readable_by(service)


def group_id(service: str) -> str:
    """The consumer group `ServiceRuntime.consume` joins."""
    return f"{runtime_info.db_prefix()}.{service}"


async def database_row(service: str) -> dict[str, Any]:
    row: dict[str, Any] = {"database": "down", "outbox_backlog": None, "dead_letters": None}
    try:
        conn = await asyncpg.connect(runtime_info.service_database_url(service), timeout=5)
    except (OSError, asyncpg.PostgresError) as exc:
        row["error"] = str(exc)
        return row
    try:
        row["database"] = "up"
        row["outbox_backlog"] = await conn.fetchval(
            "SELECT count(*) FROM outbox WHERE published_at IS NULL"
        )
        row["dead_letters"] = await conn.fetchval(
            "SELECT count(*) FROM inbox WHERE outcome = 'dead_lettered'"
        )
    except asyncpg.PostgresError as exc:
        row["error"] = str(exc)
    finally:
        await conn.close()
    return row


async def engaged_switches() -> list[dict[str, Any]] | None:
    """Every engaged kill switch, or None when the gateway's database cannot say."""
    from cryptoorch.killswitch_cmd import as_dict, current_switches

    try:
        switches = await current_switches()
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
        return None
    return [as_dict(s) for s in switches if s.engaged]


async def add_consumer_lag(services: dict[str, dict[str, Any]], access: KafkaAccess) -> str | None:
    """Fill `consumer_lag` and `consumer_lag_seconds` of each row; the broker's error if it
    could not be read (the fields stay None: unknown, not zero)."""
    for row in services.values():
        row["consumer_lag"] = row["consumer_lag_seconds"] = None
    now = utc_now()

    async def read() -> None:
        async with LagReader(access) as reader:
            for name, row in services.items():
                lag = await reader.lag(group_id(name), consumed_topics(name), now)
                row["consumer_lag"], row["consumer_lag_seconds"] = lag.messages, lag.seconds

    try:
        await asyncio.wait_for(read(), timeout=BROKER_SECONDS)
    except (KafkaError, OSError, TimeoutError) as exc:
        return f"broker not readable: {exc or type(exc).__name__}"
    return None


async def collect() -> dict[str, Any]:
    bootstrap = runtime_info.kafka_bootstrap_servers()
    services = {name: await database_row(name) for name in runtime_info.SERVICES}
    report: dict[str, Any] = {
        "kafka_bootstrap_servers": bootstrap,
        "database_url": runtime_info.server_database_url(),
        "kill_switches": await engaged_switches(),
        "services": services,
    }
    broker_error = await add_consumer_lag(services, runtime_info.kafka_access())
    if broker_error is not None:
        report["kafka_error"] = broker_error
    return report
