"""Orders at network venues: sent, looked up, and cancelled by a background task.

The loop is `sending.RemoteSending`'s (claim → send → record → look up). What is an order's own:
1. pending orders whose cancel arrived first are cancelled without being sent;
2. one the venue certainly did not get (a 429 pause) is given its send back (`unsend`);
3. an open order whose cancel was asked is cancelled at the venue instead of looked up; new
   trades become `OrderFilled` once each; an unknown order follows the rule in
   `services.execution.domain.outcomes` and is never sent again while its outcome is unknown.
The startup reconciliation looks at every order but the pending ones.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

from services.execution.domain.errors import VenueNotReached, VenueOutcomeUnknown, VenueRejected
from services.execution.domain.orders import OrderRecord, OrderStatus
from services.execution.domain.outcomes import NotFoundStep, after_not_found
from services.execution.orders import OrderFlow
from services.execution.remote.deps import VenueDeps
from services.execution.remote.sending import RemoteRules, RemoteSending
from services.execution.remote.store import RemoteOrderStore, Tracked
from services.execution.store import PostgresExecutionStore
from services.execution.venues.base import OrderRequest, VenueOrder
from shared.contracts.reasons import RejectReason
from shared.db import Connection

log = logging.getLogger(__name__)
AfterSend = Callable[[OrderRecord], Awaitable[None]]
"""Called between the venue's answer and its recording (tests crash the sender there)."""


@dataclass(frozen=True)
class _Answer:
    answer: VenueOrder | None = None
    refused: str | None = None
    key_invalid: bool = False
    unknown: str | None = None
    retry_after: float | None = None
    not_reached: str | None = None


class RemoteOrders(RemoteSending[Tracked, VenueOrder | None, OrderFlow]):
    KIND = "order"

    def __init__(
        self, deps: VenueDeps, rules: RemoteRules, *, after_send: AfterSend | None = None
    ) -> None:
        super().__init__(deps, rules)
        self._after_send = after_send

    def _store(self, conn: Connection) -> RemoteOrderStore:
        return RemoteOrderStore(conn)

    def _id(self, item: Tracked) -> str:
        return item.order.order_id

    def _client_of(self, item: Tracked) -> tuple[str, str]:
        return item.order.account_id, item.order.venue

    def _reconciled(self, item: Tracked) -> bool:
        return item.order.status is not OrderStatus.PENDING

    async def _before_sending(self) -> None:
        async with self._deps.pool.acquire() as conn:
            unsent = await RemoteOrderStore(conn).pending_cancels(self._rules.batch)
        for tracked in unsent:
            async with self._recording(tracked.order.order_id) as (current, flow, _store):
                if current is not None and current.order.status is OrderStatus.PENDING:
                    await flow.cancelled_unsent(current.order)

    # --- sending ------------------------------------------------------------------------------

    async def _send(self, claimed: Tracked) -> None:
        order = claimed.order
        answer = await self._place(order)
        if self._after_send is not None:
            await self._after_send(order)
        async with self._recording(order.order_id) as (current, flow, store):
            if current is None or current.order.status is not OrderStatus.UNKNOWN:
                return
            if current.submissions != claimed.submissions:
                return  # another instance took it over after the lease
            if answer.answer is not None:
                sends = current.submissions or None
                await flow.accepted(current.order, order.venue, answer.answer, sends=sends)
                await self._look_later(store, order.order_id)
            elif answer.refused is not None:
                reason = (
                    RejectReason.EXCHANGE_KEY_INVALID
                    if answer.key_invalid
                    else RejectReason.EXCHANGE_REJECTED
                )
                await flow.fail(current.order, answer.refused, reason)
            elif answer.not_reached is not None:
                await store.unsend(order.order_id, after_seconds=self._rules.backoff.delay(0))
            else:
                await flow.outcome_unknown(
                    current.order,
                    answer.unknown or "outcome unknown",
                    sends=current.submissions or None,
                )
                delay = self._rules.backoff.delay(0, answer.retry_after)
                await store.look_again(order.order_id, after_seconds=delay, failures=0, not_found=0)

    async def _place(self, order: OrderRecord) -> _Answer:
        try:
            venue = await self._deps.clients.for_account(order.account_id, order.venue)
        except VenueRejected as exc:
            return _Answer(refused=exc.detail, key_invalid=True)
        request = OrderRequest(
            order.client_order_id, order.symbol, order.side, order.type, order.amount, order.price
        )
        try:
            return _Answer(answer=await venue.place_order(request))
        except VenueRejected as exc:
            return _Answer(refused=exc.detail)
        except VenueNotReached as exc:
            return _Answer(not_reached=exc.detail)
        except VenueOutcomeUnknown as exc:
            return _Answer(unknown=exc.detail, retry_after=exc.retry_after_seconds)
        except Exception as exc:  # the request may have gone out: unknown, looked up, not resent
            log.exception("placing order %s failed unexpectedly", order.order_id)
            return _Answer(unknown=f"unexpected {type(exc).__name__}")

    # --- looking ------------------------------------------------------------------------------

    async def _ask(self, item: Tracked) -> VenueOrder | None:
        order = item.order
        venue = await self._deps.clients.for_account(order.account_id, order.venue)
        if order.status is OrderStatus.OPEN and item.cancel_requested:
            return await venue.cancel_order(order.symbol, order.client_order_id)
        return await venue.fetch_order_by_client_id(order.symbol, order.client_order_id)

    async def _record_look(self, item: Tracked, answer: VenueOrder | None) -> None:
        order = item.order
        async with self._recording(order.order_id) as (current, flow, store):
            if current is None or current.order.status is not order.status:
                return  # it moved on meanwhile
            if answer is None:
                await self._not_found(current, flow, store)
                return
            reason = "requested" if item.cancel_requested else "venue"
            if current.order.status is OrderStatus.UNKNOWN:
                await flow.accepted(
                    current.order, order.venue, answer, sends=current.submissions or None
                )
            else:
                await flow.apply(current.order, answer, cancel_reason=reason)
            await self._look_later(store, order.order_id)

    async def _not_found(self, current: Tracked, flow: OrderFlow, store: RemoteOrderStore) -> None:
        order = current.order
        if order.status is OrderStatus.OPEN:  # the venue lost an order it had: keep asking
            log.error(
                "order %s was open at %s and is now unknown there", order.order_id, order.venue
            )
            delay = self._rules.backoff.delay(current.failures + 1)
            await store.look_again(
                order.order_id, after_seconds=delay, failures=current.failures + 1, not_found=0
            )
            return
        step = after_not_found(
            not_found_so_far=current.not_found,
            not_found_lookups=self._rules.not_found_lookups,
            submissions=current.submissions,
            max_submissions=self._rules.max_submissions,
            cancel_requested=current.cancel_requested,
        )
        if step is NotFoundStep.LOOK_AGAIN:
            delay = self._rules.backoff.delay(current.not_found)
            await store.look_again(
                order.order_id,
                after_seconds=delay,
                failures=current.failures,
                not_found=current.not_found + 1,
            )
        elif step is NotFoundStep.RESUBMIT:
            log.warning("order %s never reached %s: sending it again", order.order_id, order.venue)
            await store.send_again(order.order_id)
        elif step is NotFoundStep.CANCEL:
            await flow.cancelled_unsent(order)
        else:
            detail = f"never found at {order.venue} after {current.submissions} sends"
            await flow.fail(order, detail)

    async def _look_later(self, store: RemoteOrderStore, order_id: str) -> None:
        await store.look_again(
            order_id, after_seconds=self._rules.poll_seconds, failures=0, not_found=0
        )

    @asynccontextmanager
    async def _recording(
        self, item_id: str
    ) -> AsyncIterator[tuple[Tracked | None, OrderFlow, RemoteOrderStore]]:
        """One transaction about one order: serialised with its handler, the order locked."""
        async with self._deps.pool.acquire() as conn, conn.transaction():
            orders = PostgresExecutionStore(conn)
            await orders.claim(item_id)
            store = RemoteOrderStore(conn)
            current = await store.locked(item_id)
            flow = OrderFlow(orders, lambda name: None, self._deps.announcer(conn))
            yield current, flow, store
