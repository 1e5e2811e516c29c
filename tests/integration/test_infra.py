"""The embedded broker and PostgreSQL start from nothing, work, and never outlive us."""

from __future__ import annotations

import asyncio
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import asyncpg
import psutil
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from shared.infra import (
    EmbeddedKafka,
    EmbeddedPostgres,
    docker_available,
    provide,
)
from shared.kafka import ensure_topics
from shared.kafka_access import KafkaAccess

pytestmark = pytest.mark.integration

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def data_dir() -> Iterator[Path]:
    """A scratch dir directly under /tmp, not pytest's ``tmp_path``.

    As root the server runs as an unprivileged user that must traverse every
    parent of its data dir, and each new pytest session resets
    /tmp/pytest-of-root to 0700: a concurrent session would break a start.
    """
    path = Path(tempfile.mkdtemp(prefix="cryptoorch-infra-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def wait_for(condition: Callable[[], bool], *, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not {what} within {timeout} s")
        time.sleep(0.05)


def is_gone(pid: int) -> bool:
    """Dead or a zombie nobody reaped yet (a container's pid 1 may not reap)."""
    try:
        return bool(psutil.Process(pid).status() == psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return True


async def round_trip(bootstrap_servers: str, topic: str) -> bytes | None:
    # no client makes the broker create one
    await ensure_topics(KafkaAccess(bootstrap_servers), [topic])
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap_servers)
    await producer.start()
    try:
        await producer.send_and_wait(topic, b"hello", key=b"account-1")
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap_servers, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        message = await asyncio.wait_for(consumer.getone(), timeout=20)
    finally:
        await consumer.stop()
    value: bytes | None = message.value
    return value


async def select_one(url: str) -> int:
    connection = await asyncpg.connect(url)
    try:
        value: int = await connection.fetchval("SELECT 1")
        return value
    finally:
        await connection.close()


async def read_all(bootstrap_servers: str, topic: str) -> list[bytes]:
    """Every value on `topic` from the beginning, with a consumer group of its own."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap_servers,
        group_id=f"infra-{time.monotonic_ns()}",
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        values: list[bytes] = []
        deadline = time.monotonic() + 20
        while not values and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=500)
            values += [r.value or b"" for records in batch.values() for r in records]
    finally:
        await consumer.stop()
    return values


async def test_embedded_kafka_keeps_topics_and_messages_across_a_restart_on_its_port(
    data_dir: Path,
) -> None:
    kafka = EmbeddedKafka.start(data_dir)
    with kafka:
        assert await round_trip(kafka.bootstrap_servers, "infra-probe") == b"hello"
    assert is_gone(kafka.pid)

    with EmbeddedKafka.start(data_dir) as again:  # the folder's cluster, on its port
        assert again.bootstrap_servers == kafka.bootstrap_servers
        assert again.cluster_id == kafka.cluster_id
        assert await read_all(again.bootstrap_servers, "infra-probe") == [b"hello"]
        again.kill()  # a crash: the log is recovered on the next start
    with EmbeddedKafka.start(data_dir) as third:
        assert await read_all(third.bootstrap_servers, "infra-probe") == [b"hello"]
    assert is_gone(third.pid)
    assert "Kafka Server started" in (data_dir / "kafka.log").read_text()


async def test_embedded_postgres_keeps_data_across_a_restart(data_dir: Path) -> None:
    pgdata, logs = data_dir / "pg", data_dir / "logs"
    with EmbeddedPostgres.start(pgdata, logs, durable=True) as first:
        assert await select_one(first.url) == 1
        connection = await asyncpg.connect(first.url)
        await connection.execute("CREATE TABLE kept (value text); INSERT INTO kept VALUES ('x')")
        await connection.close()
    assert is_gone(first.pid)

    with EmbeddedPostgres.start(pgdata, logs, durable=True) as second:
        connection = await asyncpg.connect(second.url)
        assert await connection.fetchval("SELECT value FROM kept") == "x"
        await connection.close()
    assert is_gone(second.pid)


async def test_a_left_over_server_on_the_data_dir_is_stopped_before_start(
    data_dir: Path,
) -> None:
    pgdata = data_dir / "pg"
    orphan = EmbeddedPostgres.start(pgdata, data_dir, durable=False)
    try:
        with EmbeddedPostgres.start(pgdata, data_dir, durable=False) as server:
            assert is_gone(orphan.pid)
            assert await select_one(server.url) == 1
    finally:
        orphan.stop()


def test_lock_files_of_a_killed_server_do_not_block_a_start(data_dir: Path) -> None:
    pgdata = data_dir / "pg"
    killed = EmbeddedPostgres.start(pgdata, data_dir, durable=False)
    os.kill(killed.pid, signal.SIGKILL)
    killed.stop()
    lock = pgdata / "postmaster.pid"
    lines = lock.read_text().splitlines()
    with EmbeddedPostgres.start(pgdata, data_dir, durable=False):
        pass  # its dead pid in the lock, and backends still exiting

    sleeper = subprocess.Popen(["sleep", "60"])  # a live process in the lock: a reused pid
    try:
        lock.write_text("\n".join([str(sleeper.pid), *lines[1:]]) + "\n")
        with EmbeddedPostgres.start(pgdata, data_dir, durable=False):
            assert not is_gone(sleeper.pid)
    finally:
        sleeper.kill()
        sleeper.wait()


CHILD = """
import sys
import tempfile
from pathlib import Path
from shared.infra import EmbeddedKafka, EmbeddedPostgres
root = Path(sys.argv[1])
kafka = EmbeddedKafka.start(root / "kafka")
postgres = EmbeddedPostgres.start(root / "pg", root, durable=False)
print(kafka.pid, postgres.pid, flush=True)
sys.stdin.read()
"""


def read_line(process: subprocess.Popen[str], timeout: float) -> str:
    assert process.stdout is not None
    ready, _, _ = select.select([process.stdout], [], [], timeout)
    if not ready:
        raise AssertionError(f"child printed nothing within {timeout} s")
    return process.stdout.readline()


def test_children_die_when_the_parent_is_sigkilled(data_dir: Path) -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(data_dir)],
        cwd=REPO_ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        line = read_line(child, timeout=60)
        assert line, f"child exited with {child.wait()}"
        kafka_pid, postgres_pid = (int(pid) for pid in line.split())
        assert not is_gone(kafka_pid) and not is_gone(postgres_pid)
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait()

    wait_for(lambda: is_gone(kafka_pid), timeout=40, what="kafka gone")
    wait_for(lambda: is_gone(postgres_pid), timeout=30, what="postgres gone")
    # the data dir is usable again: start() returns only once connections are accepted
    with EmbeddedPostgres.start(data_dir / "pg", data_dir, durable=False):
        pass


def test_provide_takes_addresses_from_the_environment(data_dir: Path) -> None:
    environ = {"KAFKA_BOOTSTRAP_SERVERS": "kafka:9092", "DATABASE_URL": "postgresql://db/x"}
    with provide(data_dir, durable=False, allow_containers=True, environ=environ) as infra:
        assert infra.kafka_bootstrap_servers == "kafka:9092"
        assert infra.database_url == "postgresql://db/x"
        assert (infra.kafka_source, infra.database_source) == ("env", "env")
    assert not (data_dir / "pg").exists()


async def test_provide_starts_embedded_parts_when_nothing_is_configured(data_dir: Path) -> None:
    environ = {"DATABASE_URL": "postgresql://elsewhere/x"}
    with provide(data_dir, durable=False, allow_containers=False, environ=environ) as infra:
        assert infra.kafka_source == "embedded"
        assert infra.database_url == "postgresql://elsewhere/x"
        assert await round_trip(infra.kafka_bootstrap_servers, "provided") == b"hello"

    with provide(data_dir, durable=False, allow_containers=False, environ={}) as infra:
        assert (infra.kafka_source, infra.database_source) == ("embedded", "embedded")
        assert await select_one(infra.database_url) == 1


async def test_provide_uses_testcontainers_when_docker_answers(data_dir: Path) -> None:
    if not docker_available():
        pytest.skip("no Docker engine answers: testcontainers path not exercised")
    with provide(data_dir, durable=False, allow_containers=True, environ={}) as infra:
        assert (infra.kafka_source, infra.database_source) == ("container", "container")
        assert await round_trip(infra.kafka_bootstrap_servers, "contained") == b"hello"
        assert await select_one(infra.database_url) == 1
