"""What `cryptoorch status` reports, gathered from each service's database."""

from __future__ import annotations

from typing import Any

import asyncpg

from cryptoorch import runtime_info


async def collect() -> dict[str, Any]:
    report: dict[str, Any] = {
        "kafka_bootstrap_servers": runtime_info.kafka_bootstrap_servers(),
        "database_url": runtime_info.server_database_url(),
        "services": {},
    }
    for name in runtime_info.SERVICES:
        row: dict[str, Any] = {"database": "down"}
        try:
            conn = await asyncpg.connect(runtime_info.service_database_url(name), timeout=5)
        except (OSError, asyncpg.PostgresError) as exc:
            row["error"] = str(exc)
        else:
            try:
                row["database"] = "up"
                row["outbox_backlog"] = await conn.fetchval(
                    "SELECT count(*) FROM outbox WHERE published_at IS NULL"
                )
                row["dead_lettered"] = await conn.fetchval(
                    "SELECT count(*) FROM inbox WHERE outcome = 'dead_lettered'"
                )
            except asyncpg.PostgresError as exc:
                row["error"] = str(exc)
            finally:
                await conn.close()
        report["services"][name] = row
    return report
