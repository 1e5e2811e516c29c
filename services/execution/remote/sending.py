"""Claim → send → record → look up: the discipline orders and withdrawals share at network
venues. No network call ever happens inside a database transaction.

One pass (`tick`): due items are sent one at a time: claimed (`unknown`, one more send counted,
a lease; committed), sent, and the answer recorded in a new transaction with the events it
causes, before the next is claimed, so a crash charges a send to one item only. Then due
`unknown` (and open) items are looked up at their venue; an inconclusive look-up (the venue
not reached, an unexpected error) is counted and tried again after a backoff.
`reconcile_all` looks at every item at once (the startup reconciliation): one client's items
one after the other, several clients at once (`per_client`).

What differs between orders and withdrawals (the venue call, what an answer means, what a
venue that never heard of an item means) is in the subclasses.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from services.execution.domain.errors import VenueNotReached, VenueOutcomeUnknown, VenueRejected
from services.execution.domain.outcomes import Backoff
from services.execution.remote.deps import VenueDeps
from services.execution.remote.per_client import each_by_client
from shared.db import Connection

log = logging.getLogger(__name__)
NOT_SENT = (VenueOutcomeUnknown, VenueNotReached, VenueRejected)
"""Failures a venue call reports on purpose; anything else is also logged with its trace."""
RECONCILE_PARALLELISM = 16
"""How many clients (account + venue) are looked at at once by the startup reconciliation."""


@dataclass(frozen=True)
class RemoteRules:
    poll_seconds: float
    backoff: Backoff
    not_found_lookups: int
    max_submissions: int
    lease_seconds: float
    """How long a claimed item is left alone while its request is out (> the client timeout)."""
    batch: int = 100


class Counted(Protocol):
    """An item with the counters of the unknown-outcome rule."""

    @property
    def failures(self) -> int: ...
    @property
    def not_found(self) -> int: ...


ItemT = TypeVar("ItemT", bound=Counted)
AnswerT = TypeVar("AnswerT")
FlowT = TypeVar("FlowT")


class SendingStore(Protocol[ItemT]):
    """The SQL the loop needs (`remote/store.py` has one for orders, one for withdrawals)."""

    async def claim_next_for_sending(self, lease_seconds: float) -> ItemT | None: ...
    async def due(self, limit: int, *, everything: bool = False) -> list[ItemT]: ...
    async def locked(self, item_id: str, /) -> ItemT | None: ...
    async def look_again(
        self, item_id: str, /, *, after_seconds: float, failures: int, not_found: int
    ) -> None: ...


class RemoteSending(ABC, Generic[ItemT, AnswerT, FlowT]):
    KIND = "item"
    """What the logs call one item ("order", "withdrawal")."""

    def __init__(self, deps: VenueDeps, rules: RemoteRules) -> None:
        self._deps = deps
        self._rules = rules

    # --- what each kind of item says -----------------------------------------------------------

    @abstractmethod
    def _store(self, conn: Connection) -> SendingStore[ItemT]: ...

    @abstractmethod
    def _id(self, item: ItemT) -> str: ...

    @abstractmethod
    def _client_of(self, item: ItemT) -> tuple[str, str]:
        """The client an item is sent and looked up with: its account's key at its venue."""

    @abstractmethod
    def _recording(
        self, item_id: str
    ) -> AbstractAsyncContextManager[tuple[ItemT | None, FlowT, SendingStore[ItemT]]]:
        """One transaction about one item: the item locked (None if gone), the flow that
        records its events, and the store."""

    @abstractmethod
    async def _send(self, claimed: ItemT) -> None:
        """Send a claimed item (outside any transaction) and record the answer."""

    @abstractmethod
    async def _ask(self, item: ItemT) -> AnswerT:
        """The look-up call at the venue; raises when the answer is inconclusive."""

    @abstractmethod
    async def _record_look(self, item: ItemT, answer: AnswerT) -> None:
        """Record a conclusive look-up (in its own transaction)."""

    async def _before_sending(self) -> None:
        """Work a pass does before sending (orders: cancels that arrived before the send)."""

    def _reconciled(self, item: ItemT) -> bool:
        """Whether the startup reconciliation looks at `item`."""
        return True

    # --- the loop --------------------------------------------------------------------------------

    async def tick(self) -> None:
        await self._before_sending()
        pool = self._deps.pool
        for _ in range(self._rules.batch):  # one at a time: claim, commit, send, record
            async with pool.acquire() as conn, conn.transaction():
                claimed = await self._store(conn).claim_next_for_sending(self._rules.lease_seconds)
            if claimed is None:
                break
            await self._send(claimed)
        async with pool.acquire() as conn:
            due = await self._store(conn).due(self._rules.batch)
        for item in due:
            await self.look(item)

    async def reconcile_all(self) -> int:
        """Look at every open or unknown item now, whatever its schedule; how many."""
        async with self._deps.pool.acquire() as conn:
            everything = await self._store(conn).due(1_000_000, everything=True)
        looked = [item for item in everything if self._reconciled(item)]
        await each_by_client(looked, self._client_of, self.look, parallel=RECONCILE_PARALLELISM)
        return len(looked)

    async def look(self, item: ItemT) -> None:
        try:
            answer = await self._ask(item)
        except Exception as exc:  # inconclusive, whatever it was: look again later
            await self._inconclusive(item, exc)
            return
        await self._record_look(item, answer)

    async def _inconclusive(self, item: ItemT, exc: Exception) -> None:
        item_id = self._id(item)
        if not isinstance(exc, NOT_SENT):
            log.exception("looking at %s failed unexpectedly", item)
        log.warning("%s %s: look inconclusive: %s", self.KIND, item_id, exc)
        retry_after = getattr(exc, "retry_after_seconds", None)
        async with self._recording(item_id) as (current, _flow, store):
            if current is not None:
                await store.look_again(
                    item_id,
                    after_seconds=self._rules.backoff.delay(current.failures + 1, retry_after),
                    failures=current.failures + 1,
                    not_found=current.not_found,
                )
