"""Broker access: the producer every relay uses and topic creation.

No idempotent producer and no transactions: Tansu has neither, and the outbox +
inbox design needs neither (a duplicate is skipped by the consumer's inbox).

No client of this process makes the broker create a topic by asking for it: importing
this module turns off aiokafka's `allow_auto_topic_creation` (always on in aiokafka, for
producers, consumers and the admin's `describe_topics` alike). A broker creates such a
topic with its own default partitions (Tansu: 4), not `PARTITIONS`, which moves accounts to
other partitions and halves a consumer group's parallelism. Topics are created only by
`ensure_topics`, at start-up and, through `TopicsOnCluster`, on every new cluster.
"""

from __future__ import annotations

import asyncio
import logging

import aiokafka.admin.client
import aiokafka.client
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError
from aiokafka.protocol.metadata import MetadataRequest

from shared.contracts.topics import DLQ_SUFFIX, PARTITIONS, all_topics

log = logging.getLogger(__name__)


class _MetadataRequestWithoutAutoCreation(MetadataRequest):  # type: ignore[misc]
    """aiokafka's metadata request, asking the broker not to create the topics it names."""

    def __init__(
        self, topics: list[str] | None = None, allow_auto_topic_creation: bool | None = False
    ) -> None:
        super().__init__(topics, allow_auto_topic_creation)


aiokafka.client.MetadataRequest = _MetadataRequestWithoutAutoCreation
aiokafka.admin.client.MetadataRequest = _MetadataRequestWithoutAutoCreation


class TopicsMismatch(RuntimeError):
    """A topic is missing or has other partitions than the contract after `ensure_topics`."""


def partitions_of(topic: str) -> int:
    """The contract's partitions: `PARTITIONS` for a main topic, one for a dead-letter topic."""
    return 1 if topic.endswith(DLQ_SUFFIX) else PARTITIONS


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
    bootstrap_servers: str,
    topics: list[str] | None = None,
    *,
    replication_factor: int = 1,
    wait_seconds: float = 10.0,
) -> None:
    """Create every topic (main ones with `PARTITIONS` partitions, DLQs with one) if missing,
    then check that each has its partitions; raise `TopicsMismatch` if one has not, or is still
    not visible after `wait_seconds`. A topic's partitions are never changed here (see
    docs/deploy.md for why, and how)."""
    wanted = topics if topics is not None else all_topics()
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [t for t in wanted if t not in existing]
        if missing:
            new = [NewTopic(t, partitions_of(t), replication_factor) for t in missing]
            try:
                await admin.create_topics(new)
            except TopicAlreadyExistsError:
                pass
        found = await _partition_counts(admin, wanted, wait_seconds)
    finally:
        await admin.close()
    wrong = {t: found.get(t, 0) for t in wanted if found.get(t, 0) != partitions_of(t)}
    if wrong:
        raise TopicsMismatch(
            "topics without the contract's partitions: "
            + ", ".join(f"{t} has {n}, wants {partitions_of(t)}" for t, n in sorted(wrong.items()))
        )


async def _partition_counts(
    admin: AIOKafkaAdminClient, topics: list[str], wait_seconds: float
) -> dict[str, int]:
    """Partitions of each of `topics`, waiting up to `wait_seconds` for a just created one to
    show in the metadata (Kafka's controller answers before every broker knows it)."""
    deadline = asyncio.get_running_loop().time() + wait_seconds
    while True:
        described = await admin.describe_topics(topics)
        found = {t["topic"]: len(t["partitions"]) for t in described if t["error_code"] == 0}
        if set(found) >= set(topics) or asyncio.get_running_loop().time() > deadline:
            return found
        await asyncio.sleep(0.1)


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


class TopicsOnCluster:
    """Makes sure the contract's topics exist on the cluster the broker is now, before use.

    The embedded broker keeps nothing across a restart and comes back as a new cluster without
    topics. The relay asks before each batch it publishes (and when idle), so the topics are
    created by `ensure_topics`, once per cluster id, before anything is published to them: a
    broker that restarted under running services gets them back with their partitions without
    anyone's help. On a real Kafka cluster the id never changes: one metadata request a batch.
    """

    def __init__(self, bootstrap_servers: str, *, replication_factor: int = 1) -> None:
        self._bootstrap_servers = bootstrap_servers
        self._replication_factor = replication_factor
        self._cluster = ClusterIdentity(bootstrap_servers)
        self._ready_on: str | None = None

    async def start(self) -> None:
        await self._cluster.start()

    async def close(self) -> None:
        await self._cluster.close()

    async def ensure(self) -> None:
        """Create the topics if the broker is a cluster they were not made sure of on; raises
        what `ClusterIdentity.current` and `ensure_topics` raise."""
        cluster_id = await self._cluster.current()
        if cluster_id == self._ready_on:
            return
        if self._ready_on is not None:
            log.warning(
                "the broker is a new cluster (%s, was %s): creating the topics",
                cluster_id,
                self._ready_on,
            )
        await ensure_topics(self._bootstrap_servers, replication_factor=self._replication_factor)
        self._ready_on = cluster_id
