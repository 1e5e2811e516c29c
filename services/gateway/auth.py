"""Who is calling: argon2 password hashes, HS256 access tokens, TOTP codes accepted once.

Everything here is pure (no database, no clock): `now` is a parameter, so the
expiry and replay rules are tested without waiting.
"""

from __future__ import annotations

import hmac
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from functools import lru_cache
from typing import Any

import jwt
import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from services.gateway.errors import TokenInvalid

ISSUER = "cryptoorch"
ALGORITHM = "HS256"
TOTP_STEP_SECONDS = 30
TOTP_WINDOW_STEPS = 1
"""Codes of the previous and the next 30 s step are accepted too (clock drift)."""
_CODE = re.compile(r"^\d{6}$")
_hasher = PasswordHasher()


class Role(StrEnum):
    USER = "user"
    ADMIN = "admin"


@dataclass(frozen=True)
class Principal:
    user_id: str
    role: Role
    expires_at: datetime | None = field(default=None, compare=False)
    """When the token that named this principal stops being accepted (None: not from a token)."""

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """True only for the right password. Without a hash (unknown user) the same work is done,
    so the answer's timing does not tell whether the e-mail exists."""
    try:
        return _hasher.verify(password_hash or _dummy_hash(), password) and bool(password_hash)
    except (VerificationError, InvalidHashError):
        return False


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return _hasher.hash("not a password anyone has")


class TokenIssuer:
    """Signs and checks access tokens: `sub` = user id, `role`, `iat`, `exp`, `iss`, and `aud`
    for a token meant for one place only: the console's session cookie carries `aud: console`,
    which the bearer check refuses (PyJWT refuses any `aud` nobody asked for), so the cookie's
    token is never an API token and an API token is never a console session."""

    def __init__(self, secret: str, ttl_seconds: int) -> None:
        self._secret = secret
        self.ttl_seconds = ttl_seconds

    def issue(self, principal: Principal, now: datetime, audience: str | None = None) -> str:
        issued = int(now.timestamp())
        claims: dict[str, Any] = {
            "sub": principal.user_id,
            "role": principal.role.value,
            "iat": issued,
            "exp": issued + self.ttl_seconds,
            "iss": ISSUER,
        }
        if audience is not None:
            claims["aud"] = audience
        return jwt.encode(claims, self._secret, algorithm=ALGORITHM)

    def verify(self, token: str, now: datetime, audience: str | None = None) -> Principal:
        """The token's principal; `TokenInvalid` for a bad signature, another algorithm
        (`none` included), a missing claim, an unknown role, an expired token, or an audience
        other than `audience` (a token with an `aud` is refused where none is expected)."""
        required = ["sub", "role", "iat", "exp", "iss"] + (["aud"] if audience else [])
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                self._secret,
                algorithms=[ALGORITHM],
                issuer=ISSUER,
                audience=audience,
                options={"require": required, "verify_exp": False},
            )
        except jwt.PyJWTError:
            raise TokenInvalid("the access token is invalid") from None
        expires = claims["exp"]
        if not isinstance(expires, int) or now.timestamp() >= expires:
            raise TokenInvalid("the access token has expired")
        subject, role = claims["sub"], claims["role"]
        if not isinstance(subject, str) or not subject or role not in {r.value for r in Role}:
            raise TokenInvalid("the access token is invalid")
        return Principal(subject, Role(role), datetime.fromtimestamp(expires, UTC))


def new_totp_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(secret: str, email: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=ISSUER)


def totp_counter(now: datetime) -> int:
    return int(now.timestamp()) // TOTP_STEP_SECONDS


def matching_counter(secret: str, code: str, now: datetime) -> int | None:
    """The time step whose code `code` is (within the drift window), or None."""
    if not _CODE.match(code):
        return None
    totp = pyotp.TOTP(secret)
    current = totp_counter(now)
    for counter in range(current - TOTP_WINDOW_STEPS, current + TOTP_WINDOW_STEPS + 1):
        if hmac.compare_digest(totp.generate_otp(counter), code):
            return counter
    return None


def accept_code(secret: str, code: str, now: datetime, last_used_counter: int | None) -> int | None:
    """The step to record as used if `code` is valid and newer than the last accepted one.

    A code is accepted once: the same code again, or any code of an earlier step,
    is a replay and is refused (None).
    """
    counter = matching_counter(secret, code, now)
    if counter is None:
        return None
    if last_used_counter is not None and counter <= last_used_counter:
        return None
    return counter
