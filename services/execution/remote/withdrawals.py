"""Withdrawals at network venues, with the orders' discipline (`sending.RemoteSending`): claimed
`unknown` before the request, sent outside any transaction, a lost answer looked up (by our
withdrawal id) and never sent again while unknown.

One difference from orders: venues do not deduplicate withdrawals by our id, so a withdrawal
the venue never heard of (after `not_found_lookups` answers in a row) is failed (its hold is
released), never sent a second time.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from services.execution.domain.errors import VenueNotReached, VenueOutcomeUnknown, VenueRejected
from services.execution.domain.orders import WithdrawalStatus
from services.execution.remote.sending import RemoteSending
from services.execution.remote.store import RemoteWithdrawalStore, TrackedWithdrawal
from services.execution.store import PostgresExecutionStore
from services.execution.venues.base import WithdrawalReceipt, WithdrawalRequest
from services.execution.withdrawals import WithdrawalFlow
from shared.contracts.reasons import RejectReason
from shared.db import Connection

log = logging.getLogger(__name__)


def _request(tracked: TrackedWithdrawal) -> WithdrawalRequest:
    w = tracked.withdrawal
    return WithdrawalRequest(w.withdrawal_id, w.asset, w.amount, w.address, w.network)


class RemoteWithdrawals(RemoteSending[TrackedWithdrawal, WithdrawalReceipt | None, WithdrawalFlow]):
    KIND = "withdrawal"

    def _store(self, conn: Connection) -> RemoteWithdrawalStore:
        return RemoteWithdrawalStore(conn)

    def _id(self, item: TrackedWithdrawal) -> str:
        return item.withdrawal.withdrawal_id

    def _client_of(self, item: TrackedWithdrawal) -> tuple[str, str]:
        return item.withdrawal.account_id, item.withdrawal.venue

    async def _send(self, claimed: TrackedWithdrawal) -> None:
        w = claimed.withdrawal
        receipt: WithdrawalReceipt | None = None
        refused: tuple[str, RejectReason] | None = None
        retry_after: float | None = None
        not_reached = False
        try:
            venue = await self._deps.clients.for_account(w.account_id, w.venue)
        except VenueRejected as exc:
            refused = (exc.detail, RejectReason.EXCHANGE_KEY_INVALID)
        else:
            try:
                receipt = await venue.withdraw(_request(claimed))
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
            if current.submissions != claimed.submissions:
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

    async def _ask(self, item: TrackedWithdrawal) -> WithdrawalReceipt | None:
        w = item.withdrawal
        venue = await self._deps.clients.for_account(w.account_id, w.venue)
        return await venue.find_withdrawal(_request(item))

    async def _record_look(self, item: TrackedWithdrawal, answer: WithdrawalReceipt | None) -> None:
        w = item.withdrawal
        async with self._recording(w.withdrawal_id) as (current, flow, store):
            if current is None or current.status is not WithdrawalStatus.UNKNOWN:
                return
            if answer is not None:
                await flow.sent(current.withdrawal, answer.txid)
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
        self, item_id: str
    ) -> AsyncIterator[tuple[TrackedWithdrawal | None, WithdrawalFlow, RemoteWithdrawalStore]]:
        async with self._deps.pool.acquire() as conn, conn.transaction():
            store = RemoteWithdrawalStore(conn)
            current = await store.locked(item_id)
            announce = self._deps.announcer(conn)
            flow = WithdrawalFlow(PostgresExecutionStore(conn), lambda name: None, announce)
            yield current, flow, store
