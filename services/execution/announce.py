"""How execution emits: its emitter bound to one transaction, one moment and one cause."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from shared.contracts.envelope import Envelope, Payload
from shared.db import Connection
from shared.emitter import Emitter


@dataclass(frozen=True)
class Announcer:
    """Every message a flow emits in `conn`'s transaction: stamped `now`, linked to `cause`
    (None for background work: it answers a venue, not a message)."""

    emitter: Emitter
    conn: Connection
    now: datetime
    cause: Envelope | None

    @classmethod
    def now_in(cls, emitter: Emitter, conn: Connection, cause: Envelope | None) -> Announcer:
        """Stamped at the emitter's clock, read once now."""
        return cls(emitter, conn, emitter.clock(), cause)

    async def __call__(self, payload: Payload, *, account_id: str, correlation_id: str) -> Envelope:
        return await self.emitter.emit(
            self.conn,
            payload,
            account_id=account_id,
            correlation_id=correlation_id,
            cause=self.cause,
            now=self.now,
        )
