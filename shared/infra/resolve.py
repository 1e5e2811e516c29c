"""Choose where Kafka and PostgreSQL come from, each on its own.

Order: an address in the environment (someone runs the real thing), then
testcontainers when the caller allows it and Docker answers (tests), then the
embedded part (a fresh machine with nothing configured). `brokers=3` makes the embedded
Kafka a cluster of 3 nodes (`kafka-cluster/`) instead of one (`kafka/`); containers give
one broker only, so a cluster is always embedded.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from shared.infra.containers import docker_available, start_containers
from shared.infra.kafka import EmbeddedKafka
from shared.infra.kafka_cluster import EmbeddedKafkaCluster
from shared.infra.kafka_config import broker_settings
from shared.infra.kafka_security import ADMIN, BrokerSecurity
from shared.infra.postgres import EmbeddedPostgres
from shared.kafka_access import KafkaAccess

KAFKA_ENV = "KAFKA_BOOTSTRAP_SERVERS"
DATABASE_ENV = "DATABASE_URL"


@dataclass
class Infrastructure:
    """Where to connect, and what this process started (stopped in reverse order)."""

    kafka_bootstrap_servers: str
    database_url: str
    kafka_source: str = "env"
    database_source: str = "env"
    kafka_replication_factor: int = 1
    """What topics should have on this broker (3 on an embedded cluster of 3)."""
    kafka_min_insync_replicas: int = 1
    kafka_cluster: EmbeddedKafkaCluster | None = None
    """The embedded cluster, when `provide(brokers > 1)` started one (tests kill its nodes)."""
    kafka_security: BrokerSecurity | None = None
    """Its principals' passwords: an embedded cluster is secured (SASL/SCRAM and ACLs)."""
    _stops: list[Callable[[], None]] = field(default_factory=list, repr=False)

    @property
    def kafka_access(self) -> KafkaAccess:
        """The broker for a client of this process: PLAINTEXT (the embedded broker's default),
        or `admin` on a secured cluster (the services get their own principals)."""
        if self.kafka_security is None:
            return KafkaAccess(self.kafka_bootstrap_servers)
        return self.kafka_security.access(self.kafka_bootstrap_servers, ADMIN)

    def service_env(self, service: str) -> dict[str, str]:
        """The environment that makes `service` connect as itself (nothing when unsecured)."""
        return {} if self.kafka_security is None else self.kafka_security.client_env(service)

    def stop(self) -> None:
        while self._stops:
            self._stops.pop()()

    def __enter__(self) -> Infrastructure:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def provide(
    data_dir: Path,
    *,
    durable: bool,
    allow_containers: bool,
    environ: Mapping[str, str] | None = None,
    kafka_port: int | None = None,
    postgres_port: int | None = None,
    brokers: int = 1,
) -> Infrastructure:
    """Resolve both parts; embedded state lives under ``data_dir`` (``kafka/`` or, with
    ``brokers`` > 1, ``kafka-cluster/``; ``pg/``, ``logs/``)."""
    env = os.environ if environ is None else environ
    kafka_url, database_url = env.get(KAFKA_ENV) or None, env.get(DATABASE_ENV) or None
    infra = Infrastructure("", "")
    try:
        kafka_container = kafka_url is None and brokers == 1
        missing = kafka_container or database_url is None
        if missing and allow_containers and docker_available():
            containers = start_containers(kafka=kafka_container, postgres=database_url is None)
            infra._stops.append(containers.stop)
            if kafka_container:
                kafka_url, infra.kafka_source = containers.kafka_bootstrap_servers, "container"
            if database_url is None:
                database_url, infra.database_source = containers.database_url, "container"
        if kafka_url is None and brokers > 1:
            security = BrokerSecurity.load_or_create(data_dir / "kafka-cluster")
            cluster = EmbeddedKafkaCluster.start(
                data_dir / "kafka-cluster", brokers, log_dir=data_dir / "logs", security=security
            )
            infra.kafka_security = security
            infra._stops.append(cluster.stop)
            kafka_url, infra.kafka_source = cluster.bootstrap_servers, "embedded"
            settings = broker_settings(brokers)
            infra.kafka_replication_factor = int(settings["default.replication.factor"])
            infra.kafka_min_insync_replicas = int(settings["min.insync.replicas"])
            infra.kafka_cluster = cluster
        if kafka_url is None:
            kafka = EmbeddedKafka.start(
                data_dir / "kafka", kafka_port, log_path=data_dir / "logs" / "kafka.log"
            )
            infra._stops.append(kafka.stop)
            kafka_url, infra.kafka_source = kafka.bootstrap_servers, "embedded"
        if database_url is None:
            pg = EmbeddedPostgres.start(
                data_dir / "pg", data_dir / "logs", durable=durable, port=postgres_port
            )
            infra._stops.append(pg.stop)
            database_url, infra.database_source = pg.url, "embedded"
    except BaseException:
        infra.stop()
        raise
    infra.kafka_bootstrap_servers, infra.database_url = kafka_url, database_url
    return infra
