"""Access tokens that were changed, forged, expired or escalated are refused: 401
`token_invalid` (with `WWW-Authenticate: Bearer`) on user and admin routes alike; a
genuine user token on an admin route is 403."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from typing import Any

import jwt
import pytest

from services.gateway.auth import ALGORITHM, ISSUER
from tests.security.support import code_of
from tests.support.gateway_service import JWT_SECRET, Gateway, User

pytestmark = pytest.mark.integration

USER_ROUTE = "/v1/balances"
ADMIN_ROUTE = "/v1/admin/kill-switch"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def parts(token: str) -> tuple[dict[str, Any], dict[str, Any], str]:
    header, payload, signature = token.split(".")
    return json.loads(unb64(header)), json.loads(unb64(payload)), signature


def reassemble(header: dict[str, Any], payload: dict[str, Any], signature: str) -> str:
    encoded = [b64(json.dumps(part).encode()) for part in (header, payload)]
    return ".".join([*encoded, signature])


def claims_of(user: User, **changes: Any) -> dict[str, Any]:
    now = int(time.time())
    return {"sub": user.user_id, "role": "user", "iat": now, "exp": now + 600, "iss": ISSUER} | (
        changes
    )


def signed(claims: dict[str, Any], secret: str = JWT_SECRET, algorithm: str = ALGORITHM) -> str:
    return jwt.encode(claims, secret, algorithm=algorithm)


def payload_changed(user: User, other: User) -> str:
    header, payload, signature = parts(user.token)
    return reassemble(header, payload | {"sub": other.user_id}, signature)


def role_escalated_in_place(user: User, other: User) -> str:
    header, payload, signature = parts(user.token)
    return reassemble(header, payload | {"role": "admin"}, signature)


def alg_none(user: User, other: User) -> str:
    _, payload, _ = parts(user.token)
    return reassemble({"alg": "none", "typ": "JWT"}, payload | {"role": "admin"}, "")


def alg_none_with_signature(user: User, other: User) -> str:
    header, payload, signature = parts(user.token)
    return reassemble(header | {"alg": "none"}, payload, signature)


TAMPERED: dict[str, Callable[[User, User], str]] = {
    "payload changed (another user's id), signature kept": payload_changed,
    "role claim escalated to admin, signature kept": role_escalated_in_place,
    "alg none, no signature, role admin": alg_none,
    "alg none in the header, old signature": alg_none_with_signature,
    "signed with another secret": lambda u, o: signed(claims_of(u), "another-secret-" + "k" * 32),
    "admin role signed with another secret": lambda u, o: signed(
        claims_of(u, role="admin"), "another-secret-" + "k" * 32
    ),
    "expired": lambda u, o: signed(
        claims_of(u, iat=int(time.time()) - 1200, exp=int(time.time()) - 1)
    ),
    "unknown role": lambda u, o: signed(claims_of(u, role="superuser")),
    "another algorithm (HS384) with the right secret": lambda u, o: signed(
        claims_of(u), algorithm="HS384"
    ),
    "another issuer": lambda u, o: signed(claims_of(u, iss="somebody-else")),
    "no expiry": lambda u, o: signed({k: v for k, v in claims_of(u).items() if k != "exp"}),
    "empty subject": lambda u, o: signed(claims_of(u, sub="")),
    "signature truncated": lambda u, o: u.token[:-4],
    "not a JWT": lambda u, o: "not-a-token",
}


@pytest.fixture(scope="module")
async def users(gateway: Gateway) -> tuple[User, User]:
    return await gateway.register(), await gateway.register()


@pytest.mark.parametrize("tampering", list(TAMPERED))
async def test_a_tampered_token_is_401_on_user_and_admin_routes(
    gateway: Gateway, users: tuple[User, User], tampering: str
) -> None:
    token = TAMPERED[tampering](*users)
    for route in (USER_ROUTE, ADMIN_ROUTE):
        response = await gateway.http.get(route, headers={"Authorization": f"Bearer {token}"})
        assert (response.status_code, code_of(response)) == (401, "token_invalid"), route
        assert response.headers["www-authenticate"] == "Bearer"


async def test_the_untampered_token_passes_so_the_refusals_are_about_tampering(
    gateway: Gateway, users: tuple[User, User]
) -> None:
    user = users[0]
    forged_by_the_key_holder = signed(claims_of(user))
    for token in (user.token, forged_by_the_key_holder):
        response = await gateway.http.get(USER_ROUTE, headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 200, response.text


async def test_a_user_token_on_an_admin_route_is_403(
    gateway: Gateway, users: tuple[User, User]
) -> None:
    response = await gateway.http.get(ADMIN_ROUTE, headers=users[0].auth())
    assert (response.status_code, code_of(response)) == (403, "forbidden")


@pytest.mark.parametrize(
    "authorization",
    ["", "Bearer", "Basic dXNlcjpwYXNz", "Token abc", "bearer"],
)
async def test_a_missing_or_malformed_authorization_header_is_401(
    gateway: Gateway, authorization: str
) -> None:
    response = await gateway.http.get(USER_ROUTE, headers={"Authorization": authorization})
    assert response.status_code == 401
    assert code_of(response) in {"unauthorized", "token_invalid"}


async def test_a_token_expiring_now_is_refused_at_once(
    gateway: Gateway, users: tuple[User, User]
) -> None:
    token = signed(claims_of(users[0], exp=int(time.time())))
    response = await gateway.http.get(USER_ROUTE, headers={"Authorization": f"Bearer {token}"})
    assert (response.status_code, code_of(response)) == (401, "token_invalid")
