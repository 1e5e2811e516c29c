"""Edges of a request an outside attack found (issue 14): whitespace around an amount, a key
given twice, responses left in caches, an e-mail that is not one, a look-alike of a taken
e-mail. Each is refused or answered as the contract says, through the real HTTP API."""

from __future__ import annotations

import json
from typing import Any

import pytest

from services.gateway.api.strict_json import StrictJsonRoute
from tests.security.support import code_of, gateway_app, problem_of
from tests.support.gateway_service import PASSWORD, Gateway, User, market_buy, new_key

pytestmark = pytest.mark.integration

MONEY_BODIES: dict[str, dict[str, Any]] = {
    "/v1/orders": market_buy(),
    "/v1/withdrawals": {"asset": "USDT", "amount": "1", "address": "addr-1"},
    "/v1/admin/deposits": {"user_id": "someone", "asset": "USDT", "amount": "1", "reference": "r"},
}


@pytest.fixture(scope="module")
async def user(gateway: Gateway) -> User:
    return await gateway.register()


def headers_for(gateway: Gateway, user: User, path: str) -> dict[str, str]:
    token = gateway.admin_token if path.startswith("/v1/admin/") else user.token
    return {"Authorization": f"Bearer {token}", "Idempotency-Key": new_key()}


def body_for(user: User, path: str) -> dict[str, Any]:
    body = MONEY_BODIES[path]
    return body | {"user_id": user.user_id} if "admin" in path else body


async def emitted_for(gateway: Gateway, user: User) -> int:
    rows = await gateway.sql("SELECT count(*) AS n FROM outbox WHERE key = $1", user.user_id)
    return int(rows[0]["n"])


@pytest.mark.parametrize("path", list(MONEY_BODIES))
@pytest.mark.parametrize("amount", [" 1", "1 ", "0.0001\n", "\t0.5", "1\r\n"])
async def test_an_amount_with_whitespace_is_422_and_creates_nothing(
    gateway: Gateway, user: User, path: str, amount: str
) -> None:
    before = await emitted_for(gateway, user)
    response = await gateway.http.post(
        path,
        json=body_for(user, path) | {"amount": amount},
        headers=headers_for(gateway, user, path),
    )
    assert (response.status_code, code_of(response)) == (422, "validation_error")
    assert "amount" in problem_of(response)["detail"]
    assert await emitted_for(gateway, user) == before


@pytest.mark.parametrize("path", list(MONEY_BODIES))
async def test_a_key_given_twice_is_422_and_creates_nothing(
    gateway: Gateway, user: User, path: str
) -> None:
    body = body_for(user, path)
    text = json.dumps(body)[:-1] + ', "amount": "100"}'
    before = await emitted_for(gateway, user)
    response = await gateway.http.post(
        path,
        content=text.encode(),
        headers={**headers_for(gateway, user, path), "Content-Type": "application/json"},
    )
    assert (response.status_code, code_of(response)) == (422, "validation_error")
    assert '"amount" appears twice' in problem_of(response)["detail"]
    assert await emitted_for(gateway, user) == before


async def test_a_key_given_twice_in_a_nested_object_is_422(gateway: Gateway) -> None:
    text = b'{"email": "a@example.com", "password": {"x": 1, "x": 2}}'
    response = await gateway.http.post(
        "/v1/auth/register", content=text, headers={"Content-Type": "application/json"}
    )
    assert (response.status_code, code_of(response)) == (422, "validation_error")


def test_every_route_parses_its_json_strictly() -> None:
    contexts = [
        context
        for route in gateway_app().routes
        if callable(getattr(route, "effective_route_contexts", None))
        for context in route.effective_route_contexts()  # type: ignore[attr-defined]
    ]
    assert contexts
    loose = [c.path for c in contexts if not isinstance(c.original_route, StrictJsonRoute)]
    assert loose == []


async def test_every_v1_response_is_no_store_errors_included(gateway: Gateway, user: User) -> None:
    totp = await gateway.register()
    answers = {
        "login": await gateway.login(user.email),
        "balances": await gateway.http.get("/v1/balances", headers=user.auth()),
        "2fa secret": await gateway.http.post("/v1/auth/2fa/enroll", headers=totp.auth()),
        "order": await gateway.http.post(
            "/v1/orders", json=market_buy(), headers=user.auth(new_key())
        ),
        "401": await gateway.http.get("/v1/balances"),
        "404": await gateway.http.get("/v1/no-such-thing", headers=user.auth()),
        "422": await gateway.http.post(
            "/v1/orders", json=market_buy(amount=" 1"), headers=user.auth(new_key())
        ),
        "413": await gateway.http.post(
            "/v1/auth/login", content=b"x" * (gateway.settings.max_body_bytes + 1)
        ),
    }
    statuses = {name: r.status_code for name, r in answers.items()}
    assert statuses == {
        "login": 200,
        "balances": 200,
        "2fa secret": 200,
        "order": 202,
        "401": 401,
        "404": 404,
        "422": 422,
        "413": 413,
    }
    caching = {name: r.headers.get("cache-control") for name, r in answers.items()}
    assert caching == dict.fromkeys(answers, "no-store")


@pytest.mark.parametrize(
    "email",
    [
        "<script>alert(1)</script>@example.com",
        "ada<script>@example.com",
        "ada@exa<script>mple.com",
        "ada smith@example.com",
        "ada@@example.com",
        "ada@example",
        "@example.com",
    ],
)
async def test_registering_what_is_not_an_email_address_is_422(
    gateway: Gateway, email: str
) -> None:
    response = await gateway.http.post(
        "/v1/auth/register", json={"email": email, "password": PASSWORD}
    )
    assert (response.status_code, code_of(response)) == (422, "validation_error")
    assert "email" in problem_of(response)["detail"]
    rows = await gateway.sql("SELECT count(*) AS n FROM users WHERE email = lower($1)", email)
    assert rows[0]["n"] == 0


async def test_a_look_alike_of_a_taken_email_is_taken(gateway: Gateway) -> None:
    local = f"hal{new_key()[:8]}"
    user = await gateway.http.post(
        "/v1/auth/register", json={"email": f"{local}@example.com", "password": PASSWORD}
    )
    assert user.status_code == 201, user.text
    full_width = "".join(chr(ord(c) + 0xFEE0) if c.isalnum() else c for c in local.upper())
    for look_alike in (
        f"{full_width}@example.com",  # in full-width letters and digits
        f"\u210c{local[1:]}@example.com",  # a black-letter H
        f"{local.upper()}@EXAMPLE.COM",
    ):
        response = await gateway.http.post(
            "/v1/auth/register", json={"email": look_alike, "password": PASSWORD}
        )
        assert (response.status_code, code_of(response)) == (409, "email_taken"), look_alike
        signed_in = await gateway.login(look_alike)
        assert signed_in.status_code == 200, "a look-alike signs in to the one account"
