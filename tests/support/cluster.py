"""A 3-node Apache Kafka cluster of a test module's own, for the tests that kill brokers.

Only the failover tests use one (`kafka_cluster` in tests/conftest.py); the rest of the suite
shares the run's single broker. The cluster comes from `provide(brokers=3)`, as under
`cryptoorch up --brokers 3`, with the run's PostgreSQL: secured (SASL/SCRAM, ACLs), so the
test's clients are `admin` (`infra.kafka_access`) and each service runs as itself.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from shared.contracts.access import SERVICES
from shared.infra.kafka_acls import acl_bindings, create_acls
from shared.infra.kafka_cluster import EmbeddedKafkaCluster
from shared.infra.resolve import DATABASE_ENV, Infrastructure, provide
from shared.kafka import ensure_topics


@contextmanager
def running_cluster(folder: Path, database_url: str, nodes: int = 3) -> Iterator[Infrastructure]:
    """An embedded cluster of `nodes` in `folder` (`infra.kafka_cluster`), killed after."""
    infra = provide(
        folder,
        durable=False,
        allow_containers=False,
        environ={DATABASE_ENV: database_url},
        brokers=nodes,
    )
    try:
        yield infra
    finally:
        cluster = cluster_of(infra)
        for node in cluster.running():  # thrown away: no need for a clean shutdown
            cluster.kill(node)
        infra.stop()


def cluster_of(infra: Infrastructure) -> EmbeddedKafkaCluster:
    assert infra.kafka_cluster is not None, "provide(brokers=3) started no cluster"
    return infra.kafka_cluster


async def open_to_services(infra: Infrastructure, db_prefix: str) -> None:
    """What `cryptoorch up --brokers 3` does before it starts the services: as `admin`, the
    contract's topics (RF 3, min ISR 2), then each service's ACLs for its consumer groups
    under `db_prefix` (a service may create no topic and touch nothing else)."""
    await ensure_topics(
        infra.kafka_access,
        replication_factor=infra.kafka_replication_factor,
        min_insync_replicas=infra.kafka_min_insync_replicas,
    )
    await create_acls(infra.kafka_access, acl_bindings(db_prefix))


def services_env(infra: Infrastructure) -> dict[str, dict[str, str]]:
    """Each service's own principal on the secured cluster (`System(per_service_env=...)`)."""
    return {name: infra.service_env(name) for name in SERVICES}


def cluster_env(infra: Infrastructure) -> dict[str, str]:
    """What a service needs to run on the cluster: where it is, and topics as it holds them
    (as `cryptoorch up --brokers 3` gives its services)."""
    return {
        "KAFKA_BOOTSTRAP_SERVERS": infra.kafka_bootstrap_servers,
        "CRYPTOORCH_KAFKA_REPLICATION_FACTOR": str(infra.kafka_replication_factor),
        "CRYPTOORCH_KAFKA_MIN_INSYNC_REPLICAS": str(infra.kafka_min_insync_replicas),
    }
