"""The audit service on the real broker: every topic (dead-letter ones too) into the trail once,
checkpoints published and written outside the database, the whole trail verifiable."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable
from pathlib import Path

import asyncpg
import pytest

from services.audit.app import build
from services.audit.checkpoints import read_checkpoints
from services.audit.settings import AuditSettings
from services.audit.verify import verify_chain
from shared.clock import utc_now
from shared.contracts import Envelope, encode, new_message
from shared.contracts.deadletter import DeadLettered
from shared.db import connect
from shared.ids import derived_id
from shared.infra.resolve import Infrastructure
from tests.support.running import running_service
from tests.support.topics import publish_raw, publish_to
from tests.support.waiting import eventually
from tests.unit.audit.messages import filled_order_flow

pytestmark = pytest.mark.integration

MIGRATIONS = Path(__file__).resolve().parents[2] / "services" / "audit" / "migrations"


def dead_letter_of(message: Envelope) -> Envelope:
    """What an inbox publishes to `<topic>.dlq` when it parks `message`."""
    return new_message(
        DeadLettered(
            original_topic=message.topic.value,
            original_partition=0,
            original_offset=42,
            original_event_id=str(message.event_id),
            original_key=message.account_id,
            original_value_b64=base64.b64encode(encode(message)).decode(),
            original_headers={},
            error="RuntimeError: refused in a test",
            attempts=3,
            consumer="test.ledger",
        ),
        producer="test.ledger",
        account_id=message.account_id,
        correlation_id=str(message.event_id),
        now=utc_now(),
    )


async def test_every_message_is_appended_once_checkpointed_and_verifiable(
    infra: Infrastructure, settings_factory: Callable[..., AuditSettings], tmp_path: Path
) -> None:
    order_id = f"ord-{uuid.uuid4()}"
    flow = filled_order_flow(order_id)
    parked = dead_letter_of(flow[3])
    checkpoint_file = tmp_path / "nested" / "checkpoints.jsonl"
    settings = settings_factory(
        AuditSettings,
        audit_checkpoint_every=3,
        audit_checkpoint_poll_seconds=0.1,
        audit_checkpoint_file=checkpoint_file,
    )
    database = f"{settings.db_prefix}_audit"
    ours = [m.event_id for m in [*flow, parked]]

    async with running_service("audit", settings, MIGRATIONS, build) as runtime:
        place = flow[0]
        await publish_to(infra.kafka_access, place, place, place, *flow[1:])
        await publish_raw(infra.kafka_access, flow[3].topic.dlq, parked.account_id, encode(parked))
        pool = runtime.pool

        async def appended() -> list[asyncpg.Record]:
            return await pool.fetch(
                "SELECT event_id, topic FROM audit_trail WHERE event_id = ANY($1::uuid[])", ours
            )

        rows = await eventually(appended, until=lambda r: len(r) == len(ours), what="all appended")

        async def own_checkpoint_in_trail() -> bool:
            if not checkpoint_file.exists():
                return False
            ids = [
                derived_id("audit-checkpoint", database, c.seq)
                for c in read_checkpoints(checkpoint_file, database)
            ]
            return bool(
                await pool.fetchval(
                    "SELECT count(*) FROM audit_trail WHERE type = 'AuditCheckpoint' "
                    "AND event_id = ANY($1::uuid[])",
                    ids,
                )
            )

        await eventually(own_checkpoint_in_trail, what="a published checkpoint back in the trail")

        for statement in (  # the service's own connections: a bug cannot change the trail
            "UPDATE audit_trail SET producer = 'x' WHERE seq = 1",
            "DELETE FROM audit_trail WHERE seq = 1",
            "UPDATE audit_checkpoints SET hash = repeat('0', 64)",
            "DELETE FROM audit_checkpoints",
        ):
            with pytest.raises(asyncpg.InsufficientPrivilegeError, match="insert-only"):
                await pool.execute(statement)

    assert sorted(r["event_id"] for r in rows) == sorted(ours)  # PlaceOrder three times, once
    assert {r["event_id"]: r["topic"] for r in rows}[parked.event_id] == "execution.events.v1.dlq"
    conn = await connect(runtime.database_url)
    try:
        seqs = [r["seq"] for r in await conn.fetch("SELECT seq FROM audit_trail ORDER BY seq")]
        result = await verify_chain(conn, checkpoint_file)
    finally:
        await conn.close()
    assert seqs == list(range(1, len(seqs) + 1))
    assert result.ok, result
    assert result.checkpoints_checked >= 1
    lines = [json.loads(line) for line in checkpoint_file.read_text().splitlines()]
    assert all(set(line) == {"seq", "hash", "at", "database"} for line in lines)
