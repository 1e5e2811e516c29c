"""The whole system as real processes for the security run, and what the tests read from it:
the services' databases (every row of every table) and their log files."""

from __future__ import annotations

import base64
import binascii
import json
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import asyncpg

from shared.infra.resolve import Infrastructure
from shared.settings import database_url_for
from tests.conftest import FAST_GROUPS
from tests.support.system import SERVICES, System, system_env

_EMBEDDED_ORIGINAL = re.compile(r'"original_value_b64":\s*"([A-Za-z0-9+/=]*)"')


@contextmanager
def running_system(infra: Infrastructure, folder: Path, **env: str) -> Iterator[System]:
    """All five services, as `cryptoorch up` runs them, on a database prefix of their own."""
    base = {
        "KAFKA_BOOTSTRAP_SERVERS": infra.kafka_bootstrap_servers,
        "DATABASE_URL": infra.database_url,
        "CRYPTOORCH_DB_PREFIX": "t" + uuid.uuid4().hex[:12],
        "CRYPTOORCH_RELAY_POLL_SECONDS": "0.2",
        **{f"CRYPTOORCH_{k.upper()}": str(v) for k, v in FAST_GROUPS.items()},
        **env,
    }
    full_env = system_env(base, folder)
    port = full_env["CRYPTOORCH_GATEWAY_PORT"]
    system = System(full_env, folder / "logs", f"http://127.0.0.1:{port}")
    try:
        for name in SERVICES:
            system.start(name)
        system.wait_healthy()
        yield system
    except BaseException:
        print(system.logs(*SERVICES))
        raise
    finally:
        system.stop()


def prefix_of(system: System) -> str:
    return system.env["CRYPTOORCH_DB_PREFIX"]


async def connect_to(system: System, service: str) -> asyncpg.Connection:
    url = database_url_for(system.env["DATABASE_URL"], f"{prefix_of(system)}_{service}")
    return await asyncpg.connect(url)


async def query(system: System, service: str, sql: str, *args: Any) -> list[dict[str, Any]]:
    conn = await connect_to(system, service)
    try:
        return [dict(row) for row in await conn.fetch(sql, *args)]
    finally:
        await conn.close()


def readable(value: object) -> str:
    """A column value as text a secret could be found in: bytes decoded, and any dead-lettered
    original (base64 inside a `DeadLettered` message) decoded beside it."""
    if isinstance(value, bytes | memoryview):
        text = bytes(value).decode("utf-8", "replace")
    else:
        text = str(value)
    originals = []
    for encoded in _EMBEDDED_ORIGINAL.findall(text):
        try:
            originals.append(base64.b64decode(encoded).decode("utf-8", "replace"))
        except (binascii.Error, ValueError):
            continue
    return "\n".join([text, *originals])


async def every_row(system: System, service: str) -> dict[str, list[str]]:
    """Every row of every table of the service's database, as text, by table."""
    conn = await connect_to(system, service)
    try:
        tables = await conn.fetch(
            "SELECT table_schema, table_name FROM information_schema.tables "
            "WHERE table_type = 'BASE TABLE' "
            "AND table_schema NOT IN ('pg_catalog', 'information_schema')"
        )
        dump: dict[str, list[str]] = {}
        for table in tables:
            name = f'"{table["table_schema"]}"."{table["table_name"]}"'
            rows = await conn.fetch(f"SELECT * FROM {name}")
            dump[name] = [" | ".join(readable(v) for v in row.values()) for row in rows]
        return dump
    finally:
        await conn.close()


def log_text(system: System) -> dict[str, str]:
    return {
        path.name: path.read_text(errors="replace") for path in sorted(system.log_dir.glob("*.log"))
    }


def envelope_bytes(message_json: str, **changes: Any) -> bytes:
    data = json.loads(message_json)
    data.update(changes)
    return json.dumps(data).encode()
