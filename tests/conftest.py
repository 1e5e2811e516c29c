"""Fixtures shared by every test: the real broker and PostgreSQL, started once per run.

With nothing configured they are the embedded Tansu broker and embedded
PostgreSQL; with a Docker engine, testcontainers; `KAFKA_BOOTSTRAP_SERVERS` /
`DATABASE_URL` point the suite at running ones. Each test gets its own database
prefix (so its own five databases) and its own consumer groups.
"""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

import shared.kafka  # noqa: F401  (test processes ask the broker as services do: no auto-creation)
from shared.infra.kafka import EmbeddedKafka
from shared.infra.resolve import Infrastructure, provide
from shared.settings import CommonSettings

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
def infra(session_infra: Infrastructure) -> Iterator[Infrastructure]:
    """One PostgreSQL for the run; with the embedded broker, a fresh broker per test module.

    A new consumer group reads its topics from the beginning: on a broker shared by the
    whole run, every service started by a later test would first wade through what all
    earlier tests published. Tansu starts in milliseconds, so each module gets its own.
    """
    if session_infra.kafka_source != "embedded":
        yield session_infra
        return
    with tempfile.TemporaryDirectory(prefix="cryptoorch-kafka-") as folder:
        kafka = EmbeddedKafka.start(Path(folder))
        try:
            yield Infrastructure(
                kafka.bootstrap_servers,
                session_infra.database_url,
                kafka_source="embedded",
                database_source=session_infra.database_source,
            )
        finally:
            kafka.stop()


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
