"""Fixtures shared by every test: the real broker and PostgreSQL, started once per run.

With nothing configured they are the embedded Apache Kafka broker and embedded
PostgreSQL; with a Docker engine, testcontainers; `KAFKA_BOOTSTRAP_SERVERS` /
`DATABASE_URL` point the suite at running ones. Each test gets its own database
prefix (so its own five databases) and its own consumer groups.
"""

from __future__ import annotations

import asyncio
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from aiokafka.admin import AIOKafkaAdminClient

from shared.infra.resolve import Infrastructure, provide
from shared.settings import CommonSettings
from tests.support.cluster import running_cluster

S = TypeVar("S", bound=CommonSettings)
FAST_GROUPS = {
    "consumer_session_timeout_ms": 3000,
    "consumer_heartbeat_ms": 300,
    "consumer_rebalance_timeout_ms": 2000,
}
"""Consumer-group timing for tests: a killed member's partitions move in ~3 s, not 6."""


@pytest.fixture(scope="session")
def session_infra() -> Iterator[Infrastructure]:
    with tempfile.TemporaryDirectory(prefix="cryptoorch-test-") as folder:
        infrastructure = provide(Path(folder), durable=False, allow_containers=True)
        try:
            yield infrastructure
        finally:
            infrastructure.stop()


@pytest.fixture(scope="module")
def kafka_cluster(
    session_infra: Infrastructure, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Infrastructure]:
    """A 3-node Kafka cluster of the module's own (`infra.kafka_cluster`: kill and restart
    its nodes) with the run's PostgreSQL. Only the failover tests ask for it."""
    with running_cluster(tmp_path_factory.mktemp("cluster"), session_infra.database_url) as cluster:
        yield cluster


@pytest.fixture(scope="module")
def infra(session_infra: Infrastructure) -> Infrastructure:
    """The run's broker and PostgreSQL; on the embedded broker, emptied of topics first.

    A new consumer group reads its topics from the beginning: on a broker shared by the
    whole run, every service started by a later test module would first wade through what
    all earlier ones published. Deleting the topics (the services create them again, as the
    contract has them) costs a fraction of a second; a broker per module costs seconds.
    A broker someone else runs is never emptied.
    """
    if session_infra.kafka_source == "embedded":
        asyncio.run(delete_topics(session_infra.kafka_bootstrap_servers))
    return session_infra


async def delete_topics(bootstrap_servers: str, wait_seconds: float = 30.0) -> None:
    """Delete every topic but the broker's own (`__consumer_offsets`...) and wait until gone."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await admin.start()
    try:
        deadline = asyncio.get_running_loop().time() + wait_seconds
        while ours := [t for t in await admin.list_topics() if not t.startswith("__")]:
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"topics still there after {wait_seconds:.0f} s: {ours}")
            await admin.delete_topics(ours)
            await asyncio.sleep(0.05)
    finally:
        await admin.close()


@pytest.fixture
def db_prefix() -> str:
    return "t" + uuid.uuid4().hex[:12]


@pytest.fixture
def settings_factory(infra: Infrastructure, db_prefix: str) -> Callable[..., Any]:
    """`settings_factory(LedgerSettings, consumer_batch_size=50)` → settings on the test's infra."""

    def make(cls: type[S] = CommonSettings, **overrides: Any) -> S:  # type: ignore[assignment]
        values: dict[str, Any] = {
            "KAFKA_BOOTSTRAP_SERVERS": infra.kafka_bootstrap_servers,
            "DATABASE_URL": infra.database_url,
            "db_prefix": db_prefix,
            "relay_poll_seconds": 0.2,
            **FAST_GROUPS,
        }
        values.update(overrides)
        return cls(**values)

    return make


@pytest.fixture
def service_env(infra: Infrastructure, db_prefix: str) -> dict[str, str]:
    """Environment for services run as real processes in this test."""
    return {
        "KAFKA_BOOTSTRAP_SERVERS": infra.kafka_bootstrap_servers,
        "DATABASE_URL": infra.database_url,
        "CRYPTOORCH_DB_PREFIX": db_prefix,
        "CRYPTOORCH_RELAY_POLL_SECONDS": "0.2",
        **{f"CRYPTOORCH_{k.upper()}": str(v) for k, v in FAST_GROUPS.items()},
    }
