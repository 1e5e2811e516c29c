"""The operator console as a client sees it: a cookie session and the server-sent order stream."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx

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
    """The first event for which `wanted(event)` holds, within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"no {what} within {timeout} s")
        try:
            event = await asyncio.wait_for(anext(events), timeout=left)
        except TimeoutError:
            raise AssertionError(f"no {what} within {timeout} s") from None
        if wanted(event):
            return event
