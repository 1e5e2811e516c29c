"""The life of one order at a venue: record, place once, report every trade once, cancel.

Runs inside the caller's transaction (a handler's or a market tick's), so the order's record,
the venue's answer and the events announcing it commit together.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from decimal import Decimal

from services.execution.announce import Announcer
from services.execution.domain import (
    TERMINAL,
    OrderRecord,
    OrderStatus,
    client_order_id,
    fill_reports,
    status_after,
    venue_refusal,
)
from services.execution.errors import VenueOutcomeUnknown, VenueRejected
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
    def __init__(self, store: ExecutionStore, venue_for: VenueLookup, announce: Announcer) -> None:
        self._store = store
        self._venue_for = venue_for
        self._announce = announce

    async def place(self, spec: OrderSpec, account_id: str) -> None:
        """Place the order once: a second `FundsHeld` for it finds the record and does nothing."""
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
            await self._save(record, OrderStatus.CANCELLED)
            await self._tell(record, OrderCancelled(order_id=record.order_id))
            return
        refusal = venue_refusal(spec.mode, spec.exchange)
        venue = None if refusal else self._venue_for(spec.exchange)
        if venue is None:
            await self._fail(record, refusal or f"no adapter for venue {spec.exchange!r}")
            return
        request = OrderRequest(
            record.client_order_id, spec.symbol, spec.side, spec.type, spec.amount, spec.price
        )
        try:
            answer = await venue.place_order(request)
        except VenueRejected as exc:
            await self._fail(record, exc.detail)
            return
        except VenueOutcomeUnknown as exc:
            await self._save(record, OrderStatus.UNKNOWN)
            await self._tell(
                record,
                OrderOutcomeUnknown(
                    order_id=record.order_id,
                    client_order_id=record.client_order_id,
                    detail=exc.detail,
                ),
            )
            return
        submitted = OrderSubmitted(
            order_id=record.order_id,
            client_order_id=record.client_order_id,
            venue=venue.name,
            venue_order_id=answer.venue_order_id,
        )
        await self._tell(record, submitted)
        await self.apply(record, answer)

    async def cancel(self, order_id: str, account_id: str) -> None:
        """Cancel what is left of a resting order; remember a cancel that beat its order here."""
        await self._store.claim(order_id)
        record = await self._store.order(order_id, lock=False)
        if record is None:
            await self._store.remember_cancel(order_id, account_id)
            return
        if record.account_id != account_id:
            log.warning("cancel of order %s by another account ignored", order_id)
            return
        if record.status is not OrderStatus.OPEN:
            return  # terminal: nothing to cancel; pending/unknown never happen on paper
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
            await self.apply(current, answer)

    async def apply(self, record: OrderRecord, answer: VenueOrder) -> None:
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
            await self._tell(record, OrderCancelled(order_id=record.order_id))
        elif status is OrderStatus.FAILED:
            await self._tell(
                record,
                OrderFailed(
                    order_id=record.order_id,
                    reason=RejectReason.EXCHANGE_REJECTED,
                    detail="the venue rejected the order",
                ),
            )

    async def _fail(self, record: OrderRecord, detail: str) -> None:
        await self._save(record, OrderStatus.FAILED)
        failed = OrderFailed(
            order_id=record.order_id, reason=RejectReason.EXCHANGE_REJECTED, detail=detail
        )
        await self._tell(record, failed)

    async def _save(self, record: OrderRecord, status: OrderStatus) -> None:
        await self._store.save_order_state(
            record.order_id, status, record.filled_amount, record.venue_order_id
        )

    async def _tell(self, record: OrderRecord, payload: Payload) -> None:
        await self._announce(payload, account_id=record.account_id, correlation_id=record.order_id)
