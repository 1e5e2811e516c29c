"""The audit trail in a real PostgreSQL: tampering of every kind makes `cryptoorch audit verify`
exit 1 naming the row; the database itself refuses changes; `cryptoorch trace` tells the story."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from services.audit import store
from services.audit.chain import GENESIS_HASH, next_row, next_rows
from services.audit.checkpoints import take_checkpoint
from services.audit.handlers import append_to_trail
from services.audit.links import publish_links
from services.audit.settings import AuditSettings
from shared.clock import utc_now
from shared.contracts import Envelope, decode, new_message
from shared.contracts.audit import AuditChainLinks, AuditCheckpoint
from shared.contracts.execution import PriceTick
from shared.db import Connection, connect, drop_database
from shared.emitter import Emitter
from shared.ids import SYSTEM_ACCOUNT
from shared.infra.resolve import Infrastructure
from shared.service import prepare_database
from tests.support.cli import CliResult, run_cli
from tests.unit.audit.messages import filled_order_flow

pytestmark = pytest.mark.integration

MIGRATIONS = Path(__file__).resolve().parents[2] / "services" / "audit" / "migrations"
NOW = datetime(2025, 1, 2, tzinfo=UTC)
AUDIT = Emitter("audit")


@dataclass
class Trail:
    conn: Connection
    database: str
    checkpoint_file: Path
    env: dict[str, str]

    async def checkpoint(self) -> int:
        taken = await take_checkpoint(
            self.conn,
            AUDIT,
            file=self.checkpoint_file,
            database=self.database,
            now=datetime.now(UTC),
        )
        assert taken is not None
        return taken.seq

    async def sql_as_superuser(self, *statements: str) -> None:
        """What an attacker with the database's superuser does: no trigger stops them."""
        async with self.conn.transaction():
            for statement in statements:
                await self.conn.execute(statement)

    async def rebuild(self, documents: Sequence[dict[str, Any]]) -> None:
        """Empty the table and write `documents` as a fresh, internally consistent chain."""
        await self.sql_as_superuser(
            "DROP TRIGGER audit_trail_no_truncate ON audit_trail",
            "TRUNCATE audit_trail",
        )
        async with self.conn.transaction():
            await store.append(self.conn, next_rows(0, GENESIS_HASH, documents))

    async def documents(self) -> list[dict[str, Any]]:
        rows = await self.conn.fetch("SELECT message::text AS m FROM audit_trail ORDER BY seq")
        return [json.loads(r["m"]) for r in rows]


@pytest.fixture
async def trail(
    infra: Infrastructure,
    settings_factory: Callable[..., AuditSettings],
    db_prefix: str,
    tmp_path: Path,
) -> AsyncIterator[Trail]:
    url = await prepare_database(settings_factory(AuditSettings), "audit", MIGRATIONS)
    conn = await connect(url)
    env = {
        "DATABASE_URL": infra.database_url,
        "CRYPTOORCH_DB_PREFIX": db_prefix,
        "CRYPTOORCH_DATA_DIR": str(tmp_path / "data"),
    }
    try:
        yield Trail(conn, f"{db_prefix}_audit", tmp_path / "checkpoints.jsonl", env)
    finally:
        await conn.close()
        await drop_database(infra.database_url, f"{db_prefix}_audit")


async def append(conn: Connection, messages: Sequence[Envelope]) -> None:
    """Each message in a transaction of its own, as a consumer batch of one."""
    for message in messages:
        async with conn.transaction():
            await append_to_trail(conn, [message])


async def three_orders_with_checkpoints(trail: Trail) -> list[int]:
    """21 rows; checkpoints after the first and second order (seq 7 and 14)."""
    checkpoints = []
    for n in range(3):
        await append(trail.conn, filled_order_flow(f"ord-{n}"))
        if n < 2:
            checkpoints.append(await trail.checkpoint())
    return checkpoints


async def cryptoorch(trail: Trail, *args: str, env: dict[str, str] | None = None) -> CliResult:
    """The operator's command, as a real process against the test's database."""
    return await run_cli({**trail.env, **(env or {})}, *args, timeout=60)


async def verify(trail: Trail) -> CliResult:
    return await cryptoorch(
        trail, "audit", "verify", "--json", "--checkpoints", str(trail.checkpoint_file)
    )


def broken_at(result: CliResult) -> tuple[int, int, str]:
    report = result.json()
    return result.code, report["first_bad_seq"], report["problem"]


async def test_an_untouched_trail_verifies(trail: Trail) -> None:
    await three_orders_with_checkpoints(trail)

    result = await cryptoorch(trail, "audit", "verify", "--checkpoints", str(trail.checkpoint_file))

    assert result.code == 0, result.stderr
    assert "audit trail OK: 21 rows, 2 checkpoints checked" in result.stdout


async def test_the_database_refuses_update_delete_and_truncate(trail: Trail) -> None:
    await append(trail.conn, filled_order_flow())

    for statement in (
        "UPDATE audit_trail SET producer = 'x' WHERE seq = 1",
        "DELETE FROM audit_trail WHERE seq = 1",
        "TRUNCATE audit_trail",
    ):
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="insert-only"):
            await trail.conn.execute(statement)
    assert await trail.conn.fetchval("SELECT count(*) FROM audit_trail") == 7
    privileges = await trail.conn.fetchval(
        "SELECT string_agg(privilege_type, ',') FROM information_schema.role_table_grants "
        "WHERE table_name = 'audit_trail' AND grantee = 'PUBLIC'"
    )
    assert privileges is None


async def test_one_changed_byte_of_a_payload_is_named(trail: Trail) -> None:
    await three_orders_with_checkpoints(trail)
    await trail.sql_as_superuser(
        "ALTER TABLE audit_trail DISABLE TRIGGER audit_trail_insert_only",
        "UPDATE audit_trail SET message = replace(message::text, '65010', '65011')::jsonb "
        "WHERE seq = 12",
        "ALTER TABLE audit_trail ENABLE TRIGGER audit_trail_insert_only",
    )

    result = await verify(trail)

    assert broken_at(result) == (1, 12, "hash_mismatch")
    assert result.json()["bad_row"]["type"] == "OrderFilled"


async def test_a_row_deleted_with_the_trigger_dropped_is_named(trail: Trail) -> None:
    await three_orders_with_checkpoints(trail)
    await trail.sql_as_superuser(
        "DROP TRIGGER audit_trail_insert_only ON audit_trail",
        "DELETE FROM audit_trail WHERE seq = 9",
    )

    result = await cryptoorch(trail, "audit", "verify", "--checkpoints", str(trail.checkpoint_file))

    assert result.code == 1
    assert "BROKEN at seq 9: seq_gap" in result.stdout
    assert "row 9 is missing" in result.stdout


async def test_two_swapped_rows_are_named(trail: Trail) -> None:
    await three_orders_with_checkpoints(trail)
    await trail.sql_as_superuser(
        "DROP TRIGGER audit_trail_insert_only ON audit_trail",
        "UPDATE audit_trail SET seq = 1000003 WHERE seq = 3",
        "UPDATE audit_trail SET seq = 3 WHERE seq = 5",
        "UPDATE audit_trail SET seq = 5 WHERE seq = 1000003",
    )

    assert broken_at(await verify(trail)) == (1, 3, "prev_hash_mismatch")


async def test_a_forged_row_with_recomputed_hashes_after_a_checkpoint_is_named(
    trail: Trail,
) -> None:
    await three_orders_with_checkpoints(trail)
    documents = await trail.documents()
    forged = dict(documents[11], event_id=str(uuid.uuid4()))  # order 1 filled a second time
    assert forged["type"] == "OrderFilled"
    await trail.rebuild([*documents[:12], forged, *documents[12:]])

    result = await verify(trail)

    assert broken_at(result) == (1, 14, "checkpoint_mismatch")
    assert "rows 8..14 were rewritten" in result.json()["detail"]


async def test_a_truncated_and_consistently_rebuilt_trail_is_named(trail: Trail) -> None:
    await three_orders_with_checkpoints(trail)
    documents = await trail.documents()
    documents[2] = json.loads(json.dumps(documents[2]).replace('"716.5"', '"0.5"'))
    await trail.rebuild(documents)

    assert broken_at(await verify(trail)) == (1, 7, "checkpoint_mismatch")


async def test_rows_cut_off_the_end_are_named(trail: Trail) -> None:
    await three_orders_with_checkpoints(trail)
    documents = await trail.documents()
    await trail.rebuild(documents[:10])

    assert broken_at(await verify(trail)) == (1, 11, "checkpoint_beyond_end")


async def test_the_same_message_appended_three_times_is_in_the_trail_once(trail: Trail) -> None:
    place = filled_order_flow()[0]

    await append(trail.conn, [place, place, place])

    rows = await trail.conn.fetch("SELECT seq FROM audit_trail WHERE event_id = $1", place.event_id)
    assert [r["seq"] for r in rows] == [1]
    head = await store.read_head(trail.conn)
    again = next_row(head.seq, head.hash, (await trail.documents())[0])
    with pytest.raises(asyncpg.UniqueViolationError):  # and the database refuses it anyway
        await store.append(trail.conn, [again])


async def test_trace_lists_every_message_of_a_filled_order_in_causal_order(trail: Trail) -> None:
    flow = filled_order_flow("ord-7")
    await append(trail.conn, [flow[3], flow[0], *filled_order_flow("ord-8"), flow[6], *flow])

    result = await cryptoorch(trail, "trace", "ord-7", "--json")

    assert result.code == 0, result.stderr
    listed = result.json()
    assert [m["type"] for m in listed] == [
        "PlaceOrder",
        "OrderApproved",
        "FundsHeld",
        "OrderSubmitted",
        "OrderFilled",
        "HoldReleased",
        "HoldSettled",
    ]
    assert [m["producer"] for m in listed][:3] == ["gateway", "safety", "ledger"]
    assert listed[1]["decision"] == "approved"
    table = await cryptoorch(trail, "trace", "ord-7")
    assert table.code == 0 and "OrderApproved" in table.stdout and "safety" in table.stdout


async def test_trace_of_an_unknown_id_says_so_and_exits_1(trail: Trail) -> None:
    await append(trail.conn, filled_order_flow())

    result = await cryptoorch(trail, "trace", "no-such-order")

    assert result.code == 1
    assert "no audit messages for 'no-such-order'" in result.stderr


async def test_verify_without_a_running_system_exits_2(trail: Trail) -> None:
    result = await cryptoorch(trail, "audit", "verify", env={"DATABASE_URL": ""})

    assert result.code == 2
    assert "DATABASE_URL is not set" in result.stderr


def price_tick(sequence: int) -> Envelope:
    tick = PriceTick(venue="paper", symbol="BTC/USDT", price="65000", sequence=sequence)
    return new_message(
        tick, producer="execution", account_id=SYSTEM_ACCOUNT, correlation_id="BTC", now=utc_now()
    )


async def published_links(trail: Trail) -> list[AuditChainLinks]:
    rows = await trail.conn.fetch("SELECT value FROM outbox ORDER BY id")
    messages = [decode(bytes(r["value"])) for r in rows]
    return [m.body(AuditChainLinks) for m in messages if m.type == "AuditChainLinks"]


async def test_each_rows_hash_is_published_once_in_batches_without_prices(trail: Trail) -> None:
    order, other = filled_order_flow("ord-a"), filled_order_flow("ord-b")
    own = new_message(
        AuditCheckpoint(seq=16, hash="ab" * 32),
        producer="audit",
        account_id=SYSTEM_ACCOUNT,
        correlation_id="audit-checkpoint-16",
        now=utc_now(),
    )
    # seq 1 price, 2-5 order, 6 price, 7-9 order, 10-16 other, 17 audit's own message
    await append(trail.conn, [price_tick(1), *order[:4], price_tick(2), *order[4:], *other, own])

    while await publish_links(trail.conn, AUDIT, database=trail.database, now=NOW, limit=5):
        pass

    batches = await published_links(trail)
    assert [(b.after_seq, b.through_seq, len(b.links)) for b in batches] == [
        (0, 7, 5),
        (7, 12, 5),
        (12, 17, 4),
    ]
    rows = {r["event_id"]: r for r in await trail.conn.fetch("SELECT * FROM audit_trail")}
    linked = [link for batch in batches for link in batch.links]
    assert [link.event_id for link in linked] == [m.event_id for m in [*order, *other]]
    for link in linked:
        row = rows[link.event_id]
        assert (link.seq, link.prev_hash, link.hash) == (row["seq"], row["prev_hash"], row["hash"])

    await append(trail.conn, [price_tick(3)])
    assert await publish_links(trail.conn, AUDIT, database=trail.database, now=NOW) == 0
    assert await publish_links(trail.conn, AUDIT, database=trail.database, now=NOW) is None
    assert len(await published_links(trail)) == len(batches)
