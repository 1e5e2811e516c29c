"""Oversized and malformed bodies: over the cap is 413, invalid JSON is 422 `validation_error`,
unknown fields on money endpoints are 422 and create nothing; every error is
`application/problem+json` with a `code`."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.security.support import code_of, gateway_app, problem_of
from tests.support.gateway_service import Gateway, User, market_buy, new_key

pytestmark = pytest.mark.integration

DOCUMENT = gateway_app().openapi()
BODY_ENDPOINTS = sorted(
    (method.upper(), path)
    for path, operations in DOCUMENT["paths"].items()
    for method, operation in operations.items()
    if "requestBody" in operation
)
MONEY_BODIES: dict[str, dict[str, Any]] = {
    "/v1/orders": market_buy(),
    "/v1/withdrawals": {"asset": "USDT", "amount": "1", "address": "addr-1"},
    "/v1/admin/deposits": {"user_id": "someone", "asset": "USDT", "amount": "1", "reference": "r"},
}
MALFORMED_JSON = {
    "truncated object": b"{not json",
    "empty": b"",
    "unclosed array": b"[1, 2",
    "trailing comma": b'{"a": 1,}',
    "single quotes": b"{'a': 1}",
    "invalid utf-8": b'{"email": "\xff\xfe"}',
    "NaN literal": b'{"amount": NaN}',
    "nested ten thousand deep": b"[" * 10_000 + b"]" * 10_000,
    "a bare string": b'"just a string"',
    "an array": b"[]",
    "null": b"null",
}


@pytest.fixture(scope="module")
async def user(gateway: Gateway) -> User:
    return await gateway.register()


def headers_for(gateway: Gateway, user: User, path: str) -> dict[str, str]:
    token = gateway.admin_token if path.startswith("/v1/admin/") else user.token
    return {"Authorization": f"Bearer {token}", "Idempotency-Key": new_key()}


async def emitted_for(gateway: Gateway, user: User) -> int:
    """How many messages the gateway has emitted keyed by `user` (commands, activity)."""
    rows = await gateway.sql("SELECT count(*) AS n FROM outbox WHERE key = $1", user.user_id)
    return int(rows[0]["n"])


def test_the_body_endpoints_are_the_ones_this_module_knows() -> None:
    money = {path for _, path in BODY_ENDPOINTS if path in MONEY_BODIES}
    assert money == set(MONEY_BODIES), "a money endpoint with a body is missing here"


@pytest.mark.parametrize(("method", "path"), BODY_ENDPOINTS)
@pytest.mark.parametrize("streamed", [False, True], ids=["content-length", "chunked"])
async def test_a_body_over_the_cap_is_413(
    gateway: Gateway, user: User, method: str, path: str, streamed: bool
) -> None:
    cap = gateway.settings.max_body_bytes
    oversized = b'{"pad": "' + b"x" * cap + b'"}'

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(oversized), 4096):
            yield oversized[start : start + 4096]

    before = await emitted_for(gateway, user)
    response = await gateway.http.request(
        method,
        path,
        content=chunks() if streamed else oversized,
        headers={**headers_for(gateway, user, path), "Content-Type": "application/json"},
    )
    assert (response.status_code, code_of(response)) == (413, "payload_too_large")
    assert await emitted_for(gateway, user) == before


async def test_a_declared_length_over_the_cap_is_413_before_the_body_is_sent(
    gateway: Gateway,
) -> None:
    """Raw HTTP (a client library would not send a length it does not mean): the gateway
    answers from the header alone and never waits for the promised bytes."""
    settings = gateway.settings
    reader, writer = await asyncio.open_connection(settings.gateway_host, settings.gateway_port)
    try:
        writer.write(
            b"POST /v1/auth/register HTTP/1.1\r\nHost: gateway\r\n"
            b"Content-Type: application/json\r\n"
            + f"Content-Length: {settings.max_body_bytes * 1000}\r\n\r\n".encode()
            + b"{}"
        )
        await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=10)
        length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
        body = await asyncio.wait_for(reader.readexactly(length), timeout=10)
    finally:
        writer.close()
    assert head.startswith(b"HTTP/1.1 413 "), head
    assert b"content-type: application/problem+json" in head.lower(), head
    assert json.loads(body)["code"] == "payload_too_large"


@pytest.mark.parametrize(("method", "path"), BODY_ENDPOINTS)
@pytest.mark.parametrize("malformed", list(MALFORMED_JSON))
async def test_malformed_json_is_422_validation_error(
    gateway: Gateway, user: User, method: str, path: str, malformed: str
) -> None:
    response = await gateway.http.request(
        method,
        path,
        content=MALFORMED_JSON[malformed],
        headers={**headers_for(gateway, user, path), "Content-Type": "application/json"},
    )
    assert (response.status_code, code_of(response)) == (422, "validation_error"), response.text


@pytest.mark.parametrize("path", list(MONEY_BODIES))
async def test_an_unknown_field_on_a_money_endpoint_is_422_and_creates_nothing(
    gateway: Gateway, user: User, path: str
) -> None:
    body = MONEY_BODIES[path] | {"user_id": user.user_id} if "admin" in path else MONEY_BODIES[path]
    before = await emitted_for(gateway, user)
    for extra in ({"fee_override": "0"}, {"two_factor_verified": True}, {"AMOUNT": "1"}):
        response = await gateway.http.post(
            path, json=body | extra, headers=headers_for(gateway, user, path)
        )
        assert (response.status_code, code_of(response)) == (422, "validation_error")
        assert next(iter(extra)) in problem_of(response)["detail"]
    assert await emitted_for(gateway, user) == before


@pytest.mark.parametrize(
    "amount",
    [
        1,
        0.5,
        "NaN",
        "Infinity",
        "-Infinity",
        "1e3",
        "1E-2",
        "0",
        "-1",
        "0.0000000000000000001",
        "",
        "1,5",
        "0x10",
        None,
        True,
        [],
        {},
    ],
)
async def test_an_amount_that_is_not_a_positive_decimal_string_is_422(
    gateway: Gateway, user: User, amount: Any
) -> None:
    response = await gateway.http.post(
        "/v1/orders", json=market_buy() | {"amount": amount}, headers=user.auth(new_key())
    )
    assert (response.status_code, code_of(response)) == (422, "validation_error")


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/v1/no-such-thing", 404),
        ("DELETE", "/v1/orders", 405),
        ("PUT", "/v1/auth/login", 405),
        ("GET", "/v1/orders?limit=0", 422),
        ("GET", "/v1/orders?limit=abc", 422),
        ("GET", "/v1/orders?cursor=%00%01", 422),
        ("GET", "/v1/audit", 422),
        ("POST", "/v1/orders", 400),
    ],
)
async def test_every_error_is_problem_json_with_a_code(
    gateway: Gateway, user: User, method: str, path: str, status: int
) -> None:
    headers = user.auth()
    response = await gateway.http.request(method, path, headers=headers, json=market_buy())
    assert response.status_code == status
    problem_of(response)


async def test_a_non_json_content_type_is_refused_as_problem_json(
    gateway: Gateway, user: User
) -> None:
    for content_type in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data"):
        response = await gateway.http.post(
            "/v1/orders",
            content=b"symbol=BTC/USDT&side=buy",
            headers={**user.auth(new_key()), "Content-Type": content_type},
        )
        assert 400 <= response.status_code < 500, response.text
        problem_of(response)
