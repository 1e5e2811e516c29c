"""Append each consumed batch to the trail, once per message, as the next links of the chain."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence

from services.audit import store
from services.audit.chain import next_rows, trail_document
from shared.contracts import Envelope
from shared.db import Connection

log = logging.getLogger(__name__)


async def append_to_trail(conn: Connection, messages: Sequence[Envelope]) -> None:
    """Batch handler for every topic: the messages not yet in the trail (by event id) are
    chained in memory, in order, and appended with one statement.

    The append lock is held until the inbox commits the batch, so appends are
    serialised across instances and `seq` has no gap.
    """
    documents = [trail_document(message) for message in messages]
    head = await store.lock_head(conn, [message.event_id for message in messages])
    appended: set[uuid.UUID] = set(head.already_appended)
    fresh = []
    for message, document in zip(messages, documents, strict=True):
        if message.event_id in appended:
            log.debug("audit: %s already in the trail", message.event_id)
            continue
        appended.add(message.event_id)
        fresh.append(document)
    await store.append(conn, next_rows(head.seq, head.hash, fresh))
