"""The in-memory store the handler tests use, held to the same behaviour as PostgreSQL's
(tests/integration/test_execution_store.py runs the same suite there)."""

from __future__ import annotations

import pytest

from services.execution.domain.orders import WithdrawalStatus
from services.execution.store import ExecutionStore
from tests.support.execution_store_behaviour import ExecutionStoreBehaviour
from tests.unit.execution.fakes import FakeStore


class TestFakeExecutionStore(ExecutionStoreBehaviour):
    @pytest.fixture
    def store(self) -> ExecutionStore:
        return FakeStore()

    async def withdrawal_outcome(
        self, store: ExecutionStore, withdrawal_id: str
    ) -> tuple[WithdrawalStatus, str | None]:
        assert isinstance(store, FakeStore)
        _, status, txid = store.withdrawals[withdrawal_id]
        return status, txid
