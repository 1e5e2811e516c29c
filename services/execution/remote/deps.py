"""What every piece of background work at network venues is built from."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from services.execution.announce import Announcer, Emit
from services.execution.remote.clients import RemoteClients
from shared.db import Connection


@dataclass(frozen=True)
class VenueDeps:
    """The database, one open client per validated key, how to emit, and the clock."""

    pool: asyncpg.Pool
    clients: RemoteClients
    emit: Emit
    clock: Callable[[], datetime]

    def announcer(self, conn: Connection) -> Announcer:
        """Emits inside `conn`'s transaction, stamped now, caused by no message (background
        work answers the venue, not a message)."""
        return Announcer(conn, self.emit, self.clock(), cause=None)
