"""The operator console as a client sees it: a cookie session and the server-sent order stream;
and the database of a consumer of a test's own, whose messages the console's Dead letters view
shows and re-drives."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from shared.db import create_pool, drop_database, ensure_database
from shared.migrate import migrate

CONSOLE_HEADER = {"X-Requested-By": "console"}


@dataclass(frozen=True)
class ServerEvent:
    name: str
    data: str

    def json(self) -> Any:
        return json.loads(self.data)


async def console_session(base_url: str, email: str, password: str) -> httpx.AsyncClient:
    """A client signed in to the console (its cookie jar holds the session)."""
    client = httpx.AsyncClient(base_url=base_url, timeout=30)
    response = await client.post(
        "/v1/admin/session", json={"email": email, "password": password}, headers=CONSOLE_HEADER
    )
    assert response.status_code == 200, response.text
    return client


async def server_events(response: httpx.Response) -> AsyncIterator[ServerEvent]:
    """The events of a `text/event-stream` response (comments and `retry:` skipped)."""
    name, data = "message", list[str]()
    async for line in response.aiter_lines():
        if line == "":
            if data:
                yield ServerEvent(name, "\n".join(data))
            name, data = "message", list[str]()
        elif line.startswith("event:"):
            name = line.removeprefix("event:").strip()
        elif line.startswith("data:"):
            data.append(line.removeprefix("data:").lstrip())


async def next_event_where(
    events: AsyncIterator[ServerEvent], wanted: Any, *, timeout: float, what: str
) -> ServerEvent:
    """The first event for which `wanted(event)` holds, within `timeout` seconds; the failure
    lists the events that came meanwhile."""
    deadline = time.monotonic() + timeout
    seen: list[str] = []
    while True:
        left = deadline - time.monotonic()
        try:
            if left <= 0:
                raise TimeoutError
            event = await asyncio.wait_for(anext(events), timeout=left)
        except TimeoutError:
            came = "\n".join(seen[-20:]) or "(none)"
            raise AssertionError(
                f"no {what} within {timeout} s; events meanwhile:\n{came}"
            ) from None
        if wanted(event):
            return event
        seen.append(f"{event.name}: {event.data[:300]}")


@asynccontextmanager
async def effects_database(database_url: str, folder: Path) -> AsyncIterator[asyncpg.Pool]:
    """A fresh database for a consumer of the test's own that parks a message: the shared inbox
    and outbox, and `effects` (correlation_id, applied) counting what its handler applied.
    `folder` receives its migration; the database is dropped afterwards."""
    name = "t" + uuid.uuid4().hex[:12] + "_consumer"
    url = await ensure_database(database_url, name)
    await asyncio.to_thread(folder.mkdir, parents=True, exist_ok=True)
    (folder / "0001_effects.sql").write_text(
        "CREATE TABLE effects (correlation_id TEXT PRIMARY KEY, applied INT NOT NULL)"
    )
    await migrate(url, folder)
    pool = await create_pool(url, size=4)
    try:
        yield pool
    finally:
        await pool.close()
        await drop_database(database_url, name)
