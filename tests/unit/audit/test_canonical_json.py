"""Canonical JSON and the link hash: fixed inputs give fixed bytes, so any language can check."""

from __future__ import annotations

import json
import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.audit.chain import GENESIS_HASH, canonical_json, link_hash, trail_document
from services.audit.errors import UncanonicalValue
from shared.contracts import new_message
from shared.contracts.decisions import OrderApproved
from shared.contracts.orders import PlaceOrder
from tests.unit.audit.messages import START, spec

# The worked example of docs/canonical-json.md: change one, change the other.
PLACE_ORDER_CANONICAL = (
    '{"account_id":"user-1","causation_id":null,"correlation_id":"ord-1",'
    '"event_id":"00000000-0000-4000-8000-000000000001","occurred_at":"2025-01-02T03:04:05Z",'
    '"payload":{"order":{"amount":"0.01","exchange":"paper","mode":"paper","order_id":"ord-1",'
    '"price":null,"side":"buy","symbol":"BTC/USDT","type":"market"},"two_factor_verified":false},'
    '"producer":"gateway","type":"PlaceOrder","version":1}'
)
PLACE_ORDER_HASH = "b44c29a17b6e95126c8018b19a37b6219021b543461bad89beb9a8f7f21adeca"
ORDER_APPROVED_HASH = "2d944c05f378cfd006e2b13a3dafb5edc6ff66b8d4d8ecb799c9b957977a0310"


def documented_messages() -> tuple[dict[str, object], dict[str, object]]:
    place = new_message(
        PlaceOrder(order=spec()),
        producer="gateway",
        account_id="user-1",
        correlation_id="ord-1",
        now=START,
        event_id=uuid.UUID("00000000-0000-4000-8000-000000000001"),
    )
    approved = new_message(
        OrderApproved(
            order=spec(), reference_price="65000.10", price_band="0.10", checks=["amount"]
        ),
        producer="safety",
        account_id="user-1",
        correlation_id="ord-1",
        cause=place,
        now=START.replace(second=6),
        event_id=uuid.UUID("00000000-0000-4000-8000-000000000002"),
    )
    return trail_document(place), trail_document(approved)


def test_documented_message_has_the_documented_canonical_bytes_and_hash() -> None:
    place, approved = documented_messages()

    assert canonical_json(place).decode() == PLACE_ORDER_CANONICAL
    assert link_hash(GENESIS_HASH, place) == PLACE_ORDER_HASH
    assert link_hash(PLACE_ORDER_HASH, approved) == ORDER_APPROVED_HASH


def test_keys_are_sorted_at_every_level_and_there_is_no_whitespace() -> None:
    assert canonical_json({"b": {"z": 1, "a": [2, {"d": None, "c": True}]}, "a": "x"}) == (
        b'{"a":"x","b":{"a":[2,{"c":true,"d":null}],"z":1}}'
    )


def test_text_is_utf8_with_only_quote_backslash_and_control_characters_escaped() -> None:
    encoded = canonical_json({"k": 'é😀/"\\\n\x01'})

    assert encoded == b'{"k":"\xc3\xa9\xf0\x9f\x98\x80/\\"\\\\\\n\\u0001"}'


def test_money_stays_the_decimal_string_of_the_wire() -> None:
    _, approved = documented_messages()

    assert b'"reference_price":"65000.10"' in canonical_json(approved)


@pytest.mark.parametrize("value", [1.5, {"amount": 0.1}, [float("nan")], {1: "x"}, {"x": b"y"}])
def test_floats_and_values_json_does_not_define_are_refused(value: object) -> None:
    with pytest.raises(UncanonicalValue):
        canonical_json(value)


def test_each_hash_commits_to_the_previous_one() -> None:
    place, _ = documented_messages()

    assert link_hash(GENESIS_HASH, place) != link_hash("1" + GENESIS_HASH[1:], place)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=30,
)


@settings(max_examples=400)
@given(JSON_VALUES)
def test_the_bytes_are_pythons_json_dumps_for_any_value(value: object) -> None:
    reference = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)

    assert canonical_json(value) == reference.encode("utf-8")
