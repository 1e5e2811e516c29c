"""Secrets never enter the trail: they are replaced before the message is hashed and stored."""

from __future__ import annotations

import base64
import json

import pytest

from services.audit.chain import canonical_json, trail_document
from shared.clock import utc_now
from shared.contracts import new_message
from shared.contracts.accounts import ExchangeKeyAdded
from shared.contracts.deadletter import DeadLettered
from shared.contracts.decisions import OrderRejected
from shared.contracts.reasons import RejectReason
from shared.redact import REDACTED, is_secret_key, redact

JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1c2VyLTEifQ.c2lnbmF0dXJl"


@pytest.mark.parametrize(
    "key",
    [
        "password",
        "new_password",
        "totp_secret",
        "x-totp-code",
        "code",
        "api_key",
        "apiKey",
        "exchange_api_key",
        "secret",
        "accessToken",
        "refresh_token",
        "Authorization",
        "private_key",
        "sealed_secret",
    ],
)
def test_secret_looking_keys_are_secret(key: str) -> None:
    assert is_secret_key(key)


@pytest.mark.parametrize(
    "key",
    ["order_id", "client_order_id", "original_key", "error_code", "two_factor_verified", "reason"],
)
def test_ordinary_keys_stay_readable(key: str) -> None:
    assert not is_secret_key(key)


def test_secret_values_are_replaced_at_any_depth_and_the_rest_is_kept() -> None:
    value = {
        "user_id": "u-1",
        "password": "hunter2",
        "keys": [{"exchange": "binance", "api_key": "AKIA", "apiSecret": "s3cr3t"}],
        "totp": {"code": "123456"},
    }

    assert redact(value) == {
        "user_id": "u-1",
        "password": REDACTED,
        "keys": [{"exchange": "binance", "api_key": REDACTED, "apiSecret": REDACTED}],
        "totp": REDACTED,
    }
    assert value["password"] == "hunter2"  # the input is not modified


def test_sealed_exchange_credentials_never_enter_the_trail() -> None:
    added = new_message(
        ExchangeKeyAdded(key_id="k-1", exchange="binance", sealed_secret="gAAAAABsealed"),
        producer="gateway",
        account_id="user-1",
        correlation_id="k-1",
        now=utc_now(),
    )

    document = trail_document(added)

    assert document["payload"]["sealed_secret"] == REDACTED
    assert b"gAAAAABsealed" not in canonical_json(document)


def test_tokens_pasted_into_free_text_fields_are_replaced() -> None:
    assert redact({"note": JWT, "header": f"Bearer {JWT}", "other": "eyJ-not-a-token"}) == {
        "note": REDACTED,
        "header": REDACTED,
        "other": "eyJ-not-a-token",
    }


def test_an_absent_secret_stays_null() -> None:
    assert redact({"password": None}) == {"password": None}


def test_a_dead_letter_of_a_message_with_a_secret_keeps_no_secret() -> None:
    original = json.dumps({"type": "Login", "payload": {"email": "a@b.c", "password": "hunter2"}})
    parked = DeadLettered(
        original_topic="accounts.events.v1",
        original_partition=0,
        original_offset=7,
        original_key="user-1",
        original_value_b64=base64.b64encode(original.encode()).decode(),
        original_headers={"traceparent": "00-abc-def-01", "authorization": f"Bearer {JWT}"},
        error="UndecodableMessage: unknown message type 'Login' version None",
        attempts=1,
        consumer="cryptoorch.gateway",
    )
    document = trail_document(
        new_message(
            parked,
            producer="cryptoorch.gateway",
            account_id="user-1",
            correlation_id="x",
            now=utc_now(),
        )
    )
    stored = canonical_json(document)

    assert b"hunter2" not in stored and JWT.encode() not in stored
    inner = json.loads(base64.b64decode(document["payload"]["original_value_b64"]))
    assert inner["payload"] == {"email": "a@b.c", "password": REDACTED}
    assert document["payload"]["original_headers"]["traceparent"] == "00-abc-def-01"


def test_a_dead_letter_of_bytes_that_are_not_json_is_kept_as_is() -> None:
    raw = base64.b64encode(b"\xff\x00garbage").decode()

    assert redact({"original_value_b64": raw}) == {"original_value_b64": raw}


def test_a_message_without_secrets_is_stored_exactly_as_encoded() -> None:
    rejected = new_message(
        OrderRejected(
            order_id="ord-1",
            reason=RejectReason.AMOUNT_ABOVE_MAX,
            rule="max_notional",
            detail="notional 2000000 USD above 1000000",
            values={"notional_usd": "2000000"},
        ),
        producer="safety",
        account_id="user-1",
        correlation_id="ord-1",
        now=utc_now(),
    )

    assert trail_document(rejected) == json.loads(rejected.model_dump_json())
