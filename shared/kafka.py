"""Broker access: the producer every relay uses, topic creation, and the cluster's identity.

Producers are idempotent with `acks="all"`: a retried produce is never written twice, and an
acknowledged one is on every in-sync replica (`min.insync.replicas` of the topic). The broker
creates no topic a client asks for (`auto.create.topics.enable=false`); topics are created only
by `ensure_topics`, at start-up and by a relay that finds its cluster without them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from aiokafka import AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from shared.contracts.topics import DLQ_SUFFIX, PARTITIONS, all_topics
from shared.kafka_access import KafkaAccess

log = logging.getLogger(__name__)
FETCH_MAX_WAIT_MS = 50
"""How long a fetch waits at the broker for data before it answers empty (default 500). Kafka
answers a waiting fetch as soon as a message arrives on any of its partitions, so this delays no
message (measured: produce → consumed p50 3 to 5 ms at 5, 100 and 500 ms alike); it bounds only a
partition aiokafka leaves out of the fetch in flight because records of it were still buffered.
Each empty answer costs the consumer CPU: 5 ms took 6 to 7% of a core per idle consumer, 100 ms
0.7% (docs/decisions.md, "Consumers skip what they ignore")."""
METADATA_MAX_AGE_MS = 5_000
"""How often a consumer asks for its topics' metadata unasked (default 5 minutes): a topic
that was missing (a broker that lost its log, until a relay makes it again) is consumed
within seconds of its creation, not minutes."""


class TopicsMismatch(RuntimeError):
    """A topic is missing or has other partitions than the contract after `ensure_topics`."""


def partitions_of(topic: str) -> int:
    """The contract's partitions: `PARTITIONS` for a main topic, one for a dead-letter topic."""
    return 1 if topic.endswith(DLQ_SUFFIX) else PARTITIONS


def make_producer(access: KafkaAccess) -> AIOKafkaProducer:
    """Idempotent, acknowledged by every in-sync replica, sent at once (no linger)."""
    return AIOKafkaProducer(
        **access.client_options(),
        acks="all",
        enable_idempotence=True,
        linger_ms=0,
        max_batch_size=256 * 1024,
        request_timeout_ms=15_000,
    )


def producer_stopped(producer: AIOKafkaProducer) -> bool:
    """Whether the producer's sender gave up for good (it does on `OutOfOrderSequenceNumber`,
    aiokafka #1017): every later send would wait forever. Replace such a producer."""
    sender = getattr(producer, "_sender", None)
    task = getattr(sender, "sender_task", None)
    return task is not None and task.done()


async def ensure_topics(
    access: KafkaAccess,
    topics: list[str] | None = None,
    *,
    replication_factor: int = 1,
    min_insync_replicas: int = 1,
    wait_seconds: float = 10.0,
) -> None:
    """Create every missing topic (main ones with `PARTITIONS` partitions, DLQs with one;
    `replication_factor` replicas, `min_insync_replicas` of them acknowledge a produce), then
    check that each has its partitions; raise `TopicsMismatch` if one has not, or is still
    not visible after `wait_seconds`. A topic's partitions are never changed here (see
    docs/deploy.md for why, and how)."""
    wanted = topics if topics is not None else all_topics()
    admin = AIOKafkaAdminClient(**access.client_options())
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [t for t in wanted if t not in existing]
        if missing:
            config = {"min.insync.replicas": str(min_insync_replicas)}
            new = [
                NewTopic(t, partitions_of(t), replication_factor, topic_configs=config)
                for t in missing
            ]
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


async def topic_partitions(access: KafkaAccess, topics: list[str]) -> list[TopicPartition]:
    """Every partition of those of `topics` that exist, in order. (A consumer that has not
    subscribed knows no topic's partitions: it asks for the metadata of none.)"""
    if not topics:
        return []
    admin = AIOKafkaAdminClient(**access.client_options())
    await admin.start()
    try:
        described = await admin.describe_topics(topics)
    finally:
        await admin.close()
    return sorted(
        (
            TopicPartition(t["topic"], p["partition"])
            for t in described
            if t["error_code"] == 0
            for p in t["partitions"]
        ),
        key=lambda tp: (topics.index(tp.topic), tp.partition),
    )


async def wait_for_broker(access: KafkaAccess, wait_seconds: float = 30.0) -> None:
    """Return once the broker answers metadata requests; raise after `wait_seconds`."""
    deadline = asyncio.get_running_loop().time() + wait_seconds
    while True:
        admin = AIOKafkaAdminClient(**access.client_options())
        try:
            await admin.start()
            await admin.list_topics()
            return
        except Exception as exc:  # any failure means "not ready yet" until the deadline
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"broker {access} not reachable: {exc}") from exc
            await asyncio.sleep(0.2)
        finally:
            await admin.close()


class ClusterIdentity:
    """Which broker cluster we are talking to, asked only when a client reconnected.

    A broker that lost its log (a cluster wiped and made again at the same address) is a new
    cluster: offsets a consumer holds from before point into a log that no longer exists, and
    its topics are gone. Only a client that opened a new connection can be talking to a new
    cluster, so `is_new` compares the client's connections with those of the last answer
    (a local look, no request) and asks the cluster id only when they differ: once at
    start, after each reconnection. Before every batch costs a round trip per batch.
    """

    def __init__(self, access: KafkaAccess, timeout: float = 5.0) -> None:
        self._access = access
        self._admin: AIOKafkaAdminClient | None = None
        self._timeout = timeout
        self._seen: list[Any] = []
        self.asked = 0
        """How many times the broker was asked."""

    async def start(self) -> None:
        """Nothing to do: the admin client connects on the first question."""

    async def close(self) -> None:
        admin, self._admin = self._admin, None
        if admin is not None:
            with contextlib.suppress(Exception):
                await admin.close()

    async def current(self) -> str:
        """The cluster id; raises (KafkaError, OSError, TimeoutError) when it cannot be asked.

        After a failure the admin client is dropped and the next question starts a new one: a
        request cancelled by the timeout can leave its connection unusable, and every later
        question would then fail too (a consumer that cannot ask re-fetches its batch)."""
        self.asked += 1
        try:
            if self._admin is None:
                self._admin = AIOKafkaAdminClient(**self._access.client_options())
                await asyncio.wait_for(self._admin.start(), self._timeout)
            described = await asyncio.wait_for(self._admin.describe_cluster(), self._timeout)
        except BaseException:
            await self.close()
            raise
        return str(described["cluster_id"])

    @staticmethod
    def connections(client: Any) -> list[Any]:
        """The connections an aiokafka client holds now (a local look)."""
        return list(getattr(client, "_conns", {}).values())

    def is_new(self, connections: list[Any]) -> bool:
        """Whether any of `connections` was opened since the last `seen`."""
        return not all(any(c is s for s in self._seen) for c in connections)

    def seen(self, connections: list[Any]) -> None:
        """The cluster was asked after `connections` were open: no need to ask for them again."""
        self._seen = connections


class TopicsOnCluster:
    """Makes sure the contract's topics exist on the cluster the broker is now.

    The relay asks at start, after its producer reconnected, and after a publish failed: a
    broker that lost its log comes back as a new cluster without topics, and gets them back
    (`ensure_topics`, once per cluster id) before anything is published to it. A broker that
    restarted with its log is the same cluster: nothing to do.
    """

    def __init__(
        self, access: KafkaAccess, *, replication_factor: int = 1, min_insync_replicas: int = 1
    ) -> None:
        self._access = access
        self._replication_factor = replication_factor
        self._min_insync_replicas = min_insync_replicas
        self.cluster = ClusterIdentity(access)
        self._ready_on: str | None = None

    async def start(self) -> None:
        await self.cluster.start()

    async def close(self) -> None:
        await self.cluster.close()

    async def ensure_if_reconnected(self, client: Any) -> None:
        """`ensure` if `client` (a producer's) opened a connection since the last check."""
        connections = self.cluster.connections(client)
        if self.cluster.is_new(connections):
            await self.ensure()
            self.cluster.seen(connections)

    async def ensure(self) -> None:
        """Create the topics if the broker is a cluster they were not made sure of on; raises
        what `ClusterIdentity.current` and `ensure_topics` raise."""
        cluster_id = await self.cluster.current()
        if cluster_id == self._ready_on:
            return
        if self._ready_on is not None:
            log.warning(
                "the broker is a new cluster (%s, was %s): creating the topics",
                cluster_id,
                self._ready_on,
            )
        await ensure_topics(
            self._access,
            replication_factor=self._replication_factor,
            min_insync_replicas=self._min_insync_replicas,
        )
        self._ready_on = cluster_id
