"""Start the real broker and PostgreSQL on a machine with nothing configured.

``provide`` picks, for each part on its own: the address in the environment,
testcontainers (tests, when Docker answers), or an embedded child process.
"""

from __future__ import annotations

from shared.infra.containers import Containers, docker_available, start_containers
from shared.infra.kafka import EmbeddedKafka
from shared.infra.kafka_cluster import EmbeddedKafkaCluster
from shared.infra.kafka_probe import answers_kafka
from shared.infra.postgres import EmbeddedPostgres
from shared.infra.processes import (
    ChildProcess,
    InfraStartError,
    RunAs,
    free_port,
    loopback_port,
    spawn,
)
from shared.infra.resolve import DATABASE_ENV, KAFKA_ENV, Infrastructure, provide

__all__ = [
    "DATABASE_ENV",
    "KAFKA_ENV",
    "ChildProcess",
    "Containers",
    "EmbeddedKafka",
    "EmbeddedKafkaCluster",
    "EmbeddedPostgres",
    "InfraStartError",
    "Infrastructure",
    "RunAs",
    "answers_kafka",
    "docker_available",
    "free_port",
    "loopback_port",
    "provide",
    "spawn",
    "start_containers",
]
