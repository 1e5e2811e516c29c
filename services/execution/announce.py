"""How execution emits: every message through the outbox, linked to the message that caused it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from shared.contracts.envelope import Envelope, Payload, new_message
from shared.db import Connection

PRODUCER = "execution"


class Emit(Protocol):
    """`shared.outbox.enqueue`, or a fake in unit tests."""

    async def __call__(self, conn: Connection, *messages: Envelope) -> None: ...


@dataclass(frozen=True)
class Announcer:
    conn: Connection
    emit: Emit
    now: datetime
    cause: Envelope | None

    async def __call__(self, payload: Payload, *, account_id: str, correlation_id: str) -> Envelope:
        message = new_message(
            payload,
            producer=PRODUCER,
            account_id=account_id,
            correlation_id=correlation_id,
            cause=self.cause,
            now=self.now,
        )
        await self.emit(self.conn, message)
        return message
