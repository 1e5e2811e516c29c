"""The HTTP edge without a database: bodies are validated and every error is problem+json
with a stable code before anything touches storage."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from services.gateway import NAME, errors
from services.gateway.app import create_app
from services.gateway.auth import Principal, Role, TokenIssuer
from services.gateway.problems import HTTP_STATUS_CODES, PROBLEMS, kind_of
from services.gateway.settings import GatewaySettings
from shared.emitter import Emitter
from tests.support.no_database import UntouchablePool

JWT_SECRET = "unit-test-secret-" + "x" * 40
NOW = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


async def no_broker() -> bool:
    return False


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    settings = GatewaySettings(jwt_secret=JWT_SECRET, max_body_bytes=4096)
    app = create_app(
        UntouchablePool(),
        settings,
        broker_ready=no_broker,
        emitter=Emitter(NAME, clock=lambda: NOW),
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as http:
        yield http


def bearer(role: Role = Role.USER, issued: datetime = NOW) -> dict[str, str]:
    token = TokenIssuer(JWT_SECRET, 900).issue(Principal("user-1", role), issued)
    return {"Authorization": f"Bearer {token}", "Idempotency-Key": "k-1"}


def order(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"symbol": "BTC/USDT", "side": "buy", "type": "market", "amount": "0.01"}
    body.update(changes)
    return {key: value for key, value in body.items() if value is not ...}


def assert_problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem: dict[str, Any] = response.json()
    assert problem["code"] == code
    assert problem["status"] == status
    assert set(problem) == {"type", "title", "status", "code", "detail"}
    return problem


@pytest.mark.parametrize(
    ("amount", "why"),
    [
        (0.01, "a JSON number"),
        (1, "a JSON integer"),
        ("1e-2", "an exponent"),
        ("NaN", "NaN"),
        ("Infinity", "Infinity"),
        ("0.0000000000000000001", "19 decimals"),
        ("0", "zero"),
        ("-0.01", "negative"),
        ("", "empty"),
        ("0x10", "hex"),
        (None, "null"),
    ],
)
async def test_an_amount_that_is_not_a_positive_decimal_string_is_422(
    client: httpx.AsyncClient, amount: object, why: str
) -> None:
    response = await client.post("/v1/orders", json=order(amount=amount), headers=bearer())
    problem = assert_problem(response, 422, "validation_error")
    assert problem["detail"].startswith("amount"), why


async def test_a_zero_amount_says_it_must_be_greater_than_zero(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/orders", json=order(amount="0"), headers=bearer())
    assert assert_problem(response, 422, "validation_error")["detail"] == (
        "amount: must be greater than 0"
    )


@pytest.mark.parametrize(
    "changes",
    [
        {"symbol": "btc/usdt"},
        {"symbol": "BTCUSDT"},
        {"symbol": "BTC/USDT; DROP TABLE"},
        {"side": "hold"},
        {"type": "stop"},
        {"type": "limit"},
        {"price": "65000"},
        {"type": "limit", "price": 65000},
        {"mode": "real"},
        {"mode": "paper", "exchange": "binance"},
        {"leverage": "10"},
    ],
    ids=[
        "lowercase symbol",
        "no slash",
        "injection",
        "unknown side",
        "unknown type",
        "limit without price",
        "market with price",
        "numeric price",
        "real without exchange",
        "paper on a real exchange",
        "unknown field",
    ],
)
async def test_a_malformed_order_is_422(client: httpx.AsyncClient, changes: dict[str, Any]) -> None:
    response = await client.post("/v1/orders", json=order(**changes), headers=bearer())
    assert_problem(response, 422, "validation_error")


@pytest.mark.parametrize(
    "timeout",
    [-1, 601, 1.5, 30.0, "30", True, None, ...],
    ids=["-1", "601", "1.5", "30.0", "string", "bool", "null", "missing"],
)
async def test_a_cancel_all_after_timeout_outside_0_to_600_whole_seconds_is_422(
    client: httpx.AsyncClient, timeout: object
) -> None:
    body = {} if timeout is ... else {"timeout_seconds": timeout}
    response = await client.post("/v1/orders/cancel-all-after", json=body, headers=bearer())
    problem = assert_problem(response, 422, "validation_error")
    assert problem["detail"].startswith("timeout_seconds")


async def test_a_body_that_is_not_json_is_422(client: httpx.AsyncClient) -> None:
    headers = {**bearer(), "Content-Type": "application/json"}
    response = await client.post("/v1/orders", content=b"{not json", headers=headers)
    assert_problem(response, 422, "validation_error")


async def test_a_body_over_the_cap_is_413(client: httpx.AsyncClient) -> None:
    body = order(symbol="BTC/USDT" + " " * 5000)
    response = await client.post("/v1/orders", content=json.dumps(body), headers=bearer())
    assert_problem(response, 413, "payload_too_large")


async def test_a_streamed_body_over_the_cap_is_413(client: httpx.AsyncClient) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(10):
            yield b" " * 1000

    response = await client.post("/v1/orders", content=chunks(), headers=bearer())
    assert_problem(response, 413, "payload_too_large")


async def test_no_token_is_401_unauthorized(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/orders", json=order())
    assert_problem(response, 401, "unauthorized")
    assert response.headers["www-authenticate"] == "Bearer"


async def test_an_expired_token_is_401_token_invalid(client: httpx.AsyncClient) -> None:
    headers = bearer(issued=NOW - timedelta(hours=1))
    response = await client.get("/v1/balances", headers=headers)
    assert_problem(response, 401, "token_invalid")


async def test_a_tampered_token_is_401_token_invalid(client: httpx.AsyncClient) -> None:
    headers = bearer()
    headers["Authorization"] = headers["Authorization"][:-2] + "xx"
    response = await client.get("/v1/orders/some-id", headers=headers)
    assert_problem(response, 401, "token_invalid")


async def test_an_alg_none_token_is_401_token_invalid(client: httpx.AsyncClient) -> None:
    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    claims = {"sub": "user-1", "role": "admin", "iat": 0, "exp": 2**40, "iss": "cryptoorch"}
    token = f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."
    response = await client.get(
        "/v1/admin/kill-switch", headers={"Authorization": f"Bearer {token}"}
    )
    assert_problem(response, 401, "token_invalid")


async def test_a_user_on_an_admin_endpoint_is_403(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/admin/kill-switch", headers=bearer())
    assert_problem(response, 403, "forbidden")


async def test_an_unknown_path_is_404_not_found(client: httpx.AsyncClient) -> None:
    assert_problem(await client.get("/v1/nothing-here"), 404, "not_found")


async def test_a_wrong_method_is_405(client: httpx.AsyncClient) -> None:
    assert_problem(await client.delete("/v1/orders"), 405, "method_not_allowed")


async def test_a_bad_page_size_is_422(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/orders?limit=1000", headers=bearer())
    assert_problem(response, 422, "validation_error")


async def test_a_kill_switch_target_must_fit_its_scope(client: httpx.AsyncClient) -> None:
    body = {"scope": "global", "target": "x", "engaged": True, "reason": "drill"}
    response = await client.post("/v1/admin/kill-switch", json=body, headers=bearer(Role.ADMIN))
    assert_problem(response, 422, "validation_error")


async def test_readiness_says_what_is_unreachable(client: httpx.AsyncClient) -> None:
    response = await client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"] == {"database": "unreachable", "broker": "unreachable"}


async def test_liveness_and_metrics_answer(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).status_code == 200
    await client.get("/v1/nothing-here")
    metrics = await client.get("/metrics")
    assert metrics.status_code == 200
    assert 'cryptoorch_http_request_seconds_count{method="GET",route="unmatched",status="404"}' in (
        metrics.text
    )


def test_every_gateway_error_has_its_own_problem_mapping() -> None:
    def subclasses(cls: type[errors.GatewayError]) -> set[type[errors.GatewayError]]:
        found = set(cls.__subclasses__())
        return found.union(*(subclasses(sub) for sub in found))

    unmapped = {cls for cls in subclasses(errors.GatewayError) if kind_of(cls).status == 500}
    assert not unmapped


def test_problem_codes_are_stable_names() -> None:
    codes = {kind.code for kind in PROBLEMS.values()} | set(HTTP_STATUS_CODES.values())
    assert all(code.replace("_", "").isalpha() and code.islower() for code in codes)
    assert kind_of(errors.IdempotencyKeyReused).status == 422
    assert kind_of(errors.IdempotencyRequestInProgress).status == 409
    assert kind_of(errors.TooManyAttempts).code == "too_many_attempts"


def test_the_gateway_refuses_a_short_jwt_secret() -> None:
    with pytest.raises(SystemExit, match="CRYPTOORCH_JWT_SECRET"):
        GatewaySettings(jwt_secret="short").check_secrets()


def test_the_gateway_refuses_a_malformed_encryption_key() -> None:
    with pytest.raises(SystemExit, match="CRYPTOORCH_ENCRYPTION_KEY"):
        GatewaySettings(jwt_secret="x" * 32, encryption_key="too-short").check_secrets()
