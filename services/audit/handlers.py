"""Append each consumed message to the trail, once, as the next link of the chain."""

from __future__ import annotations

import logging

from services.audit import store
from services.audit.chain import next_row, trail_document
from shared.contracts import Envelope
from shared.db import Connection

log = logging.getLogger(__name__)


async def append_to_trail(conn: Connection, message: Envelope) -> None:
    """Inbox handler for every topic. A message already in the trail (by event id) is skipped.

    The append lock is held until the inbox commits the batch, so appends are
    serialised across instances and `seq` has no gap.
    """
    document = trail_document(message)
    head = await store.lock_head(conn, message.event_id)
    if head.already_appended:
        log.debug("audit: %s already in the trail", message.event_id)
        return
    await store.append(conn, next_row(head.seq, head.hash, document))
