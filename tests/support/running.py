"""Run a service in this process (integration tests) with the same composition root as prod."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from shared.service import ServiceRuntime
from shared.settings import CommonSettings


@asynccontextmanager
async def running_service(
    name: str,
    settings: CommonSettings,
    migrations: Path,
    build: Callable[[ServiceRuntime], Awaitable[None]],
) -> AsyncIterator[ServiceRuntime]:
    runtime = ServiceRuntime(name, settings, migrations)
    await runtime.start()
    await build(runtime)
    jobs = [runtime.relay.run, *(c.run for c in runtime.consumers), *runtime.tasks]
    tasks = [asyncio.create_task(job(runtime.stop)) for job in jobs]
    try:
        yield runtime
    finally:
        runtime.stop.set()
        await asyncio.wait(tasks, timeout=15)
        for task in tasks:
            task.cancel()
        await runtime.close()
        for task in tasks:
            if task.done() and not task.cancelled() and task.exception() is not None:
                raise task.exception()  # type: ignore[misc]
