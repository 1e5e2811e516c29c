from __future__ import annotations

import json
from pathlib import Path

import pytest

from shared.clock import utc_now
from shared.contracts import UndecodableMessage, decode, encode, new_message, registered
from shared.contracts.compatibility import breaking_changes
from shared.contracts.envelope import Payload
from shared.contracts.orders import OrderSpec, PlaceOrder
from shared.contracts.publish import asyncapi, message_schema, schema_files
from shared.contracts.topics import Topic
from shared.money import PositiveMoney

DOCS = Path(__file__).resolve().parents[3] / "docs"


def place_order() -> bytes:
    spec = OrderSpec(order_id="o-1", symbol="BTC/USDT", side="buy", type="market", amount="0.01")
    return encode(
        new_message(
            PlaceOrder(order=spec),
            producer="gateway",
            account_id="u-1",
            correlation_id="o-1",
            now=utc_now(),
        )
    )


def test_a_message_round_trips_with_money_as_strings() -> None:
    raw = place_order()
    assert json.loads(raw)["payload"]["order"]["amount"] == "0.01"
    assert decode(raw).body(PlaceOrder).order.amount.as_tuple().exponent == -2


@pytest.mark.parametrize(
    "mutate, reason",
    [
        (lambda m: {**m, "version": 2}, "unknown message type 'PlaceOrder' version 2"),
        (lambda m: {**m, "type": "Nope"}, "unknown message type"),
        (lambda m: {k: v for k, v in m.items() if k != "version"}, "type/version"),
        (
            lambda m: {
                **m,
                "payload": {**m["payload"], "order": {**m["payload"]["order"], "amount": 0.01}},
            },
            "JSON number",
        ),
        (lambda m: {**m, "occurred_at": "2026-01-01T00:00:00"}, "timezone"),
    ],
)
def test_malformed_or_unknown_messages_are_refused(mutate, reason: str) -> None:  # type: ignore[no-untyped-def]
    raw = json.dumps(mutate(json.loads(place_order()))).encode()
    with pytest.raises(UndecodableMessage, match=reason):
        decode(raw)


def test_garbage_and_oversized_messages_are_refused() -> None:
    with pytest.raises(UndecodableMessage, match="not JSON"):
        decode(b"\xff\x00")
    with pytest.raises(UndecodableMessage, match="exceeds"):
        decode(b" " * (256 * 1024 + 1))


def test_readers_ignore_fields_they_do_not_know() -> None:
    message = json.loads(place_order())
    message["payload"]["added_in_a_later_release"] = "x"
    message["also_new"] = 1
    assert decode(json.dumps(message).encode()).body(PlaceOrder).order.order_id == "o-1"


def test_published_schemas_and_asyncapi_are_up_to_date() -> None:
    committed = {p.name: p.read_text() for p in (DOCS / "schemas").glob("*.json")}
    assert committed == schema_files(), "run `make schemas` and commit docs/"
    assert (DOCS / "asyncapi.yaml").read_text() == asyncapi(), "run `make schemas`"


def test_every_current_message_is_compatible_with_its_published_schema() -> None:
    for (kind, version), cls in registered().items():
        published = json.loads((DOCS / "schemas" / f"{kind}.v{version}.json").read_text())
        assert breaking_changes(published, message_schema(cls)) == [], kind


def test_compatibility_check_catches_a_removed_field_and_a_retyped_one() -> None:
    published = json.loads((DOCS / "schemas" / "OrderCancelled.v1.json").read_text())

    class OrderCancelledWithoutReason(Payload):
        TYPE = "OrderCancelled"
        TOPIC = Topic.EXECUTION_EVENTS
        order_id: str

    class OrderCancelledRetyped(Payload):
        TYPE = "OrderCancelled"
        TOPIC = Topic.EXECUTION_EVENTS
        order_id: int
        reason: str = "requested"

    class OrderCancelledNewRequired(Payload):
        TYPE = "OrderCancelled"
        TOPIC = Topic.EXECUTION_EVENTS
        order_id: str
        reason: str = "requested"
        venue_fee: PositiveMoney

    assert breaking_changes(published, message_schema(OrderCancelledWithoutReason)) == [
        "payload.reason: removed"
    ]
    assert breaking_changes(published, message_schema(OrderCancelledRetyped)) == [
        "payload.order_id: type changed from string to integer"
    ]
    assert breaking_changes(published, message_schema(OrderCancelledNewRequired)) == [
        "payload.venue_fee: new required field"
    ]
