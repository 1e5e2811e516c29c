"""What every piece of background work at network venues is built from."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from services.execution.announce import Announcer
from services.execution.remote.clients import RemoteClients
from shared.clock import Clock
from shared.db import Connection
from shared.emitter import Emitter


@dataclass(frozen=True)
class VenueDeps:
    """The database, one open client per validated key, and how to emit (with its clock)."""

    pool: asyncpg.Pool
    clients: RemoteClients
    emitter: Emitter

    @property
    def clock(self) -> Clock:
        """The emitter's: what background work observes is stamped by the clock it decides by."""
        return self.emitter.clock

    def announcer(self, conn: Connection) -> Announcer:
        """Emits inside `conn`'s transaction, stamped now, caused by no message (background
        work answers the venue, not a message)."""
        return Announcer.now_in(self.emitter, conn, cause=None)
