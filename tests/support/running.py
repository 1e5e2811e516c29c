"""Run a service in this process (integration tests) with the same composition root as prod."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from shared.service import ServiceRuntime, Task
from shared.settings import CommonSettings


def all_jobs(runtime: ServiceRuntime[Any]) -> list[Task]:
    return [runtime.relay.run, *(c.run for c in runtime.consumers), *runtime.tasks]


@asynccontextmanager
async def running_service(
    name: str,
    settings: CommonSettings,
    migrations: Path,
    build: Callable[[ServiceRuntime[Any]], Awaitable[object]],
    jobs: Callable[[ServiceRuntime[Any]], list[Task]] | None = None,
) -> AsyncIterator[ServiceRuntime[Any]]:
    """The service built by `build`, running every job it has (relay, consumers, background
    tasks), or only those `jobs` picks from it (benchmarks leave some out)."""
    runtime = ServiceRuntime(name, settings, migrations)
    await runtime.start()
    await build(runtime)
    picked = jobs(runtime) if jobs is not None else all_jobs(runtime)
    tasks = [asyncio.create_task(job(runtime.stop)) for job in picked]
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
