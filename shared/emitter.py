"""How a service writes its messages: its producer name, its clock and its outbox, said once.

`ServiceRuntime.emitter` builds one from the service's name and clock; the composition root
hands it to whatever emits. A handler that decided at a moment passes that `now` (its
messages say when it decided); everything else is stamped by the emitter's clock. Unit
tests give it a fake outbox (`enqueue`).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from shared import outbox
from shared.clock import Clock, utc_now
from shared.contracts.envelope import Envelope, Payload, new_message
from shared.db import Connection


class Enqueue(Protocol):
    """`shared.outbox.enqueue`, or a fake in unit tests."""

    async def __call__(
        self, conn: Connection, *messages: Envelope, headers: Sequence[dict[str, str]] | None = ...
    ) -> None: ...


@dataclass(frozen=True)
class Emitter:
    """A service's messages: stamped with its name and its clock, written to its outbox."""

    producer: str
    clock: Clock = utc_now
    enqueue: Enqueue = outbox.enqueue

    def message(
        self,
        payload: Payload,
        *,
        account_id: str,
        correlation_id: str,
        cause: Envelope | None = None,
        now: datetime | None = None,
        event_id: uuid.UUID | None = None,
    ) -> Envelope:
        """`payload` wrapped as this service's message, written at `now` (the clock's by
        default), linked to `cause`; `event_id` for a message whose id is derived."""
        return new_message(
            payload,
            producer=self.producer,
            account_id=account_id,
            correlation_id=correlation_id,
            now=now or self.clock(),
            cause=cause,
            event_id=event_id,
        )

    async def emit(
        self,
        conn: Connection,
        payload: Payload,
        *,
        account_id: str,
        correlation_id: str,
        cause: Envelope | None = None,
        now: datetime | None = None,
        event_id: uuid.UUID | None = None,
    ) -> Envelope:
        """`message`, added to the outbox in `conn`'s open transaction."""
        message = self.message(
            payload,
            account_id=account_id,
            correlation_id=correlation_id,
            cause=cause,
            now=now,
            event_id=event_id,
        )
        await self.enqueue(conn, message)
        return message

    async def emit_all(
        self,
        conn: Connection,
        payloads: Iterable[Payload],
        *,
        account_id: str,
        correlation_id: str,
        cause: Envelope | None = None,
        now: datetime | None = None,
    ) -> list[Envelope]:
        """Several payloads of one account, correlation and cause, written at one moment, in
        one outbox write (in order)."""
        at = now or self.clock()
        messages = [
            self.message(
                p, account_id=account_id, correlation_id=correlation_id, cause=cause, now=at
            )
            for p in payloads
        ]
        if messages:
            await self.enqueue(conn, *messages)
        return messages
