"""The life of one order at a venue: record, place once, report every trade once, cancel.

Runs inside the caller's transaction (a handler's, a market tick's, or the remote sender's
after its network call), so the order's record, the venue's answer and the events announcing
it commit together. The paper venue is answered in the transaction; a network venue never is:
its orders are left `pending` for `RemoteOrders`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from decimal import Decimal

from services.execution.announce import Announcer
from services.execution.domain.errors import VenueOutcomeUnknown, VenueRejected
from services.execution.domain.orders import (
    KILL_SWITCH_REASON,
    PAPER_VENUE,
    TERMINAL,
    OrderRecord,
    OrderStatus,
    client_order_id,
    fill_reports,
    kill_switch_stops,
    status_after,
    venue_refusal,
)
from services.execution.store import ExecutionStore
from services.execution.venues.base import OrderRequest, Venue, VenueOrder
from shared.contracts.envelope import Payload
from shared.contracts.execution import (
    OrderCancelled,
    OrderFailed,
    OrderFilled,
    OrderOutcomeUnknown,
    OrderSubmitted,
)
from shared.contracts.orders import OrderSpec
from shared.contracts.reasons import RejectReason

log = logging.getLogger(__name__)
VenueLookup = Callable[[str], Venue | None]


class OrderFlow:
    def __init__(
        self,
        store: ExecutionStore,
        venue_for: VenueLookup,
        announce: Announcer,
        remote: Callable[[str], bool] = lambda name: False,
    ) -> None:
        self._store = store
        self._venue_for = venue_for
        self._announce = announce
        self._remote = remote

    async def place(self, spec: OrderSpec, account_id: str) -> None:
        """Place the order once: a second `FundsHeld` for it finds the record and does nothing.

        An order a cancel beat here, or that an engaged kill switch covers (safety approved it
        just before the switch), ends `cancelled` without reaching the venue."""
        await self._store.claim(spec.order_id)
        record = OrderRecord(
            order_id=spec.order_id,
            account_id=account_id,
            client_order_id=client_order_id(spec.order_id),
            venue=spec.exchange,
            symbol=spec.symbol,
            side=spec.side,
            type=spec.type,
            amount=spec.amount,
            price=spec.price,
            status=OrderStatus.PENDING,
            filled_amount=Decimal(0),
        )
        if not await self._store.insert_order(record):
            log.info("order %s was placed before; not placing it again", spec.order_id)
            return
        if await self._store.take_early_cancel(spec.order_id) == account_id:
            await self.cancelled_unsent(record)
            return
        switches = await self._store.engaged_switch_modes(account_id, spec.symbol)
        if kill_switch_stops(spec.side, switches):
            log.warning("order %s arrived under an engaged kill switch: cancelled", spec.order_id)
            await self.cancelled_unsent(record, KILL_SWITCH_REASON)
            return
        refusal = venue_refusal(spec.mode, spec.exchange)
        if refusal is None and spec.exchange != PAPER_VENUE and self._remote(spec.exchange):
            await self._leave_for_sender(record)
            return
        venue = None if refusal else self._venue_for(spec.exchange)
        if venue is None:
            await self.fail(record, refusal or f"no adapter for venue {spec.exchange!r}")
            return
        request = OrderRequest(
            record.client_order_id, spec.symbol, spec.side, spec.type, spec.amount, spec.price
        )
        try:
            answer = await venue.place_order(request)
        except VenueRejected as exc:
            await self.fail(record, exc.detail)
            return
        except VenueOutcomeUnknown as exc:
            await self._save(record, OrderStatus.UNKNOWN)
            await self.outcome_unknown(record, exc.detail)
            return
        await self.accepted(record, venue.name, answer)

    async def _leave_for_sender(self, record: OrderRecord) -> None:
        """A network venue is never called inside this transaction: the order stays `pending`
        for the sender (`RemoteOrders`), if the account has a validated key for the venue."""
        if not await self._store.has_valid_key(record.account_id, record.venue):
            await self.fail(
                record,
                f"no validated {record.venue} key for this account",
                RejectReason.EXCHANGE_KEY_INVALID,
            )

    async def accepted(
        self, record: OrderRecord, venue: str, answer: VenueOrder, *, sends: int | None = None
    ) -> None:
        """The venue has the order: `OrderSubmitted` (with how many sends it took at a network
        venue), then whatever it already did with it."""
        submitted = OrderSubmitted(
            order_id=record.order_id,
            client_order_id=record.client_order_id,
            venue=venue,
            venue_order_id=answer.venue_order_id,
            sends=sends,
        )
        await self._tell(record, submitted)
        await self.apply(record, answer)

    async def outcome_unknown(
        self, record: OrderRecord, detail: str, *, sends: int | None = None
    ) -> None:
        unknown = OrderOutcomeUnknown(
            order_id=record.order_id,
            client_order_id=record.client_order_id,
            detail=detail,
            sends=sends,
        )
        await self._tell(record, unknown)

    async def cancel(self, order_id: str, account_id: str, reason: str = "requested") -> None:
        """Cancel what is left of a resting order; remember a cancel that beat its order here.

        At a network venue the cancel is only recorded here; `RemoteOrders` sends it."""
        await self._store.claim(order_id)
        record = await self._store.order(order_id, lock=False)
        if record is None:
            await self._store.remember_cancel(order_id, account_id)
            return
        if record.account_id != account_id:
            log.warning("cancel of order %s by another account ignored", order_id)
            return
        if record.status in TERMINAL:
            return
        if record.venue != PAPER_VENUE:
            await self._store.request_cancel(order_id)
            return
        if record.status is not OrderStatus.OPEN:
            return  # pending/unknown never last on paper
        venue = self._venue_for(record.venue)
        if venue is None:
            log.error("order %s is open on %r but no adapter serves it", order_id, record.venue)
            return
        try:
            answer = await venue.cancel_order(record.symbol, record.client_order_id)
        except VenueRejected as exc:
            log.warning("venue refused to cancel order %s: %s", order_id, exc.detail)
            return
        current = await self._store.order(order_id, lock=True)
        if current is not None:
            await self.apply(current, answer, cancel_reason=reason)

    async def apply(
        self, record: OrderRecord, answer: VenueOrder, *, cancel_reason: str = "requested"
    ) -> None:
        """Bring our record in line with the venue's: each new trade reported once, in order."""
        if record.status in TERMINAL:
            return
        new_trades = [
            trade
            for trade in answer.trades
            if await self._store.record_fill(record.order_id, record.venue, trade)
        ]
        reports = fill_reports(record, new_trades)
        for report in reports:
            fill = OrderFilled(
                order_id=record.order_id,
                trade_id=report.trade.trade_id,
                symbol=record.symbol,
                side=record.side.value,
                amount=report.trade.amount,
                price=report.trade.price,
                fee=report.trade.fee,
                fee_asset=report.trade.fee_asset,
                status=report.status,
                cumulative_amount=report.cumulative_amount,
            )
            await self._tell(record, fill)
        filled = reports[-1].cumulative_amount if reports else record.filled_amount
        status = status_after(record, filled, answer.status)
        await self._store.save_order_state(record.order_id, status, filled, answer.venue_order_id)
        if status is OrderStatus.CANCELLED:
            await self._tell(record, OrderCancelled(order_id=record.order_id, reason=cancel_reason))
        elif status is OrderStatus.FAILED:
            await self._tell(
                record,
                OrderFailed(
                    order_id=record.order_id,
                    reason=RejectReason.EXCHANGE_REJECTED,
                    detail="the venue rejected the order",
                ),
            )

    async def fail(
        self,
        record: OrderRecord,
        detail: str,
        reason: RejectReason = RejectReason.EXCHANGE_REJECTED,
    ) -> None:
        await self._save(record, OrderStatus.FAILED)
        await self._tell(
            record, OrderFailed(order_id=record.order_id, reason=reason, detail=detail)
        )
        log.warning("order %s failed at %s: %s: %s", record.order_id, record.venue, reason, detail)

    async def cancelled_unsent(self, record: OrderRecord, reason: str = "requested") -> None:
        """Cancelled before it ever reached the venue."""
        await self._save(record, OrderStatus.CANCELLED)
        await self._tell(record, OrderCancelled(order_id=record.order_id, reason=reason))

    async def _save(self, record: OrderRecord, status: OrderStatus) -> None:
        await self._store.save_order_state(
            record.order_id, status, record.filled_amount, record.venue_order_id
        )

    async def _tell(self, record: OrderRecord, payload: Payload) -> None:
        await self._announce(payload, account_id=record.account_id, correlation_id=record.order_id)
