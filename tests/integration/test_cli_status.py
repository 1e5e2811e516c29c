"""`cryptoorch status` as a real process against a real broker and PostgreSQL: the names the
contract promises in `--json` (`kafka_bootstrap_servers`, `kill_switches`, `services` with
`outbox_backlog`, `dead_letters`, `consumer_lag`, `consumer_lag_seconds`), lag read from the
broker (committed offset against end offset, age of the oldest record not consumed), and a
readable table."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from cryptoorch import runtime_info
from shared.contracts import Topic
from shared.kafka import ensure_topics
from shared.kafka_access import KafkaAccess
from shared.service import prepare_database
from tests.support.cli import run_cli
from tests.support.topics import producing

pytestmark = pytest.mark.integration

HOUR_MS = 3_600_000


async def publish_stamped(bootstrap: str, topic: str, timestamps_ms: list[int]) -> None:
    """One record per send (one batch each) to partition 0, with these timestamps."""
    async with producing(bootstrap) as producer:
        for n, stamp in enumerate(timestamps_ms):
            await producer.send_and_wait(
                topic, f"record {n}".encode(), partition=0, timestamp_ms=stamp
            )


async def commit(bootstrap: str, group: str, tp: TopicPartition, offset: int) -> None:
    """What a consumer of `group` does after applying the records before `offset`."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False
    )
    await consumer.start()
    try:
        consumer.assign([tp])
        await consumer.commit({tp: offset})
    finally:
        await consumer.stop()


async def test_status_reports_lag_from_the_broker_and_the_engaged_switches(
    cli_env: dict[str, str], settings_factory: Callable[..., Any], db_prefix: str
) -> None:
    bootstrap = cli_env["KAFKA_BOOTSTRAP_SERVERS"]
    for service in runtime_info.SERVICES:
        await prepare_database(settings_factory(), service, runtime_info.migrations_dir(service))
    await ensure_topics(KafkaAccess(bootstrap))
    engage = ("kill-switch", "engage", "--scope", "symbol", "--target", "BTC/USDT")
    assert (await run_cli(cli_env, *engage, "--reason", "venue halt")).code == 0
    for change in ("engage", "release"):
        switch = ("kill-switch", change, "--scope", "global", "--reason", "drill")
        assert (await run_cli(cli_env, *switch)).code == 0
    now_ms = int(time.time() * 1000)
    topic = Topic.WALLET_COMMANDS.value  # consumed by safety, ledger and audit
    await publish_stamped(bootstrap, topic, [now_ms - HOUR_MS, now_ms, now_ms])

    report = (await run_cli(cli_env, "status", "--json")).json()
    assert report["kafka_bootstrap_servers"] == bootstrap
    engaged = [(s["scope"], s["target"], s["reason"]) for s in report["kill_switches"]]
    assert engaged == [("symbol", "BTC/USDT", "venue halt")]
    services = report["services"]
    assert set(services) == set(runtime_info.SERVICES)
    for row in services.values():
        assert {"outbox_backlog", "dead_letters", "consumer_lag", "consumer_lag_seconds"} <= set(
            row
        )
        assert row["dead_letters"] == 0
    assert services["gateway"]["outbox_backlog"] == 3, "the switch changes wait for the relay"
    assert (services["gateway"]["consumer_lag"], services["gateway"]["consumer_lag_seconds"]) == (
        0,
        0,
    )
    for consumer in ("ledger", "safety", "audit"):
        assert services[consumer]["consumer_lag"] == 3
        assert services[consumer]["consumer_lag_seconds"] >= 3600

    await commit(bootstrap, f"{db_prefix}.ledger", TopicPartition(topic, 0), 1)
    after = (await run_cli(cli_env, "status", "--json")).json()["services"]
    assert after["ledger"]["consumer_lag"] == 2
    assert 0 <= after["ledger"]["consumer_lag_seconds"] < 3600
    assert after["safety"]["consumer_lag"] == 3, "another group's offsets are its own"

    table = await run_cli(cli_env, "status")
    assert table.code == 0, table.stderr
    assert "consumer lag" in table.stdout and "lag seconds" in table.stdout
    assert "kill switches ENGAGED:" in table.stdout
    assert "symbol BTC/USDT" in table.stdout and "venue halt" in table.stdout
