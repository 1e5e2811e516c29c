"""Every message of one order or withdrawal, in causal order, with who decided what and why."""

from __future__ import annotations

import heapq
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from services.audit import store
from services.audit.chain import TrailRow
from shared.db import Connection

DECISIONS = {
    "OrderApproved": "approved",
    "WithdrawalApproved": "approved",
    "OrderRejected": "rejected",
    "WithdrawalRejected": "rejected",
    "FundsHeld": "funds held",
    "FundsHoldRejected": "rejected",
    "OrderFilled": "filled",
    "OrderCancelled": "cancelled",
    "OrderFailed": "failed",
    "OrderOutcomeUnknown": "outcome unknown",
    "WithdrawalSent": "sent",
    "WithdrawalFailed": "failed",
    "HoldReleased": "released",
    "DeadLettered": "dead-lettered",
}


async def trace(conn: Connection, correlation_id: str) -> list[dict[str, Any]]:
    """The trail's messages for `correlation_id` (and dead letters of them); empty if none."""
    rows = await store.rows_of_correlation(conn, correlation_id)
    return [summarise(row, depth) for row, depth in causal_order(rows)]


def causal_order(rows: Iterable[TrailRow]) -> list[tuple[TrailRow, int]]:
    """Causes before their effects (following `causation_id`), ties by seq; with tree depth.

    A message whose cause is not among `rows` starts a branch. Rows caught in a causal
    cycle (only a forged trail has one) come last in seq order rather than disappear.
    """
    by_id = {str(row.columns["event_id"]): row for row in rows}
    children: dict[str, list[TrailRow]] = defaultdict(list)
    ready: list[tuple[int, int, str]] = []
    for event_id, row in by_id.items():
        cause = _cause_of(row)
        if cause is not None and cause in by_id and cause != event_id:
            children[cause].append(row)
        else:
            heapq.heappush(ready, (row.seq, 0, event_id))
    ordered: list[tuple[TrailRow, int]] = []
    while ready:
        _, depth, event_id = heapq.heappop(ready)
        ordered.append((by_id[event_id], depth))
        for child in children.pop(event_id, []):
            heapq.heappush(ready, (child.seq, depth + 1, str(child.columns["event_id"])))
    left = sorted((row for rows in children.values() for row in rows), key=lambda r: r.seq)
    return ordered + [(row, 0) for row in left]


def _cause_of(row: TrailRow) -> str | None:
    """`causation_id`; a dead letter is caused by the message it parked."""
    cause = row.columns.get("causation_id")
    payload = row.message.get("payload") if isinstance(row.message, dict) else None
    if cause is None and row.columns["type"] == "DeadLettered" and isinstance(payload, dict):
        cause = payload.get("original_event_id")
    return None if cause is None else str(cause)


def summarise(row: TrailRow, depth: int = 0) -> dict[str, Any]:
    message = row.message if isinstance(row.message, dict) else {}
    payload = message.get("payload")
    body: dict[str, Any] = payload if isinstance(payload, dict) else {}
    kind = str(row.columns["type"])
    return {
        "seq": row.seq,
        "depth": depth,
        "occurred_at": message.get("occurred_at"),
        "topic": row.columns["topic"],
        "producer": row.columns["producer"],
        "type": kind,
        "event_id": str(row.columns["event_id"]),
        "causation_id": _text(row.columns.get("causation_id")),
        "correlation_id": row.columns["correlation_id"],
        "decision": DECISIONS.get(kind),
        "reason": _text(body.get("reason")),
        "detail": _text(body.get("detail") or body.get("error")),
    }


def _text(value: object) -> str | None:
    return None if value is None else str(value)
