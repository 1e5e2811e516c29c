"""Broker access: the producer every relay uses and topic creation.

No idempotent producer and no transactions: Tansu has neither, and the outbox +
inbox design needs neither (a duplicate is skipped by the consumer's inbox).
"""

from __future__ import annotations

import asyncio
import logging

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from shared.contracts.topics import DLQ_SUFFIX, PARTITIONS, all_topics

log = logging.getLogger(__name__)


def make_producer(bootstrap_servers: str) -> AIOKafkaProducer:
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap_servers,
        acks="all",
        enable_idempotence=False,
        linger_ms=2,
        max_batch_size=256 * 1024,
        request_timeout_ms=15_000,
    )


async def ensure_topics(
    bootstrap_servers: str, topics: list[str] | None = None, *, replication_factor: int = 1
) -> None:
    """Create every topic (main ones with `PARTITIONS` partitions, DLQs with one) if missing."""
    wanted = topics if topics is not None else all_topics()
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [t for t in wanted if t not in existing]
        if not missing:
            return
        new = [
            NewTopic(t, 1 if t.endswith(DLQ_SUFFIX) else PARTITIONS, replication_factor)
            for t in missing
        ]
        try:
            await admin.create_topics(new)
        except TopicAlreadyExistsError:
            pass
    finally:
        await admin.close()


async def wait_for_broker(bootstrap_servers: str, wait_seconds: float = 30.0) -> None:
    """Return once the broker answers metadata requests; raise after `wait_seconds`."""
    deadline = asyncio.get_running_loop().time() + wait_seconds
    while True:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
        try:
            await admin.start()
            await admin.list_topics()
            return
        except Exception as exc:  # any failure means "not ready yet" until the deadline
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"broker {bootstrap_servers} not reachable: {exc}") from exc
            await asyncio.sleep(0.2)
        finally:
            await admin.close()


class ClusterIdentity:
    """Which broker cluster we are talking to, asked fresh each time.

    A broker that lost its log (the embedded one keeps nothing across a restart, and starts
    with a new cluster id) is a new cluster: offsets a consumer holds from before point into a
    log that no longer exists, so reading on from them would skip or reorder what the outboxes
    re-publish. The inbox asks before it applies each batch.
    """

    def __init__(self, bootstrap_servers: str, timeout: float = 5.0) -> None:
        self._admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
        self._timeout = timeout

    async def start(self) -> None:
        await self._admin.start()

    async def close(self) -> None:
        await self._admin.close()

    async def current(self) -> str:
        """The cluster id; raises (KafkaError, OSError, TimeoutError) when it cannot be asked."""
        described = await asyncio.wait_for(self._admin.describe_cluster(), self._timeout)
        return str(described["cluster_id"])
