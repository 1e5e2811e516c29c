"""Orders at network venues: sent, looked up, and cancelled by a background task.

No network call ever happens inside a database transaction. One pass (`tick`):
1. pending orders whose cancel arrived first are cancelled without being sent;
2. due pending orders are sent one at a time: claimed (`unknown`, one more send counted, a
   lease; committed), sent, and the answer recorded in a new transaction with the events it
   causes, before the next is claimed. A crash (or a stop) charges a send to that one order
   only, never to orders it did not reach; one the venue certainly did not get (a 429 pause)
   is given its send back (`unsend`);
3. due open and unknown orders are looked up by client order id (or cancelled, when asked):
   new trades become `OrderFilled` once each, an unknown order follows the rule in
   `services.execution.domain.outcomes` and is never sent again while its outcome is unknown.
`reconcile_all` does step 3 for every non-terminal order at once: the startup reconciliation,
one client's orders one after the other, several clients at once (`per_client`).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from services.execution.announce import Announcer, Emit
from services.execution.domain.errors import VenueNotReached, VenueOutcomeUnknown, VenueRejected
from services.execution.domain.orders import OrderRecord, OrderStatus
from services.execution.domain.outcomes import Backoff, NotFoundStep, after_not_found
from services.execution.orders import OrderFlow
from services.execution.remote.clients import RemoteClients
from services.execution.remote.per_client import each_by_client
from services.execution.remote.store import RemoteOrderStore, Tracked
from services.execution.store import PostgresExecutionStore
from services.execution.venues.base import OrderRequest, VenueOrder
from shared.contracts.reasons import RejectReason

log = logging.getLogger(__name__)
AfterSend = Callable[[OrderRecord], Awaitable[None]]
"""Called between the venue's answer and its recording (tests crash the sender there)."""
NOT_SENT = (VenueOutcomeUnknown, VenueNotReached, VenueRejected)
RECONCILE_PARALLELISM = 16
"""How many clients (account + venue) are looked at at once by the startup reconciliation."""


def _client_of(tracked: Tracked) -> tuple[str, str]:
    """The client an order is looked up with: its account's key at its venue."""
    return tracked.order.account_id, tracked.order.venue


@dataclass(frozen=True)
class RemoteRules:
    poll_seconds: float
    backoff: Backoff
    not_found_lookups: int
    max_submissions: int
    lease_seconds: float
    """How long a claimed order is left alone while its request is out (> the client timeout)."""
    batch: int = 100


@dataclass(frozen=True)
class _Answer:
    answer: VenueOrder | None = None
    refused: str | None = None
    key_invalid: bool = False
    unknown: str | None = None
    retry_after: float | None = None
    not_reached: str | None = None


class RemoteOrders:
    def __init__(
        self,
        pool: asyncpg.Pool,
        clients: RemoteClients,
        rules: RemoteRules,
        *,
        emit: Emit,
        clock: Callable[[], datetime],
        after_send: AfterSend | None = None,
    ) -> None:
        self._pool = pool
        self._clients = clients
        self._rules = rules
        self._emit = emit
        self._clock = clock
        self._after_send = after_send

    async def tick(self) -> None:
        async with self._pool.acquire() as conn:
            unsent = await RemoteOrderStore(conn).pending_cancels(self._rules.batch)
        for tracked in unsent:
            await self._cancel_unsent(tracked)
        for _ in range(self._rules.batch):  # one at a time: claim, commit, send, record
            async with self._pool.acquire() as conn, conn.transaction():
                claimed = await RemoteOrderStore(conn).claim_next_for_sending(
                    self._rules.lease_seconds
                )
            if claimed is None:
                break
            await self._send(claimed)
        async with self._pool.acquire() as conn:
            due = await RemoteOrderStore(conn).due(self._rules.batch)
        for tracked in due:
            await self.look(tracked)

    async def reconcile_all(self) -> int:
        """Look at every open or unknown order now, whatever its schedule; how many."""
        async with self._pool.acquire() as conn:
            everything = await RemoteOrderStore(conn).due(1_000_000, everything=True)
        looked = [t for t in everything if t.order.status is not OrderStatus.PENDING]
        await each_by_client(looked, _client_of, self.look, parallel=RECONCILE_PARALLELISM)
        return len(looked)

    # --- sending ------------------------------------------------------------------------------

    async def _send(self, tracked: Tracked) -> None:
        order = tracked.order
        answer = await self._place(order)
        if self._after_send is not None:
            await self._after_send(order)
        async with self._recording(order.order_id) as (current, flow, store):
            if current is None or current.order.status is not OrderStatus.UNKNOWN:
                return
            if current.submissions != tracked.submissions:
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
            venue = await self._clients.for_account(order.account_id, order.venue)
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

    async def look(self, tracked: Tracked) -> None:
        order = tracked.order
        answer: VenueOrder | None
        try:
            venue = await self._clients.for_account(order.account_id, order.venue)
            if order.status is OrderStatus.OPEN and tracked.cancel_requested:
                answer = await venue.cancel_order(order.symbol, order.client_order_id)
            else:
                answer = await venue.fetch_order_by_client_id(order.symbol, order.client_order_id)
        except Exception as exc:  # inconclusive, whatever it was: look again later
            if not isinstance(exc, NOT_SENT):
                log.exception("looking at %s failed unexpectedly", tracked)
            log.warning("order %s: look inconclusive: %s", order.order_id, exc)
            retry_after = getattr(exc, "retry_after_seconds", None)
            async with self._recording(order.order_id) as (current, _flow, store):
                if current is not None:
                    delay = self._rules.backoff.delay(current.failures + 1, retry_after)
                    await store.look_again(
                        order.order_id,
                        after_seconds=delay,
                        failures=current.failures + 1,
                        not_found=current.not_found,
                    )
            return
        async with self._recording(order.order_id) as (current, flow, store):
            if current is None or current.order.status is not order.status:
                return  # it moved on meanwhile
            if answer is None:
                await self._not_found(current, flow, store)
                return
            reason = "requested" if tracked.cancel_requested else "venue"
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

    async def _cancel_unsent(self, tracked: Tracked) -> None:
        async with self._recording(tracked.order.order_id) as (current, flow, _store):
            if current is not None and current.order.status is OrderStatus.PENDING:
                await flow.cancelled_unsent(current.order)

    async def _look_later(self, store: RemoteOrderStore, order_id: str) -> None:
        await store.look_again(
            order_id, after_seconds=self._rules.poll_seconds, failures=0, not_found=0
        )

    @asynccontextmanager
    async def _recording(
        self, order_id: str
    ) -> AsyncIterator[tuple[Tracked | None, OrderFlow, RemoteOrderStore]]:
        """One transaction about one order: serialised with its handler, the order locked."""
        async with self._pool.acquire() as conn, conn.transaction():
            orders = PostgresExecutionStore(conn)
            await orders.claim(order_id)
            store = RemoteOrderStore(conn)
            current = await store.locked(order_id)
            announce = Announcer(conn, self._emit, self._clock(), cause=None)
            yield current, OrderFlow(orders, lambda name: None, announce), store
