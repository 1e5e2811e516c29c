"""The audit service appends a consumer batch at once (chained in memory, one insert): a
backlog of many messages becomes one unbroken chain, a row changed in the middle of a batch is
named, and a message the trail cannot hold is dead-lettered without holding up the others."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import asyncpg
import pytest

from services.audit.app import build
from services.audit.settings import AuditSettings
from services.audit.verify import verify_chain
from shared.clock import utc_now
from shared.contracts import Envelope, new_message
from shared.contracts.wallet import RecordDeposit
from shared.db import connect
from shared.infra.resolve import Infrastructure
from shared.kafka import ensure_topics
from tests.support.running import running_service
from tests.support.topics import publish_to
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration

MIGRATIONS = Path(__file__).resolve().parents[2] / "services" / "audit" / "migrations"
BACKLOG = 1_200


def deposits(account: str, count: int, *, poison_at: int | None = None) -> list[Envelope]:
    """`count` deposits of one account (one partition, so appended in this order); the one at
    `poison_at` holds a NUL, which PostgreSQL cannot store in JSONB."""
    return [
        new_message(
            RecordDeposit(
                deposit_id=f"d{n}",
                asset="USDT",
                amount=Decimal("10"),
                reference=f"r{n}\x00" if n == poison_at else f"r{n}",
            ),
            producer="test",
            account_id=account,
            correlation_id=f"{account}-d{n}",
            now=utc_now(),
        )
        for n in range(count)
    ]


async def seqs_of(pool: asyncpg.Pool, messages: list[Envelope]) -> list[int]:
    """The seq of each of `messages` in the trail, in the order of `messages` (those in)."""
    rows = await pool.fetch(
        "SELECT event_id, seq FROM audit_trail WHERE event_id = ANY($1::uuid[])",
        [m.event_id for m in messages],
    )
    seq = {r["event_id"]: r["seq"] for r in rows}
    return [seq[m.event_id] for m in messages if m.event_id in seq]


async def test_a_backlog_is_one_chain_and_a_row_changed_inside_a_batch_is_named(
    infra: Infrastructure, settings_factory: Callable[..., AuditSettings], tmp_path: Path
) -> None:
    account = f"acc-{uuid.uuid4()}"
    backlog = deposits(account, BACKLOG)
    await ensure_topics(infra.kafka_access)  # before any service made them
    await publish_to(infra.kafka_access, *backlog, batched=True)  # read in full batches
    settings = settings_factory(AuditSettings, audit_checkpoint_file=tmp_path / "cp.jsonl")

    async with running_service("audit", settings, MIGRATIONS, build) as runtime:
        seqs = await eventually(
            lambda: seqs_of(runtime.pool, backlog),
            until=lambda s: len(s) == BACKLOG,
            what="the backlog appended",
        )
        written_by = {  # the transaction that wrote each row
            r["seq"]: r["xmin"]
            for r in await runtime.pool.fetch(
                "SELECT seq, xmin::text FROM audit_trail WHERE seq = ANY($1::bigint[])", seqs
            )
        }
    assert seqs == sorted(seqs), "appended in the order of their partition"
    writes = [written_by[seq] for seq in seqs]
    assert len(set(writes)) < BACKLOG / 100, "appended a batch at a time"
    middle = next(
        seqs[n] for n in range(1, BACKLOG - 1) if writes[n - 1] == writes[n] == writes[n + 1]
    )

    conn = await connect(runtime.database_url)
    try:
        assert (await verify_chain(conn, None)).ok
        async with conn.transaction():  # what a superuser could do
            await conn.execute("ALTER TABLE audit_trail DISABLE TRIGGER audit_trail_insert_only")
            await conn.execute(
                "UPDATE audit_trail SET message = jsonb_set(message, '{payload,amount}', "
                "'\"10000\"') WHERE seq = $1",
                middle,
            )
            await conn.execute("ALTER TABLE audit_trail ENABLE TRIGGER audit_trail_insert_only")
        result = await verify_chain(conn, None)
    finally:
        await conn.close()

    assert (result.ok, result.first_bad_seq, str(result.problem)) == (
        False,
        middle,
        "hash_mismatch",
    )
    assert result.rows_checked == middle - 1


async def test_a_message_the_trail_cannot_hold_is_dead_lettered_and_the_batch_goes_on(
    infra: Infrastructure, settings_factory: Callable[..., AuditSettings], tmp_path: Path
) -> None:
    account = f"acc-{uuid.uuid4()}"
    backlog = deposits(account, 300, poison_at=150)
    poison, good = backlog[150], backlog[:150] + backlog[151:]
    await ensure_topics(infra.kafka_access)
    await publish_to(infra.kafka_access, *backlog, batched=True)
    settings = settings_factory(AuditSettings, audit_checkpoint_file=tmp_path / "cp.jsonl")

    async with running_service("audit", settings, MIGRATIONS, build) as runtime:
        seqs = await eventually(
            lambda: seqs_of(runtime.pool, good),
            until=lambda s: len(s) == len(good),
            what="every storable message appended",
        )
        parked = await eventually(
            lambda: runtime.pool.fetchval(
                "SELECT topic FROM audit_trail WHERE type = 'DeadLettered' "
                "AND message #>> '{payload,original_event_id}' = $1",
                str(poison.event_id),
            ),
            until=lambda topic: topic is not None,
            what="the dead letter in the trail",
        )
        held = await runtime.pool.fetchval(
            "SELECT count(*) FROM audit_trail WHERE event_id = $1", poison.event_id
        )

    assert parked == "wallet.commands.v1.dlq"
    assert held == 0
    assert seqs == sorted(seqs), "the others appended in the order of their partition"
    conn = await connect(runtime.database_url)
    try:
        assert (await verify_chain(conn, None)).ok
    finally:
        await conn.close()
