"""`cryptoorch dlq redrive`: a parked message, once its cause is fixed, is applied exactly once."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from functools import partial
from pathlib import Path

import asyncpg
import pytest

from cryptoorch import dlq
from shared.clock import utc_now
from shared.contracts import Envelope, encode, new_message
from shared.contracts.wallet import RecordDeposit
from shared.db import Connection, create_pool, drop_database, ensure_database
from shared.dlq import RedriveRefused
from shared.infra.resolve import Infrastructure
from shared.kafka import ensure_topics
from shared.migrate import migrate
from tests.support.effects import applied_effects, count_effect, running_consumer
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration
SERVICE = "ledger"  # the database the redrive looks in: `<prefix>_ledger`


@pytest.fixture
async def pool(
    infra: Infrastructure, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[asyncpg.Pool]:
    prefix = "t" + uuid.uuid4().hex[:12]
    name = f"{prefix}_{SERVICE}"
    url = await ensure_database(infra.database_url, name)
    (tmp_path / "0001_effects.sql").write_text(
        "CREATE TABLE effects (correlation_id TEXT PRIMARY KEY, applied INT NOT NULL)"
    )
    await migrate(url, tmp_path)
    monkeypatch.setenv("DATABASE_URL", infra.database_url)
    monkeypatch.setenv("CRYPTOORCH_DB_PREFIX", prefix)
    pool = await create_pool(url, size=4)
    yield pool
    await pool.close()
    await drop_database(infra.database_url, name)


async def test_a_redriven_dead_letter_takes_effect_once_after_its_cause_is_fixed(
    infra: Infrastructure, pool: asyncpg.Pool
) -> None:
    topic = f"test.{uuid.uuid4().hex[:8]}.v1"
    await ensure_topics(infra.kafka_access, [topic, topic + ".dlq"])
    broken = {"yes": True}

    async def apply(conn: Connection, message: Envelope) -> None:
        if broken["yes"]:
            raise RuntimeError("the asset table is missing USDT")  # the cause, fixed later
        await count_effect(conn, message)

    async with running_consumer(
        pool,
        infra.kafka_access,
        group_id="g-" + topic,
        topic=topic,
        handler=apply,
        max_attempts=2,
    ) as running:
        message = new_message(
            RecordDeposit(deposit_id="d-1", asset="USDT", amount="10", reference="r-1"),
            producer="test",
            account_id="acc-1",
            correlation_id="d-1",
            now=utc_now(),
        )
        await running.producer.send_and_wait(topic, encode(message), key=b"acc-1")

        async def parked() -> list[dlq.Parked]:
            return [p for p in await dlq.list_parked((SERVICE,)) if not p.redriven]

        [letter] = await eventually(parked, what="the message parked")
        assert "missing USDT" in letter.error and letter.original_topic == topic

        broken["yes"] = False  # the operator fixes the cause
        assert await dlq.redrive(SERVICE, letter.id)
        assert await dlq.redrive(SERVICE, letter.id)  # an impatient second re-drive
        await running.relay_outbox()

        applied = partial(applied_effects, pool)
        assert await eventually(applied, what="the re-driven message applied") == {"d-1": 1}
        await eventually(
            lambda: asyncio.sleep(0, running.consumer.stats.duplicates),
            until=lambda d: d >= 1,
            what="the second re-drive skipped by the inbox",
        )
        assert await applied() == {"d-1": 1}
        assert [p.redriven for p in await dlq.list_parked((SERVICE,))] == [True]
        assert not await dlq.redrive(SERVICE, str(uuid.uuid4()))


async def test_a_redriven_message_that_fails_again_is_parked_again_and_the_limit_holds(
    infra: Infrastructure, pool: asyncpg.Pool
) -> None:
    topic = f"test.{uuid.uuid4().hex[:8]}.v1"
    await ensure_topics(infra.kafka_access, [topic, topic + ".dlq"])

    async def apply(conn: Connection, message: Envelope) -> None:
        raise RuntimeError("still broken")

    async with running_consumer(
        pool,
        infra.kafka_access,
        group_id="g-" + topic,
        topic=topic,
        handler=apply,
        max_attempts=1,
    ) as running:

        async def parked() -> list[dlq.Parked]:
            await running.relay_outbox()
            return [p for p in await dlq.list_parked((SERVICE,)) if not p.redriven]

        message = new_message(
            RecordDeposit(deposit_id="d-2", asset="USDT", amount="10", reference="r-2"),
            producer="test",
            account_id="acc-2",
            correlation_id="d-2",
            now=utc_now(),
        )
        await running.producer.send_and_wait(topic, encode(message), key=b"acc-2")
        [first] = await eventually(parked, what="the message parked")
        assert await dlq.redrive(SERVICE, first.id, limit=2)  # before the cause is fixed

        async def parked_twice() -> list[dlq.Parked]:
            await parked()  # publishes the outbox: the re-drive, then the new dead letter
            return [p for p in await dlq.list_parked((SERVICE,)) if p.original_topic == topic]

        letters = await eventually(
            parked_twice, until=lambda ps: len(ps) == 2, what="parked again under a new letter"
        )
        assert {p.original_event_id for p in letters} == {str(message.event_id)}
        assert await dlq.redrive(SERVICE, letters[-1].id, limit=2)
        with pytest.raises(RedriveRefused):
            await dlq.redrive(SERVICE, letters[-1].id, limit=2)
