"""A broker that lost its log (a new cluster) must not make a consumer skip or reorder.

Apache Kafka keeps its log across a restart (tests/chaos/test_chaos.py kills it and needs no
re-publishing). A log can still be lost: a cluster wiped and made again at the same address.
Here a new broker, on a new folder, takes the old one's port: a new cluster, with no topics,
messages or offsets. The outbox re-publishes into the new log
(`cryptoorch outbox republish`), where offsets start again at 0. A consumer that was
applying a batch fetched from the old log rejoins its group on the new broker meanwhile, and
then commits the batch's offsets (old-log numbers) into it: the new broker accepts them. If
the member dies before it commits anything newer on that partition, the group resumes at the
old-log offset and never reads the new log's first messages.

Found by the long chaos run (one `PlaceOrder` never decided, never audited); this replays the
mechanism step by step with the real `InboxConsumer`. The second test is the other way the
old positions hurt: read on from them in the new log, the re-published messages arrive out
of order (and, with commits, some are skipped). The third: a running service's relay gives
the new cluster the contract's topics before it publishes. The fourth: the operator's
`outbox republish` puts a service's whole history on the new cluster.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiokafka.admin import AIOKafkaAdminClient

from shared.clock import utc_now
from shared.contracts import Envelope, Topic, all_topics, encode, new_message
from shared.contracts.orders import CancelOrder
from shared.contracts.topics import PARTITIONS
from shared.db import Connection, connect, create_pool, ensure_database
from shared.inbox import Handler, InboxConsumer, InboxSettings
from shared.infra.kafka import EmbeddedKafka
from shared.infra.resolve import Infrastructure
from shared.kafka import ensure_topics
from shared.kafka_access import KafkaAccess
from shared.migrate import migrate
from shared.outbox import enqueue, republish_all
from shared.service import ServiceRuntime
from shared.settings import CommonSettings
from tests.conftest import FAST_GROUPS
from tests.support.running import running_service
from tests.support.topics import publish_raw, read_topic
from tests.support.waiting import eventually

pytestmark = pytest.mark.chaos
TOPIC = Topic.ORDER_COMMANDS.value
GROUP = "restart-probe"


def message(phase: str, n: int) -> Envelope:
    return new_message(
        CancelOrder(order_id=f"{phase}-{n}"),
        producer="test",
        account_id="probe",
        correlation_id=f"{phase}-{n}",
        now=utc_now(),
    )


async def publish(bootstrap: str, messages: list[Envelope]) -> None:
    """All on partition 0, whose offsets the test follows."""
    await publish_raw(bootstrap, TOPIC, "probe", *(encode(m) for m in messages), partition=0)


async def group_is_stable(bootstrap: str) -> bool:
    """The broker has a consumer group `GROUP` with an assignment (a member joined it)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        described = await admin.describe_consumer_groups([GROUP])
    finally:
        await admin.close()
    groups = [g for response in described for g in response.to_object()["groups"]]
    return any(g["state"] == "Stable" and g["members"] for g in groups)


@pytest.fixture
async def pool(
    infra: Infrastructure, db_prefix: str, tmp_path: Path
) -> AsyncIterator[asyncpg.Pool]:
    url = await ensure_database(infra.database_url, f"{db_prefix}_probe")
    (tmp_path / "migrations").mkdir()
    await migrate(url, tmp_path / "migrations")
    created = await create_pool(url, size=4)
    yield created
    await created.close()


async def partition_counts(bootstrap: str) -> dict[str, int]:
    """Every contract topic the broker has, with its number of partitions."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics()) & set(all_topics())
        described = await admin.describe_topics(sorted(existing)) if existing else []
    finally:
        await admin.close()
    return {t["topic"]: len(t["partitions"]) for t in described if t["error_code"] == 0}


def consumer(pool: asyncpg.Pool, bootstrap: str, handler: Handler) -> InboxConsumer:
    return InboxConsumer(
        pool=pool,
        kafka=KafkaAccess(bootstrap),
        settings=InboxSettings(
            group_id=GROUP,
            topics=[TOPIC],
            session_timeout_ms=FAST_GROUPS["consumer_session_timeout_ms"],
            heartbeat_interval_ms=FAST_GROUPS["consumer_heartbeat_ms"],
            rebalance_timeout_ms=FAST_GROUPS["consumer_rebalance_timeout_ms"],
        ),
        handler=handler,
    )


async def test_messages_published_after_a_broker_restart_are_not_skipped(
    pool: asyncpg.Pool, tmp_path: Path
) -> None:
    kafka = EmbeddedKafka.start(tmp_path / "broker")
    bootstrap = kafka.bootstrap_servers
    try:
        await ensure_topics(KafkaAccess(bootstrap), [TOPIC])
        old = [message("old", n) for n in range(100)]
        await publish(bootstrap, old)
        batch_fetched, restarted = asyncio.Event(), asyncio.Event()
        dying = asyncio.Event()

        async def first_member(conn: Connection, m: Envelope) -> None:
            if m.correlation_id.startswith("old"):
                batch_fetched.set()
                await restarted.wait()  # still applying the old batch while the broker restarts
            else:
                dying.set()
                await asyncio.Event().wait()  # killed before it commits anything newer

        stop = asyncio.Event()
        first = asyncio.create_task(consumer(pool, bootstrap, first_member).run(stop))
        await asyncio.wait_for(batch_fetched.wait(), 30)
        port = kafka.port
        kafka.stop()
        kafka = EmbeddedKafka.start(tmp_path / "wiped", port)  # a new cluster on the port
        await ensure_topics(KafkaAccess(bootstrap), [TOPIC])
        new = [message("new", n) for n in range(10)]
        await publish(bootstrap, new)  # published after the restart: offsets 0..9 of the new log
        await eventually(lambda: group_is_stable(bootstrap), timeout=30, what="the member rejoined")
        restarted.set()
        await asyncio.wait_for(dying.wait(), 30)
        first.cancel()  # the member dies before it commits anything newer
        with contextlib.suppress(asyncio.CancelledError):
            await first
        later = [message("later", n) for n in range(150)]
        await publish(bootstrap, later)

        async def record(conn: Connection, m: Envelope) -> None:
            return None

        second = asyncio.create_task(consumer(pool, bootstrap, record).run(stop))
        try:

            async def applied() -> tuple[int, int]:
                """(new messages applied, later ones applied): (0, n) is the skip."""
                async with pool.acquire() as conn:
                    counts = [
                        await conn.fetchval(
                            "SELECT count(*) FROM inbox WHERE event_id = ANY($1::uuid[])",
                            [m.event_id for m in phase],
                        )
                        for phase in (new, later)
                    ]
                return counts[0], counts[1]

            await eventually(
                applied,
                until=lambda counts: counts[0] == len(new) and counts[1] == len(later),
                timeout=10,
                what="every message published after the restart applied (new, later)",
            )
        finally:
            stop.set()
            await asyncio.wait_for(second, 15)
    finally:
        kafka.stop()


async def test_a_consumer_reads_a_broker_that_lost_its_log_from_the_beginning_in_order(
    pool: asyncpg.Pool, tmp_path: Path
) -> None:
    """The consumer's positions (100 in the old log) must not be used in the new one: reading
    on from 100 would apply the re-published messages out of order (100.. before 0..99)."""
    kafka = EmbeddedKafka.start(tmp_path / "broker")
    bootstrap = kafka.bootstrap_servers
    applied: list[str] = []

    async def record(conn: Connection, m: Envelope) -> None:
        applied.append(m.correlation_id)

    async def count() -> int:
        return len(applied)

    stop = asyncio.Event()
    running = asyncio.create_task(consumer(pool, bootstrap, record).run(stop))
    try:
        await ensure_topics(KafkaAccess(bootstrap), [TOPIC])
        await publish(bootstrap, [message("old", n) for n in range(100)])
        await eventually(count, until=lambda n: n == 100, what="the old log")
        port = kafka.port
        kafka.stop()
        kafka = EmbeddedKafka.start(tmp_path / "wiped", port)  # a new cluster on the port
        await ensure_topics(KafkaAccess(bootstrap), [TOPIC])
        new = [message("new", n) for n in range(150)]
        await publish(bootstrap, new)
        await eventually(count, until=lambda n: n == 250, timeout=30, what="the new log")
        assert applied[100:] == [m.correlation_id for m in new]
    finally:
        stop.set()
        await asyncio.wait_for(running, 15)
        kafka.stop()


async def test_a_new_cluster_gets_the_contract_topics_and_the_republished_history(
    settings_factory: Callable[..., Any], tmp_path: Path
) -> None:
    """Nobody re-creates the topics here (a broker that lost its log under a running system):
    the service's relay gives the new cluster the contract's topics before it publishes, and
    the operator's `outbox republish` puts what was published before on it again."""
    kafka = EmbeddedKafka.start(tmp_path / "broker")
    bootstrap = kafka.bootstrap_servers
    settings = settings_factory(CommonSettings, KAFKA_BOOTSTRAP_SERVERS=bootstrap)
    (tmp_path / "migrations").mkdir()
    applied: list[str] = []

    async def record(conn: Connection, m: Envelope) -> None:
        applied.append(m.correlation_id)

    async def applied_so_far() -> list[str]:
        return applied

    async def build(runtime: ServiceRuntime[Any]) -> None:
        runtime.consume([t.value for t in Topic], record)

    async def published(runtime: ServiceRuntime[Any], m: Envelope) -> None:
        async with runtime.pool.acquire() as conn, conn.transaction():
            await enqueue(conn, m)
        await eventually(
            applied_so_far, until=lambda ids: m.correlation_id in ids, what=m.correlation_id
        )

    try:
        async with running_service("probe", settings, tmp_path / "migrations", build) as runtime:
            await published(runtime, message("before", 0))
            port = kafka.port
            kafka.stop()
            kafka = EmbeddedKafka.start(tmp_path / "wiped", port)  # a new cluster on the port
            await published(runtime, message("after", 0))  # the system runs again
            counts = await partition_counts(bootstrap)
            operator = await connect(runtime.database_url)
            try:
                assert await republish_all(operator) == 2  # `cryptoorch outbox republish`
            finally:
                await operator.close()

            async def history() -> list[str]:
                return [
                    json.loads(r.value or b"")["correlation_id"]
                    for r in await read_topic(bootstrap, TOPIC)
                ]

            await eventually(
                history,
                until=lambda ids: ids.count("before-0") == 1 and "after-0" in ids,
                what="the history before the loss on the new cluster",
            )
    finally:
        kafka.stop()

    expected = {t.value: PARTITIONS for t in Topic} | {t.dlq: 1 for t in Topic}
    assert counts == expected
