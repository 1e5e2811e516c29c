"""Losing a broker of a 3-node cluster loses nothing and needs nobody to re-publish.

The five services run as real processes on a 3-node Apache Kafka cluster of the module's own
(topics RF 3, `min.insync.replicas=2`, as `cryptoorch up --brokers 3` runs them) while the
seeded order load of tests/chaos/test_chaos.py runs. The test kill -9's the node that leads the
most partitions, starts it again on its folder and ports, waits until every replica is back
in sync, then kills another node (never the one just killed) and starts it again; a long run
(`CHAOS_SECONDS`, `make chaos`) goes on alternating. Then `cryptoorch check` decides: every
request terminal, nothing lost or doubled, the audit chain verifies, and all of it without
`cryptoorch outbox republish`: every message an outbox marked published is on the cluster's
log, and no consumer or relay ever saw a new cluster.

It prints the longest accept → filled of a market order accepted while a node was down or
catching up (a failover window), beside the longest of the whole run. No timing is asserted.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import httpx
import pytest

from cryptoorch.check import check_system
from cryptoorch.check_cmd import print_report
from shared.contracts import Topic
from shared.infra.kafka_cluster import EmbeddedKafkaCluster
from shared.infra.resolve import Infrastructure
from shared.kafka import ensure_topics, make_producer
from shared.settings import database_url_for
from tests.conftest import FAST_GROUPS
from tests.support.chaos import CHECKPOINT_OFTEN, Monkey, end_offsets
from tests.support.client import ApiUser, create_admin
from tests.support.cluster import cluster_env, cluster_of, open_to_services, services_env
from tests.support.load import Load, price_feed
from tests.support.system import SERVICES, System, system_env
from tests.support.topics import read_topic
from tests.support.waiting import eventually

CHAOS_SECONDS = float(os.environ.get("CHAOS_SECONDS", "10"))
"""How long the load runs (at least as long as the failovers take); `make chaos` sets 600."""
pytestmark = [pytest.mark.chaos, pytest.mark.timeout(int(CHAOS_SECONDS) + 300)]
DOWN_FOR = (0.5, 1.5) if CHAOS_SECONDS < 120 else (3.0, 10.0)
"""Seconds a killed node stays down before it starts again (then its JVM start and log
recovery take a few seconds more): its partitions' leaders move to the others meanwhile."""
GROUP_TIMING = {f"CRYPTOORCH_{name.upper()}" for name in FAST_GROUPS}
"""Left at the services' defaults (6 s sessions): no service is killed here, and with the
tests' 3 s a member's session expired while its group's coordinator moved to another node
(the dead one is fenced after 3 s), so every group rebalanced on each failover."""
NEW_CLUSTER_SEEN = "is a new cluster"
"""What the inbox and the outbox relay log when the broker lost its log (shared/kafka.py,
shared/inbox.py): never on a cluster that lost a node."""


@dataclass
class Window:
    """One failover: from the kill until the node is back and every replica in sync."""

    node: int
    led: int
    """Partitions it led when it was killed."""
    killed_at: datetime
    back_at: datetime | None = None


@dataclass
class Failover:
    seed: int
    system: System
    cluster: EmbeddedKafkaCluster
    admin: ApiUser
    windows: list[Window] = field(default_factory=list)

    def database_url(self, service: str) -> str:
        env = self.system.env
        return database_url_for(env["DATABASE_URL"], f"{env['CRYPTOORCH_DB_PREFIX']}_{service}")


@pytest.fixture
async def failover(
    service_env: dict[str, str], kafka_cluster: Infrastructure, tmp_path: Path
) -> AsyncIterator[Failover]:
    seed = int(os.environ.get("CHAOS_SEED") or random.SystemRandom().randrange(1, 1_000_000))
    print(f"\nfailover run: CHAOS_SEED={seed} CHAOS_SECONDS={CHAOS_SECONDS:.0f}")
    services = {k: v for k, v in service_env.items() if k not in GROUP_TIMING}
    base = {
        **services,
        **cluster_env(kafka_cluster),
        **CHECKPOINT_OFTEN,
        "CRYPTOORCH_PAPER_SEED": str(seed),
    }
    env = system_env(base, tmp_path)
    await open_to_services(kafka_cluster, env["CRYPTOORCH_DB_PREFIX"])
    system = System(
        env,
        tmp_path / "logs",
        f"http://127.0.0.1:{env['CRYPTOORCH_GATEWAY_PORT']}",
        per_service_env=services_env(kafka_cluster),
    )
    admin: ApiUser | None = None
    try:
        for name in SERVICES:
            system.start(name)
        system.wait_healthy()
        create_admin(env, "failover-ops@example.com", "failover operator password")
        admin = await ApiUser(
            system.gateway_url, "failover-ops@example.com", "failover operator password"
        ).login()
        yield Failover(seed, system, cluster_of(kafka_cluster), admin)
    except BaseException:
        print(f"failover run failed: CHAOS_SEED={seed}\n" + system.logs(*SERVICES, lines=40))
        raise
    finally:
        if admin is not None:
            await admin.close()
        system.stop()


async def fail_over(run: Failover, rng: random.Random, monkey: Monkey) -> None:
    """kill -9 the node leading the most partitions (never the one killed last), start it
    again, wait until every replica is in sync; twice, and on until `CHAOS_SECONDS` passed."""
    cluster, last = run.cluster, None
    until = time.monotonic() + CHAOS_SECONDS
    await asyncio.sleep(rng.uniform(1, 2))  # orders in flight before the first kill
    while len(run.windows) < 2 or time.monotonic() < until:
        before = await end_offsets(cluster.admin_access())
        counts = await cluster.leader_counts()
        node = max((n for n in counts if n != last), key=lambda n: counts[n])
        cluster.kill(node)
        window = Window(node, counts[node], datetime.now(UTC))
        run.windows.append(window)
        monkey.note(f"kill -9 broker node {node} (it led {counts[node]} partitions: {counts})")
        await asyncio.sleep(rng.uniform(*DOWN_FOR))
        await cluster.restart(node, wait=False).until_ready()
        monkey.note(f"broker node {node} started again")
        await cluster.until_fully_replicated()
        window.back_at = datetime.now(UTC)
        monkey.note(f"every replica in sync again; leaders {await cluster.leader_counts()}")
        after = await end_offsets(cluster.admin_access())
        lost = {tp: n for tp, n in before.items() if after.get(tp, 0) < n}
        assert not lost, f"the cluster lost acknowledged messages: {lost}"
        last = node
        await asyncio.sleep(rng.uniform(0.5, 2))


async def fills(run: Failover) -> list[tuple[datetime, timedelta, str]]:
    """(accepted at, accept → filled, order id) of every filled market order (a limit order
    may rest)."""
    conn = await asyncpg.connect(run.database_url("gateway"))
    try:
        rows = await conn.fetch(
            "SELECT order_id, created_at, updated_at FROM orders "
            "WHERE status = 'filled' AND type = 'market'"
        )
    finally:
        await conn.close()
    return [(r["created_at"], r["updated_at"] - r["created_at"], r["order_id"]) for r in rows]


async def hops(run: Failover, order_id: str) -> list[str]:
    """Where an order's time went: each message of it committed to an outbox, published,
    and applied by each consumer, in time order (relative to the first)."""
    conns = {name: await asyncpg.connect(run.database_url(name)) for name in SERVICES}
    events: list[tuple[datetime, str]] = []
    try:
        for service, conn in conns.items():
            for row in await conn.fetch(
                "SELECT event_id, topic, created_at, published_at, "
                "convert_from(value, 'UTF8')::jsonb ->> 'type' AS type FROM outbox "
                "WHERE convert_from(value, 'UTF8')::jsonb ->> 'correlation_id' = $1 "
                "AND topic NOT LIKE '%.dlq'",
                order_id,
            ):
                what = f"{row['type']} ({row['topic']})"
                events.append((row["created_at"], f"{service} commits {what}"))
                if row["published_at"] is not None:
                    events.append((row["published_at"], f"{service} relay published {what}"))
                for other, other_conn in conns.items():
                    applied = await other_conn.fetchval(
                        "SELECT processed_at FROM inbox WHERE event_id = $1", row["event_id"]
                    )
                    if applied is not None:
                        events.append((applied, f"{other} applied {row['type']}"))
    finally:
        for conn in conns.values():
            await conn.close()
    events.sort()
    start = events[0][0] if events else datetime.now(UTC)
    return [f"    +{(at - start).total_seconds() * 1000:7.0f} ms {what}" for at, what in events]


def stall_report(windows: list[Window], filled: list[tuple[datetime, timedelta, str]]) -> list[str]:
    def longest(within: list[timedelta]) -> str:
        return f"{max(within).total_seconds() * 1000:.0f} ms" if within else "-"

    def in_flight_during_a_failover(at: datetime, took: timedelta) -> bool:
        return any(
            at <= (w.back_at or datetime.now(UTC)) and at + took >= w.killed_at for w in windows
        )

    calm = [d for at, d, _ in filled if not in_flight_during_a_failover(at, d)]
    lines = [
        f"accept → filled (market orders): longest {longest([d for _, d, _ in filled])} of "
        f"{len(filled)} in the whole run; {longest(calm)} of {len(calm)} never in flight "
        "during a failover"
    ]
    for w in windows:
        end = w.back_at or datetime.now(UTC)
        during = [d for at, d, _ in filled if w.killed_at <= at <= end]
        lines.append(
            f"  failover of node {w.node} (led {w.led} partitions; down and catching up "
            f"{(end - w.killed_at).total_seconds():.1f} s): longest {longest(during)} "
            f"of {len(during)} accepted meanwhile"
        )
    return lines


async def unpublished_on_the_log(run: Failover) -> dict[str, int]:
    """Per topic, how many messages an outbox marked published are not on the cluster's log
    (a republish would be needed for them); duplicates on the log are counted apart."""
    published: dict[str, set[str]] = {}
    for service in SERVICES:
        conn = await asyncpg.connect(run.database_url(service))
        try:
            for row in await conn.fetch(
                "SELECT topic, event_id::text AS event_id FROM outbox "
                "WHERE published_at IS NOT NULL AND topic NOT LIKE '%.dlq'"
            ):
                published.setdefault(row["topic"], set()).add(row["event_id"])
        finally:
            await conn.close()
    missing: dict[str, int] = {}
    for topic in sorted(published):
        on_log = {
            json.loads(r.value or b"{}").get("event_id")
            for r in await read_topic(run.cluster.admin_access(), topic)
        }
        if gone := published[topic] - on_log:
            missing[topic] = len(gone)
    return missing


async def the_console_reads_the_secured_cluster(run: Failover) -> None:
    """The gateway runs as its own principal: its System view reads every group's lag (Describe
    on the groups) and its Dead letters view every `.dlq` (Read), nothing refused."""

    async def system_view() -> httpx.Response:
        return await run.admin.http.get("/v1/admin/system")

    view = await eventually(
        system_view,
        until=lambda r: r.status_code == 200 and r.json()["broker_error"] is None,
        what="the console's System view reads the secured cluster",
    )
    assert {s["name"]: s["state"] for s in view.json()["services"]} == dict.fromkeys(SERVICES, "up")
    letters = await run.admin.http.get("/v1/admin/dead-letters")
    assert letters.status_code == 200, letters.text


def new_cluster_seen(system: System) -> list[str]:
    return [
        f"{name}: {line}"
        for name in SERVICES
        if (system.log_dir / f"{name}.log").exists()
        for line in (system.log_dir / f"{name}.log").read_text(errors="replace").splitlines()
        if NEW_CLUSTER_SEEN in line
    ]


async def test_losing_a_broker_loses_nothing_and_needs_no_republish(failover: Failover) -> None:
    started = time.monotonic()
    rng = random.Random(failover.seed)
    load = Load(
        failover.system.gateway_url,
        failover.admin,
        price_feed(failover.database_url("execution")),
        failover.seed,
    )
    monkey = Monkey(failover.system, {name: name for name in SERVICES})
    filled: list[tuple[datetime, timedelta, str]] = []
    slowest: list[str] = []
    try:
        await load.add_traders(3)
        monkey.note("traders funded: the load starts")
        watching = asyncio.Event()
        watcher = asyncio.create_task(monkey.watch(watching))
        failing = asyncio.create_task(fail_over(failover, rng, monkey))
        await load.run(CHAOS_SECONDS)
        while not failing.done():  # the load goes on until the last node is back in sync
            await load.run(3)
        await failing
        monkey.note("the load ends")
        left = await load.cancel_everything_open()
        report = await check_system(
            {name: failover.database_url(name) for name in SERVICES},
            drain_seconds=90,
            checkpoint_file=Path(failover.system.env["CRYPTOORCH_AUDIT_CHECKPOINT_FILE"]),
        )
        watching.set()
        await watcher
        missing = await unpublished_on_the_log(failover)
        await the_console_reads_the_secured_cluster(failover)
        filled = await fills(failover)
        if filled:
            _, took, order_id = max(filled, key=lambda f: f[1])
            slowest = [f"the slowest, {order_id} ({took.total_seconds() * 1000:.0f} ms):"]
            slowest += await hops(failover, order_id)
    finally:
        print(f"failover run: CHAOS_SEED={failover.seed}, {time.monotonic() - started:.0f}s")
        print("\n".join(monkey.events))
        print(f"load: {dict(sorted(load.stats.items()))}")
        print("\n".join(stall_report(failover.windows, filled) + slowest))
        await load.close()
    print_report(report)
    assert len(failover.windows) >= 2
    assert len({w.node for w in failover.windows}) >= 2, "the same node was killed every time"
    assert not monkey.unexpected_exits, "\n".join(monkey.unexpected_exits)
    assert not monkey.known_crashes, monkey.known_crashes
    assert not load.idempotency_violations, load.idempotency_violations
    assert report.ok, f"CHAOS_SEED={failover.seed}, {len(left)} orders open:\n" + (
        "\n".join(report.violations[:30])
    )
    assert not missing, f"published messages the cluster does not have (a republish): {missing}"
    assert not new_cluster_seen(failover.system), new_cluster_seen(failover.system)
    assert report.counts["venue_trades"] > 0 and filled, "the run proved nothing about orders"


async def test_the_cluster_started_again_on_its_folder_is_the_same_cluster(
    kafka_cluster: Infrastructure,
) -> None:
    """`cryptoorch up --brokers 3` killed (every node at once) and started again: the same
    cluster id, on the same ports, with every message it had acknowledged."""
    cluster = cluster_of(kafka_cluster)
    await ensure_topics(cluster.admin_access(), replication_factor=3, min_insync_replicas=2)
    producer = make_producer(cluster.admin_access())
    await producer.start()
    try:
        for n in range(10):
            await producer.send_and_wait(Topic.ORDER_COMMANDS.value, b"kept", key=b"%d" % n)
    finally:
        await producer.stop()
    before = await end_offsets(cluster.admin_access())
    for node in cluster.running():
        cluster.kill(node)
    again = EmbeddedKafkaCluster.start(
        cluster.folder, len(cluster.ports), log_dir=cluster.log_dir, security=cluster.security
    )
    try:
        assert (again.cluster_id, again.bootstrap_servers) == (
            cluster.cluster_id,
            cluster.bootstrap_servers,
        )
        await eventually(
            lambda: end_offsets(again.admin_access()),
            until=lambda after: after == before,
            timeout=60,
            interval=0.5,
            what="every partition back with the messages it had",
        )
    finally:
        for node in again.running():
            again.kill(node)
