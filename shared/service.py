"""What every service process does around its own logic: database, migrations, relay, consumers.

A service's `app.py` builds a `ServiceRuntime`, adds its consumers and background
tasks, and calls `run()`; tests call the same function with their own settings.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

import asyncpg
from aiokafka import AIOKafkaProducer

from shared import logs, metrics, telemetry
from shared.clock import Clock, utc_now
from shared.db import create_pool, ensure_database
from shared.emitter import Emitter
from shared.inbox import BatchHandler, Handler, InboxConsumer, InboxSettings
from shared.kafka import (
    FETCH_MAX_WAIT_MS,
    TopicsOnCluster,
    ensure_topics,
    make_producer,
    wait_for_broker,
)
from shared.migrate import migrate
from shared.outbox import OutboxRelay
from shared.settings import CommonSettings

log = logging.getLogger(__name__)
Task = Callable[[asyncio.Event], Coroutine[Any, Any, None]]
SettingsT = TypeVar("SettingsT", bound=CommonSettings)


async def prepare_database(settings: CommonSettings, service: str, migrations: Path) -> str:
    """Create the service's database if needed and apply its migrations; return its URL."""
    url = await ensure_database(settings.database_url, f"{settings.db_prefix}_{service}")
    await migrate(url, migrations)
    return url


@dataclass
class ServiceRuntime(Generic[SettingsT]):
    """One service process's parts, typed by its own settings class; `name` is also the
    producer of its messages (`emitter`)."""

    name: str
    settings: SettingsT
    migrations: Path
    clock: Clock = utc_now
    pool: asyncpg.Pool = field(init=False)
    database_url: str = field(init=False)
    relay: OutboxRelay = field(init=False)
    consumers: list[InboxConsumer] = field(default_factory=list)
    tasks: list[Task] = field(default_factory=list)
    stop: asyncio.Event = field(default_factory=asyncio.Event)

    async def start(self) -> None:
        self.settings.require_infrastructure()
        self.database_url = await prepare_database(self.settings, self.name, self.migrations)
        self.pool = await create_pool(self.database_url, size=self.settings.db_pool_size)
        await wait_for_broker(self.settings.kafka_access)
        await ensure_topics(
            self.settings.kafka_access,
            replication_factor=self.settings.kafka_replication_factor,
            min_insync_replicas=self.settings.kafka_min_insync_replicas,
        )
        producer = make_producer(self.settings.kafka_access)
        await producer.start()
        self.relay = OutboxRelay(
            self.database_url,
            producer,
            batch_size=self.settings.relay_batch_size,
            poll_seconds=self.settings.relay_poll_seconds,
            topics=TopicsOnCluster(
                self.settings.kafka_access,
                replication_factor=self.settings.kafka_replication_factor,
                min_insync_replicas=self.settings.kafka_min_insync_replicas,
            ),
            new_producer=lambda: make_producer(self.settings.kafka_access),
        )

    @property
    def emitter(self) -> Emitter:
        """How this service writes its messages: as `name`, stamped by `clock`, to its outbox."""
        return Emitter(self.name, self.clock)

    @property
    def producer(self) -> AIOKafkaProducer:
        """The relay's producer (a new one after the relay replaced one that stopped)."""
        return self.relay.producer

    def consume(
        self,
        topics: list[str],
        handler: Handler,
        *,
        acts_on: frozenset[str] | None = None,
    ) -> InboxConsumer:
        """Consume `topics` in this service's consumer group through the inbox.

        `acts_on`: the message types `handler` does anything with (`access.acts_on`); the
        inbox skips the others without decoding or recording them. None: every type.
        """
        return self._consumer(topics, handler, None, acts_on=acts_on)

    def consume_batches(
        self,
        topics: list[str],
        handler: BatchHandler,
        *,
        acts_on: frozenset[str] | None = None,
        fetch_max_wait_ms: int = FETCH_MAX_WAIT_MS,
    ) -> InboxConsumer:
        """`consume`, with a handler that takes each batch's messages at once.

        `fetch_max_wait_ms`: how long a fetch waits at the broker for data (see
        `shared.kafka.FETCH_MAX_WAIT_MS`); longer for a consumer no one waits on that reads
        many partitions: each empty answer costs it a decode of every partition.
        """
        return self._consumer(topics, None, handler, fetch_max_wait_ms, acts_on=acts_on)

    def _consumer(
        self,
        topics: list[str],
        handler: Handler | None,
        batch_handler: BatchHandler | None,
        fetch_max_wait_ms: int = FETCH_MAX_WAIT_MS,
        *,
        acts_on: frozenset[str] | None = None,
    ) -> InboxConsumer:
        settings = InboxSettings(
            group_id=f"{self.settings.db_prefix}.{self.name}",
            topics=topics,
            batch_size=self.settings.consumer_batch_size,
            max_attempts=self.settings.consumer_max_attempts,
            session_timeout_ms=self.settings.consumer_session_timeout_ms,
            heartbeat_interval_ms=self.settings.consumer_heartbeat_ms,
            rebalance_timeout_ms=self.settings.consumer_rebalance_timeout_ms,
            fetch_max_wait_ms=fetch_max_wait_ms,
            acts_on=acts_on,
        )
        consumer = InboxConsumer(
            pool=self.pool,
            kafka=self.settings.kafka_access,
            settings=settings,
            handler=handler,
            batch_handler=batch_handler,
        )
        self.consumers.append(consumer)
        return consumer

    def background(self, task: Task) -> None:
        self.tasks.append(task)

    async def run(self) -> None:
        """Run relay, consumers and tasks until SIGTERM/SIGINT or `stop`; a crash stops all."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stop.set)
        jobs = [self.relay.run, *(c.run for c in self.consumers), *self.tasks]
        running: list[asyncio.Task[None]] = [asyncio.create_task(job(self.stop)) for job in jobs]
        stopper = asyncio.create_task(self.stop.wait())
        try:
            done, _ = await asyncio.wait([*running, stopper], return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                if task is not stopper and task.exception() is not None:
                    raise task.exception()  # type: ignore[misc]
        finally:
            self.stop.set()
            await asyncio.wait(running, timeout=10)
            for task in running:
                task.cancel()
            await self.close()

    async def close(self) -> None:
        await self.producer.stop()
        await self.pool.close()


def main(
    name: str,
    settings: SettingsT,
    migrations: Path,
    build: Callable[[ServiceRuntime[SettingsT]], Awaitable[None]],
    *,
    loop_factory: Callable[[], asyncio.AbstractEventLoop] | None = None,
) -> None:
    """Entry point of `python -m services.<name>`; `loop_factory` picks the event loop
    (e.g. `uvloop.new_event_loop`), asyncio's own by default."""
    logs.configure(name, settings.log_level)
    telemetry.configure(name, settings.trace_exporter, settings.trace_file)
    metrics.serve(settings.metrics_port, settings.metrics_host)

    async def _run() -> None:
        runtime = ServiceRuntime(name, settings, migrations)
        await runtime.start()
        await build(runtime)
        log.info("%s running", name)
        await runtime.run()

    with asyncio.Runner(loop_factory=loop_factory) as runner:
        runner.run(_run())
