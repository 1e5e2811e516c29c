"""Withdrawals at network venues, with the orders' discipline: claimed `unknown` before the
request, sent outside any transaction, a lost answer looked up (by our withdrawal id) and never
sent again while unknown.

One difference from orders: venues do not deduplicate withdrawals by our id, so a withdrawal
the venue never heard of (after `not_found_lookups` answers in a row) is failed (its hold is
released), never sent a second time.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime

import asyncpg

from services.execution.announce import Announcer, Emit
from services.execution.domain.errors import VenueNotReached, VenueOutcomeUnknown, VenueRejected
from services.execution.domain.orders import WithdrawalStatus
from services.execution.remote.clients import RemoteClients
from services.execution.remote.orders import NOT_SENT, RECONCILE_PARALLELISM, RemoteRules
from services.execution.remote.per_client import each_by_client
from services.execution.remote.store import RemoteWithdrawalStore, TrackedWithdrawal
from services.execution.store import PostgresExecutionStore
from services.execution.venues.base import WithdrawalReceipt, WithdrawalRequest
from services.execution.withdrawals import WithdrawalFlow
from shared.contracts.reasons import RejectReason

log = logging.getLogger(__name__)


def _request(tracked: TrackedWithdrawal) -> WithdrawalRequest:
    w = tracked.withdrawal
    return WithdrawalRequest(w.withdrawal_id, w.asset, w.amount, w.address, w.network)


def _client_of(tracked: TrackedWithdrawal) -> tuple[str, str]:
    return tracked.withdrawal.account_id, tracked.withdrawal.venue


class RemoteWithdrawals:
    def __init__(
        self,
        pool: asyncpg.Pool,
        clients: RemoteClients,
        rules: RemoteRules,
        *,
        emit: Emit,
        clock: Callable[[], datetime],
    ) -> None:
        self._pool = pool
        self._clients = clients
        self._rules = rules
        self._emit = emit
        self._clock = clock

    async def tick(self) -> None:
        for _ in range(self._rules.batch):  # one at a time, like orders
            async with self._pool.acquire() as conn, conn.transaction():
                claimed = await RemoteWithdrawalStore(conn).claim_next_for_sending(
                    self._rules.lease_seconds
                )
            if claimed is None:
                break
            await self._send(claimed)
        async with self._pool.acquire() as conn:
            due = await RemoteWithdrawalStore(conn).due(self._rules.batch)
        for tracked in due:
            await self.look(tracked)

    async def reconcile_all(self) -> int:
        async with self._pool.acquire() as conn:
            unknown = await RemoteWithdrawalStore(conn).due(1_000_000, everything=True)
        await each_by_client(unknown, _client_of, self.look, parallel=RECONCILE_PARALLELISM)
        return len(unknown)

    async def _send(self, tracked: TrackedWithdrawal) -> None:
        w = tracked.withdrawal
        receipt: WithdrawalReceipt | None = None
        refused: tuple[str, RejectReason] | None = None
        retry_after: float | None = None
        not_reached = False
        try:
            venue = await self._clients.for_account(w.account_id, w.venue)
        except VenueRejected as exc:
            refused = (exc.detail, RejectReason.EXCHANGE_KEY_INVALID)
        else:
            try:
                receipt = await venue.withdraw(_request(tracked))
            except VenueRejected as exc:
                refused = (exc.detail, RejectReason.EXCHANGE_REJECTED)
            except VenueNotReached:
                not_reached = True
            except VenueOutcomeUnknown as exc:
                retry_after = exc.retry_after_seconds
                log.error("withdrawal %s outcome unknown: %s", w.withdrawal_id, exc.detail)
            except Exception:  # it may have gone out: unknown, looked up, never resent
                log.exception("withdrawal %s failed unexpectedly", w.withdrawal_id)
        async with self._recording(w.withdrawal_id) as (current, flow, store):
            if current is None or current.status is not WithdrawalStatus.UNKNOWN:
                return
            if current.submissions != tracked.submissions:
                return
            if receipt is not None:
                await flow.sent(current.withdrawal, receipt.txid)
            elif refused is not None:
                await flow.fail(current.withdrawal, refused[0], refused[1])
            elif not_reached:
                await store.unsend(w.withdrawal_id, after_seconds=self._rules.backoff.delay(0))
            else:
                await store.look_again(
                    w.withdrawal_id,
                    after_seconds=self._rules.backoff.delay(0, retry_after),
                    failures=0,
                    not_found=0,
                )

    async def look(self, tracked: TrackedWithdrawal) -> None:
        w = tracked.withdrawal
        try:
            venue = await self._clients.for_account(w.account_id, w.venue)
            found = await venue.find_withdrawal(_request(tracked))
        except Exception as exc:  # inconclusive, whatever it was: look again later
            if not isinstance(exc, NOT_SENT):
                log.exception("looking at %s failed unexpectedly", tracked)
            log.warning("withdrawal %s: look inconclusive: %s", w.withdrawal_id, exc)
            retry_after = getattr(exc, "retry_after_seconds", None)
            async with self._recording(w.withdrawal_id) as (current, _flow, store):
                if current is not None:
                    await store.look_again(
                        w.withdrawal_id,
                        after_seconds=self._rules.backoff.delay(current.failures + 1, retry_after),
                        failures=current.failures + 1,
                        not_found=current.not_found,
                    )
            return
        async with self._recording(w.withdrawal_id) as (current, flow, store):
            if current is None or current.status is not WithdrawalStatus.UNKNOWN:
                return
            if found is not None:
                await flow.sent(current.withdrawal, found.txid)
            elif current.not_found + 1 >= self._rules.not_found_lookups:
                detail = (
                    f"{w.venue} has no record of it after {current.not_found + 1} lookups; "
                    "not sent again (venues do not deduplicate withdrawals)"
                )
                await flow.fail(current.withdrawal, detail)
            else:
                await store.look_again(
                    w.withdrawal_id,
                    after_seconds=self._rules.backoff.delay(current.not_found),
                    failures=current.failures,
                    not_found=current.not_found + 1,
                )

    @asynccontextmanager
    async def _recording(
        self, withdrawal_id: str
    ) -> AsyncIterator[tuple[TrackedWithdrawal | None, WithdrawalFlow, RemoteWithdrawalStore]]:
        async with self._pool.acquire() as conn, conn.transaction():
            store = RemoteWithdrawalStore(conn)
            current = await store.locked(withdrawal_id)
            announce = Announcer(conn, self._emit, self._clock(), cause=None)
            flow = WithdrawalFlow(PostgresExecutionStore(conn), lambda name: None, announce)
            yield current, flow, store
