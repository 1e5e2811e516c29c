"""Idempotency fingerprints, rate-limit windows and sealed secrets."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

import pytest

from services.gateway.encryption import DecryptionFailed, SecretBox
from services.gateway.errors import IdempotencyKeyInvalid, IdempotencyKeyRequired
from services.gateway.idempotency import checked_key, fingerprint
from services.gateway.ratelimit import AttemptLimit, retry_after

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
