"""Sending a held withdrawal to its venue, once per withdrawal id.

The paper venue answers inside the handler's transaction; a network venue never does: the
withdrawal stays `pending` for `RemoteWithdrawals`, which sends it outside any transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from services.execution.announce import Announcer
from services.execution.domain.errors import VenueOutcomeUnknown, VenueRejected
from services.execution.domain.orders import PAPER_VENUE, WithdrawalRecord, WithdrawalStatus
from services.execution.store import ExecutionStore
from services.execution.venues.base import Venue, WithdrawalRequest
from shared.contracts.execution import WithdrawalFailed, WithdrawalSent
from shared.contracts.reasons import RejectReason
from shared.contracts.wallet import WithdrawalSpec

log = logging.getLogger(__name__)


class WithdrawalFlow:
    def __init__(
        self,
        store: ExecutionStore,
        venue_for: Callable[[str], Venue | None],
        announce: Announcer,
        remote: Callable[[str], bool] = lambda name: False,
    ) -> None:
        self._store = store
        self._venue_for = venue_for
        self._announce = announce
        self._remote = remote

    async def send(self, spec: WithdrawalSpec, account_id: str) -> None:
        record = WithdrawalRecord(
            withdrawal_id=spec.withdrawal_id,
            account_id=account_id,
            venue=spec.exchange,
            asset=spec.asset,
            amount=spec.amount,
            address=spec.address,
            network=spec.network,
        )
        if not await self._store.insert_withdrawal(record):
            log.info("withdrawal %s was handled before; not sending it again", spec.withdrawal_id)
            return
        if spec.exchange != PAPER_VENUE and self._remote(spec.exchange):
            if not await self._store.has_valid_key(account_id, spec.exchange):
                detail = f"no validated {spec.exchange} key for this account"
                await self.fail(record, detail, RejectReason.EXCHANGE_KEY_INVALID)
            return
        venue = self._venue_for(spec.exchange)
        if venue is None:
            await self.fail(record, f"no adapter for venue {spec.exchange!r}")
            return
        request = WithdrawalRequest(
            spec.withdrawal_id, spec.asset, spec.amount, spec.address, spec.network
        )
        try:
            receipt = await venue.withdraw(request)
        except VenueRejected as exc:
            await self.fail(record, exc.detail)
            return
        except VenueOutcomeUnknown as exc:
            # Neither sent nor failed: the hold stays until the venue is asked again.
            await self._store.finish_withdrawal(
                record.withdrawal_id, WithdrawalStatus.UNKNOWN, None, exc.detail
            )
            log.error("withdrawal %s outcome unknown: %s", record.withdrawal_id, exc.detail)
            return
        await self.sent(record, receipt.txid)

    async def sent(self, record: WithdrawalRecord, txid: str) -> None:
        await self._store.finish_withdrawal(record.withdrawal_id, WithdrawalStatus.SENT, txid, None)
        sent = WithdrawalSent(
            withdrawal_id=record.withdrawal_id, asset=record.asset, amount=record.amount, txid=txid
        )
        await self._announce(
            sent, account_id=record.account_id, correlation_id=record.withdrawal_id
        )

    async def fail(
        self,
        record: WithdrawalRecord,
        detail: str,
        reason: RejectReason = RejectReason.EXCHANGE_REJECTED,
    ) -> None:
        await self._store.finish_withdrawal(
            record.withdrawal_id, WithdrawalStatus.FAILED, None, detail
        )
        failed = WithdrawalFailed(withdrawal_id=record.withdrawal_id, reason=reason, detail=detail)
        await self._announce(
            failed, account_id=record.account_id, correlation_id=record.withdrawal_id
        )
