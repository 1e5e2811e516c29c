"""PostgreSQL's execution store held to the behaviour the handlers rely on: the suite the
in-memory fake passes too (tests/unit/execution/test_store_fake.py). Each test runs in one
transaction, as a handler does, rolled back afterwards."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

import services.execution
from services.execution.domain.orders import WithdrawalStatus
from services.execution.store import ExecutionStore, PostgresExecutionStore
from shared.db import Connection, connect, drop_database, ensure_database
from shared.infra.resolve import Infrastructure
from shared.migrate import migrate
from tests.support.execution_store_behaviour import ExecutionStoreBehaviour

pytestmark = pytest.mark.integration
MIGRATIONS = Path(services.execution.__file__).parent / "migrations"


@pytest.fixture(scope="module")
async def execution_database(infra: Infrastructure) -> AsyncIterator[str]:
    name = "t" + uuid.uuid4().hex[:12] + "_execution"
    url = await ensure_database(infra.database_url, name)
    await migrate(url, MIGRATIONS)
    yield url
    await drop_database(infra.database_url, name)


class TestPostgresExecutionStore(ExecutionStoreBehaviour):
    conn: Connection

    @pytest.fixture
    async def store(self, execution_database: str) -> AsyncIterator[ExecutionStore]:
        conn = await connect(execution_database)
        transaction = conn.transaction()
        await transaction.start()
        self.conn = conn
        try:
            yield PostgresExecutionStore(conn)
        finally:
            await transaction.rollback()
            await conn.close()

    async def withdrawal_outcome(
        self, store: ExecutionStore, withdrawal_id: str
    ) -> tuple[WithdrawalStatus, str | None]:
        row = await self.conn.fetchrow(
            "SELECT status, txid FROM withdrawals WHERE withdrawal_id = $1", withdrawal_id
        )
        assert row is not None
        return WithdrawalStatus(row["status"]), row["txid"]
