"""Every message of one order or withdrawal, in causal order, with who decided what and why:
`cryptoorch trace` and the console's order timeline (`GET /v1/admin/orders/{id}/timeline`)
read the same rows and summarise them the same way.

The reader needs only the trail's documented columns, like `shared.audit_export`.
"""

from __future__ import annotations

import heapq
import json
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

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
COLUMNS = ("event_id", "topic", "type", "producer", "correlation_id", "causation_id")
MAX_ROWS = 1000
"""A timeline longer than this (an order filled in a thousand trades) is cut, not unbounded."""


class TraceRow(Protocol):
    @property
    def seq(self) -> int: ...
    @property
    def message(self) -> dict[str, Any]: ...
    @property
    def columns(self) -> Mapping[str, Any]: ...


Row = TypeVar("Row", bound=TraceRow)


@dataclass(frozen=True)
class TimelineRow:
    seq: int
    message: dict[str, Any]
    columns: Mapping[str, Any]


async def rows_of_correlation(conn: Connection, correlation_id: str) -> list[TimelineRow]:
    """Rows of one order/withdrawal, plus dead letters of its messages (correlated by event
    id), at most `MAX_ROWS` of each, in seq order."""
    select = f"SELECT seq, message::text AS message, {', '.join(COLUMNS)} FROM audit_trail"
    records = await conn.fetch(
        f"{select} WHERE correlation_id = $1 ORDER BY seq LIMIT $2", correlation_id, MAX_ROWS
    )
    event_ids = [str(r["event_id"]) for r in records]
    if event_ids:
        records += await conn.fetch(
            f"{select} WHERE correlation_id = ANY($1::text[]) AND correlation_id <> $2 "
            "ORDER BY seq LIMIT $3",
            event_ids,
            correlation_id,
            MAX_ROWS,
        )
    return [
        TimelineRow(r["seq"], json.loads(r["message"]), {name: r[name] for name in COLUMNS})
        for r in records
    ]


async def timeline(conn: Connection, correlation_id: str) -> list[dict[str, Any]]:
    """The summarised messages of `correlation_id` in causal order; empty if none."""
    rows = await rows_of_correlation(conn, correlation_id)
    return [summarise(row, depth) for row, depth in causal_order(rows)]


def causal_order(rows: Iterable[Row]) -> list[tuple[Row, int]]:
    """Causes before their effects (following `causation_id`), ties by seq; with tree depth.

    A message whose cause is not among `rows` starts a branch. Rows caught in a causal
    cycle (only a forged trail has one) come last in seq order rather than disappear.
    """
    by_id = {str(row.columns["event_id"]): row for row in rows}
    children: dict[str, list[Row]] = defaultdict(list)
    ready: list[tuple[int, int, str]] = []
    for event_id, row in by_id.items():
        cause = _cause_of(row)
        if cause is not None and cause in by_id and cause != event_id:
            children[cause].append(row)
        else:
            heapq.heappush(ready, (row.seq, 0, event_id))
    ordered: list[tuple[Row, int]] = []
    while ready:
        _, depth, event_id = heapq.heappop(ready)
        ordered.append((by_id[event_id], depth))
        for child in children.pop(event_id, []):
            heapq.heappush(ready, (child.seq, depth + 1, str(child.columns["event_id"])))
    left = sorted((row for rows in children.values() for row in rows), key=lambda r: r.seq)
    return ordered + [(row, 0) for row in left]


def _cause_of(row: TraceRow) -> str | None:
    """`causation_id`; a dead letter is caused by the message it parked."""
    cause = row.columns.get("causation_id")
    payload = row.message.get("payload") if isinstance(row.message, dict) else None
    if cause is None and row.columns["type"] == "DeadLettered" and isinstance(payload, dict):
        cause = payload.get("original_event_id")
    return None if cause is None else str(cause)


def summarise(row: TraceRow, depth: int = 0) -> dict[str, Any]:
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
        "venue_order_id": _text(body.get("venue_order_id")),
        "sends": body.get("sends") if isinstance(body.get("sends"), int) else None,
    }


VENUE_OUTCOMES = {"OrderSubmitted", "OrderFilled", "OrderCancelled", "OrderFailed"}
"""What execution says once the venue has answered: the outcome is known."""


@dataclass(frozen=True)
class VenueState:
    """An order at a network venue as its timeline shows it."""

    venue_order_id: str | None
    sends: int | None
    outcome_unknown: bool
    """Execution's last word is `OrderOutcomeUnknown`: it is reconciling (looking the order up
    by client order id), and the order stays `submitted` meanwhile."""


def venue_state(entries: Iterable[Mapping[str, Any]]) -> VenueState:
    """From summarised entries in seq order: the venue's order id and the sends of the newest
    execution message that names them, and whether the outcome is still unknown."""
    venue_order_id = None
    sends: int | None = None
    unknown = False
    for entry in sorted(entries, key=lambda e: int(e["seq"])):
        kind = entry["type"]
        if kind == "OrderOutcomeUnknown":
            unknown = True
        elif kind in VENUE_OUTCOMES:
            unknown = False
        venue_order_id = entry.get("venue_order_id") or venue_order_id
        sends = entry.get("sends") or sends
    return VenueState(venue_order_id, sends, unknown)


def _text(value: object) -> str | None:
    return None if value is None else str(value)
