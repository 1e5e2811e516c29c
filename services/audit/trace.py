"""Every message of one order or withdrawal, in causal order, with who decided what and why
(the ordering and the summary live in `shared.audit_trace`, which the gateway's console reads
too)."""

from __future__ import annotations

from typing import Any

from services.audit import store
from shared.audit_trace import DECISIONS, causal_order, summarise
from shared.db import Connection

__all__ = ["DECISIONS", "causal_order", "summarise", "trace"]


async def trace(conn: Connection, correlation_id: str) -> list[dict[str, Any]]:
    """The trail's messages for `correlation_id` (and dead letters of them); empty if none."""
    rows = await store.rows_of_correlation(conn, correlation_id)
    return [summarise(row, depth) for row, depth in causal_order(rows)]
