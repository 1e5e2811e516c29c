"""`trace` lists an order's messages causes-first, ties by seq, with decisions and reasons."""

from __future__ import annotations

import random
import uuid
from collections.abc import Sequence

from services.audit.chain import GENESIS_HASH, TrailRow, next_row, trail_document
from services.audit.trace import causal_order, summarise
from shared.audit_trace import VenueState, venue_state
from shared.clock import utc_now
from shared.contracts import Envelope, new_message
from shared.contracts.deadletter import DeadLettered
from shared.contracts.execution import OrderOutcomeUnknown, OrderSubmitted
from shared.contracts.ledger import FundsHoldRejected, HoldPurpose
from shared.contracts.reasons import RejectReason
from tests.unit.audit.messages import filled_order_flow, message


def rows_in_append_order(order: list[int], messages: Sequence[Envelope]) -> list[TrailRow]:
    """Rows whose seq follows `order` (how the audit consumer happened to receive them)."""
    rows = []
    for seq, index in enumerate(order, start=1):
        rows.append(next_row(seq - 1, GENESIS_HASH, trail_document(messages[index])))
    return rows


def test_effects_follow_their_causes_even_when_appended_first() -> None:
    flow = filled_order_flow()
    appended = [3, 0, 6, 1, 5, 2, 4]  # the consumer read the topics in another order
    rows = rows_in_append_order(appended, flow)
    random.Random(7).shuffle(rows)

    types = [row.columns["type"] for row, _ in causal_order(rows)]

    assert types == [
        "PlaceOrder",
        "OrderApproved",
        "FundsHeld",
        "OrderSubmitted",
        "OrderFilled",
        "HoldReleased",  # appended before HoldSettled: siblings go by seq
        "HoldSettled",
    ]


def test_depth_follows_the_causal_chain() -> None:
    rows = rows_in_append_order(list(range(7)), filled_order_flow())

    depths = [depth for _, depth in causal_order(rows)]

    assert depths == [0, 1, 2, 3, 4, 5, 5]


def test_a_dead_letter_comes_after_the_message_it_parked() -> None:
    flow = filled_order_flow()[:2]
    parked = new_message(
        DeadLettered(
            original_topic="safety.decisions.v1",
            original_partition=3,
            original_offset=9,
            original_event_id=str(flow[1].event_id),
            original_key="user-1",
            original_value_b64="",
            original_headers={},
            error="RuntimeError: boom",
            attempts=3,
            consumer="t.ledger",
        ),
        producer="t.ledger",
        account_id="user-1",
        correlation_id=str(flow[1].event_id),
        event_id=uuid.UUID(int=99),
        now=utc_now(),
    )
    rows = rows_in_append_order([2, 0, 1], [*flow, parked])

    ordered = [(summarise(row, depth)) for row, depth in causal_order(rows)]

    assert [m["type"] for m in ordered] == ["PlaceOrder", "OrderApproved", "DeadLettered"]
    assert ordered[2]["topic"] == "safety.decisions.v1.dlq"
    assert (ordered[2]["decision"], ordered[2]["detail"]) == ("dead-lettered", "RuntimeError: boom")


def test_a_rejection_shows_who_decided_and_why() -> None:
    flow = filled_order_flow()
    rejected = message(
        FundsHoldRejected(
            hold_id="ord-1",
            purpose=HoldPurpose.ORDER,
            reason=RejectReason.INSUFFICIENT_FUNDS,
            asset="USDT",
            requested="716.5",
            available="10",
        ),
        producer="ledger",
        cause=flow[1],
    )
    row = next_row(0, GENESIS_HASH, trail_document(rejected))

    summary = summarise(row)

    assert (summary["producer"], summary["type"]) == ("ledger", "FundsHoldRejected")
    assert (summary["decision"], summary["reason"]) == ("rejected", "INSUFFICIENT_FUNDS")


def test_messages_in_a_causal_cycle_are_listed_not_lost() -> None:
    flow = filled_order_flow()[:2]
    first, second = (next_row(n, GENESIS_HASH, trail_document(m)) for n, m in enumerate(flow))
    forged_first = TrailRow(
        first.seq,
        first.prev_hash,
        first.hash,
        first.message,
        {**first.columns, "causation_id": second.columns["event_id"]},
    )

    ordered = causal_order([second, forged_first])

    assert [row.seq for row, _ in ordered] == [1, 2]


def test_a_real_money_order_shows_its_venue_id_its_sends_and_an_unknown_outcome() -> None:
    """The console's timeline: "outcome unknown" while execution reconciles, then the venue's
    order id and how many sends it took once the venue has answered."""
    flow = filled_order_flow()
    held = flow[2]
    unknown = message(
        OrderOutcomeUnknown(
            order_id="ord-1", client_order_id="co-1", detail="timed out after sending", sends=1
        ),
        producer="execution",
        cause=held,
        second=20,
    )
    submitted = message(
        OrderSubmitted(
            order_id="ord-1", client_order_id="co-1", venue="binance", venue_order_id="V-9", sends=2
        ),
        producer="execution",
        cause=held,
        second=21,
    )
    rows = [next_row(seq - 1, GENESIS_HASH, trail_document(m)) for seq, m in enumerate(flow, 1)]
    rows = [r for r in rows if r.columns["type"] != "OrderSubmitted"][:3]
    reconciling = [*rows, next_row(3, GENESIS_HASH, trail_document(unknown))]
    entries = [summarise(row, depth) for row, depth in causal_order(reconciling)]

    assert [e["decision"] for e in entries][-1] == "outcome unknown"
    assert venue_state(entries) == VenueState(None, 1, outcome_unknown=True)

    answered = [*reconciling, next_row(4, GENESIS_HASH, trail_document(submitted))]
    entries = [summarise(row, depth) for row, depth in causal_order(answered)]
    assert entries[-1]["venue_order_id"] == "V-9" and entries[-1]["sends"] == 2
    assert venue_state(entries) == VenueState("V-9", 2, outcome_unknown=False)
