"""Passwords, access tokens and TOTP codes: who gets in, and what is refused."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import jwt
import pyotp
import pytest

from services.gateway.auth import (
    Principal,
    Role,
    TokenIssuer,
    accept_code,
    hash_password,
    matching_counter,
    totp_counter,
    verify_password,
)
from services.gateway.errors import TokenInvalid

SECRET = "s" * 64
NOW = datetime(2026, 1, 5, 12, 0, 0, tzinfo=UTC)
ALICE = Principal("user-alice", Role.USER)


def b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def test_a_fresh_token_names_its_user_and_role() -> None:
    issuer = TokenIssuer(SECRET, ttl_seconds=900)
    token = issuer.issue(Principal("admin-1", Role.ADMIN), NOW)
    assert issuer.verify(token, NOW + timedelta(seconds=899)) == Principal("admin-1", Role.ADMIN)


def test_an_expired_token_is_refused() -> None:
    issuer = TokenIssuer(SECRET, ttl_seconds=900)
    token = issuer.issue(ALICE, NOW)
    with pytest.raises(TokenInvalid, match="expired"):
        issuer.verify(token, NOW + timedelta(seconds=900))


def test_a_token_with_a_tampered_payload_is_refused() -> None:
    issuer = TokenIssuer(SECRET, ttl_seconds=900)
    header, _, signature = issuer.issue(ALICE, NOW).split(".")
    forged = b64(
        {"sub": "user-alice", "role": "admin", "iat": 0, "exp": 2**40, "iss": "cryptoorch"}
    )
    with pytest.raises(TokenInvalid):
        issuer.verify(f"{header}.{forged}.{signature}", NOW)


def test_a_token_signed_with_another_secret_is_refused() -> None:
    token = TokenIssuer("x" * 40, ttl_seconds=900).issue(ALICE, NOW)
    with pytest.raises(TokenInvalid):
        TokenIssuer(SECRET, ttl_seconds=900).verify(token, NOW)


def test_an_unsigned_alg_none_token_is_refused() -> None:
    claims = {"sub": "user-alice", "role": "admin", "iat": 1, "exp": 2**40, "iss": "cryptoorch"}
    token = f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(claims)}."
    with pytest.raises(TokenInvalid):
        TokenIssuer(SECRET, ttl_seconds=900).verify(token, NOW)


def test_a_token_of_another_algorithm_is_refused() -> None:
    claims = {"sub": "user-alice", "role": "user", "iat": 1, "exp": 2**40, "iss": "cryptoorch"}
    token = jwt.encode(claims, SECRET, algorithm="HS512")
    with pytest.raises(TokenInvalid):
        TokenIssuer(SECRET, ttl_seconds=900).verify(token, NOW)


@pytest.mark.parametrize(
    "claims",
    [
        {"sub": "u", "iat": 1, "exp": 2**40, "iss": "cryptoorch"},
        {"sub": "u", "role": "root", "iat": 1, "exp": 2**40, "iss": "cryptoorch"},
        {"sub": "", "role": "user", "iat": 1, "exp": 2**40, "iss": "cryptoorch"},
        {"sub": "u", "role": "user", "iat": 1, "exp": 2**40, "iss": "elsewhere"},
        {"sub": "u", "role": "user", "iat": 1, "iss": "cryptoorch"},
    ],
    ids=["no role", "unknown role", "empty subject", "other issuer", "no expiry"],
)
def test_a_token_missing_or_bending_a_claim_is_refused(claims: dict[str, object]) -> None:
    token = jwt.encode(claims, SECRET, algorithm="HS256")
    with pytest.raises(TokenInvalid):
        TokenIssuer(SECRET, ttl_seconds=900).verify(token, NOW)


def test_garbage_is_not_a_token() -> None:
    with pytest.raises(TokenInvalid):
        TokenIssuer(SECRET, ttl_seconds=900).verify("not.a.token", NOW)


def test_only_the_right_password_verifies() -> None:
    stored = hash_password("correct horse battery")
    assert stored.startswith("$argon2")
    assert verify_password(stored, "correct horse battery")
    assert not verify_password(stored, "correct horse battery!")
    assert not verify_password(None, "correct horse battery")
    assert not verify_password("not-a-hash", "anything")


TOTP_SECRET = pyotp.random_base32()


def code_at(moment: datetime, secret: str = TOTP_SECRET) -> str:
    return pyotp.TOTP(secret).at(moment)


def test_a_current_code_is_accepted_once() -> None:
    code = code_at(NOW)
    first = accept_code(TOTP_SECRET, code, NOW, last_used_counter=None)
    assert first == totp_counter(NOW)
    assert accept_code(TOTP_SECRET, code, NOW + timedelta(seconds=5), first) is None


def test_a_code_older_than_the_last_accepted_one_is_a_replay() -> None:
    later = accept_code(TOTP_SECRET, code_at(NOW), NOW, None)
    earlier_code = code_at(NOW - timedelta(seconds=30))
    assert accept_code(TOTP_SECRET, earlier_code, NOW, later) is None


def test_the_next_step_code_is_accepted_after_the_current_one() -> None:
    used = accept_code(TOTP_SECRET, code_at(NOW), NOW, None)
    next_step = NOW + timedelta(seconds=30)
    assert accept_code(TOTP_SECRET, code_at(next_step), next_step, used) == (used or 0) + 1


def test_a_code_from_one_step_of_drift_is_accepted_but_not_two() -> None:
    assert matching_counter(TOTP_SECRET, code_at(NOW - timedelta(seconds=30)), NOW) is not None
    assert matching_counter(TOTP_SECRET, code_at(NOW - timedelta(seconds=90)), NOW) is None


@pytest.mark.parametrize("code", ["", "12345", "1234567", "abcdef", " 123456"])
def test_malformed_codes_are_refused(code: str) -> None:
    assert accept_code(TOTP_SECRET, code, NOW, None) is None


def test_a_code_of_another_secret_is_refused() -> None:
    other = pyotp.random_base32()
    code = code_at(NOW, other)
    if code in {code_at(NOW + timedelta(seconds=30 * k)) for k in (-1, 0, 1)}:
        pytest.skip("the two secrets collide on this code (1 in ~300,000)")
    assert accept_code(TOTP_SECRET, code, NOW, None) is None
