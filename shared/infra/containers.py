"""The testcontainers path: real Apache Kafka and PostgreSQL images, when Docker answers.

Imports stay inside the functions so a machine without Docker never pays for
them (or for their deprecation warnings).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

KAFKA_IMAGE = "confluentinc/cp-kafka:7.6.0"
POSTGRES_IMAGE = "postgres:17-alpine"


def docker_available(timeout: float = 2.0) -> bool:
    """True if a Docker engine answers a ping within ``timeout`` seconds."""
    try:
        import docker  # type: ignore[import-untyped]

        client = docker.from_env(timeout=timeout)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except Exception:
        return False


@dataclass
class Containers:
    """Addresses of the started containers (``None`` for one not asked for)."""

    kafka_bootstrap_servers: str | None = None
    database_url: str | None = None
    _stops: list[Callable[[], object]] = field(default_factory=list, repr=False)

    def stop(self) -> None:
        while self._stops:
            self._stops.pop()()


def start_containers(*, kafka: bool = True, postgres: bool = True) -> Containers:
    """Start the asked-for containers; on any failure stop those already started."""
    started = Containers()
    try:
        if kafka:
            from testcontainers.community.kafka import KafkaContainer

            broker = KafkaContainer(KAFKA_IMAGE).with_kraft().start()
            started._stops.append(broker.stop)
            started.kafka_bootstrap_servers = broker.get_bootstrap_server()
        if postgres:
            from testcontainers.community.postgres import PostgresContainer

            database = PostgresContainer(POSTGRES_IMAGE, driver=None).start()
            started._stops.append(database.stop)
            started.database_url = database.get_connection_url()
    except BaseException:
        started.stop()
        raise
    return started
