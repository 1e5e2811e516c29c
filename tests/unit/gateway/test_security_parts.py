"""Idempotency fingerprints, rate-limit windows, trusted proxies, e-mail spellings and sealed
secrets."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from services.gateway.emails import checked_email, normalised_email
from services.gateway.encryption import DecryptionFailed, SecretBox
from services.gateway.errors import IdempotencyKeyInvalid, IdempotencyKeyRequired
from services.gateway.idempotency import checked_key, fingerprint
from services.gateway.ratelimit import AttemptLimit, retry_after
from services.gateway.settings import GatewaySettings

NOW = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
LIMIT = AttemptLimit(max_failures=5, window=timedelta(minutes=5))


def test_the_same_request_has_the_same_fingerprint_whatever_the_key_order() -> None:
    assert fingerprint({"a": "1", "b": {"c": 2}}) == fingerprint({"b": {"c": 2}, "a": "1"})
    assert fingerprint({"amount": "0.01"}) != fingerprint({"amount": "0.010"})


@pytest.mark.parametrize("key", [None, "", "   "])
def test_a_missing_idempotency_key_is_required(key: str | None) -> None:
    with pytest.raises(IdempotencyKeyRequired):
        checked_key(key)


@pytest.mark.parametrize("key", ["a" * 256, "with space", "tab\there", "é"])
def test_an_unusable_idempotency_key_is_refused(key: str) -> None:
    with pytest.raises(IdempotencyKeyInvalid):
        checked_key(key)


def test_a_uuid_is_a_good_idempotency_key() -> None:
    assert checked_key("4f1c2a9e-8d5b-4e0a-9c51-6f3b2d7a8e10") == (
        "4f1c2a9e-8d5b-4e0a-9c51-6f3b2d7a8e10"
    )


def test_attempts_below_the_limit_are_allowed() -> None:
    assert retry_after(4, NOW - timedelta(minutes=1), NOW, LIMIT) is None
    assert retry_after(0, None, NOW, LIMIT) is None


def test_at_the_limit_the_wait_ends_when_the_oldest_failure_leaves_the_window() -> None:
    assert retry_after(5, NOW - timedelta(minutes=1), NOW, LIMIT) == 240
    assert retry_after(9, NOW - timedelta(seconds=299.5), NOW, LIMIT) == 1


def test_a_sealed_secret_opens_only_with_its_context() -> None:
    box = SecretBox(os.urandom(32))
    sealed = box.seal("JBSWY3DPEHPK3PXP", context="totp:alice")
    assert b"JBSWY3DPEHPK3PXP" not in sealed
    assert box.open(sealed, context="totp:alice") == "JBSWY3DPEHPK3PXP"
    with pytest.raises(DecryptionFailed):
        box.open(sealed, context="totp:mallory")


def test_a_tampered_or_foreign_ciphertext_does_not_open() -> None:
    key = os.urandom(32)
    sealed = bytearray(SecretBox(key).seal("secret", context="c"))
    sealed[-1] ^= 1
    with pytest.raises(DecryptionFailed):
        SecretBox(key).open(bytes(sealed), context="c")
    with pytest.raises(DecryptionFailed):
        SecretBox(os.urandom(32)).open(SecretBox(key).seal("secret", context="c"), context="c")


def test_the_key_never_shows_in_a_repr() -> None:
    key = os.urandom(32)
    assert key.hex() not in repr(SecretBox(key))


@pytest.mark.parametrize("proxies", ["*", "proxy.internal", "10.0.0.1,nonsense", "10.0.0.0/33"])
def test_a_trusted_proxy_that_is_not_an_address_or_network_stops_the_gateway(
    proxies: str,
) -> None:
    with pytest.raises(ValidationError, match="not an IP address or CIDR"):
        GatewaySettings(
            KAFKA_BOOTSTRAP_SERVERS="unused:9092",
            DATABASE_URL="postgresql://unused/unused",
            gateway_trusted_proxies=proxies,
        )


def test_trusted_proxies_are_networks_and_none_by_default() -> None:
    settings = GatewaySettings(
        KAFKA_BOOTSTRAP_SERVERS="unused:9092",
        DATABASE_URL="postgresql://unused/unused",
        gateway_trusted_proxies=" 10.0.0.7, 10.1.2.3/8 ,fd00::/8",
    )
    assert settings.trusted_proxies() == ["10.0.0.7/32", "10.0.0.0/8", "fd00::/8"]
    default = GatewaySettings(
        KAFKA_BOOTSTRAP_SERVERS="unused:9092", DATABASE_URL="postgresql://unused/unused"
    )
    assert default.trusted_proxies() == []


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("Ada@Example.com", "ada@example.com"),
        ("\uff41\uff44\uff41@example.com", "ada@example.com"),  # full-width letters
        ("\u210cal@example.com", "hal@example.com"),  # black-letter capital H
        ("  ada@example.com ", "ada@example.com"),
    ],
)
def test_an_email_is_kept_in_one_spelling(typed: str, stored: str) -> None:
    assert normalised_email(typed) == stored
    assert checked_email(typed) == stored


@pytest.mark.parametrize(
    "bad", ["<script>alert(1)</script>@example.com", "a b@example.com", "ada@localhost", "ada"]
)
def test_what_is_not_an_email_address_is_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="e-mail address"):
        checked_email(bad)
