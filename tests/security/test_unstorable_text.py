"""Text the database cannot hold (a NUL character) or UTF-8 cannot encode (an unpaired
surrogate, legal in JSON as an escape) is a 422 `validation_error` wherever it comes in:
every string field of every body, secrets included, and identifiers in the path or query.
Found by this run: each of them used to be a 500."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.security.support import code_of, gateway_app
from tests.support.gateway_service import PASSWORD, Gateway, User, market_buy, new_key

pytestmark = pytest.mark.integration

NUL, SURROGATE = "\x00", "\ud800"
DOCUMENT = gateway_app().openapi()
BODY_PATHS = sorted(
    path
    for path, operations in DOCUMENT["paths"].items()
    for operation in operations.values()
    if "requestBody" in operation
)


def valid_bodies(user: User) -> dict[str, dict[str, Any]]:
    """A body each endpoint accepts (or refuses only for business reasons), every optional
    string field present."""
    return {
        "/v1/auth/register": {"email": f"n-{new_key()}@example.com", "password": PASSWORD},
        "/v1/auth/login": {"email": user.email, "password": PASSWORD, "totp_code": "123456"},
        "/v1/auth/2fa/confirm": {"code": "123456"},
        "/v1/exchange-keys": {
            "exchange": "binance",
            "api_key": "k",
            "secret": "s",
            "password": "p",
        },
        "/v1/orders": market_buy(mode="paper", exchange="paper"),
        "/v1/withdrawals": {
            "asset": "USDT",
            "amount": "1",
            "address": "addr",
            "network": "TRC20",
            "exchange": "paper",
        },
        "/v1/admin/deposits": {
            "user_id": user.user_id,
            "asset": "USDT",
            "amount": "1",
            "reference": "ref",
        },
        "/v1/admin/kill-switch": {
            "scope": "account",
            "target": user.user_id,
            "engaged": False,
            "reason": "drill",
        },
        "/v1/admin/restrictions": {
            "scope": "account",
            "target": user.user_id,
            "restricted": False,
            "reason": "drill",
        },
        "/v1/orders/cancel-all-after": {"timeout_seconds": 0},
        "/v1/admin/dead-letters/redrive": {"topic": "wallet.commands.v1.dlq", "offset": 10**12},
        "/v1/admin/session": {"email": user.email, "password": PASSWORD, "totp_code": "123456"},
    }


@pytest.fixture(scope="module")
async def user(gateway: Gateway) -> User:
    return await gateway.register()


def test_every_body_endpoint_has_a_valid_body_here() -> None:
    assert sorted(valid_bodies(User(None, "u", "e@x.io"))) == BODY_PATHS  # type: ignore[arg-type]


@pytest.mark.parametrize("path", BODY_PATHS)
@pytest.mark.parametrize("bad", [NUL, SURROGATE], ids=["NUL", "unpaired surrogate"])
async def test_unstorable_text_in_any_field_is_422(
    gateway: Gateway, user: User, path: str, bad: str
) -> None:
    body = valid_bodies(user)[path]
    token = gateway.admin_token if path.startswith("/v1/admin/") else user.token
    emitted_before = await gateway.sql("SELECT count(*) AS n FROM outbox")
    for field, value in body.items():
        if not isinstance(value, str):
            continue
        poisoned = body | {field: value[:1] + bad + value[1:]}
        headers = {
            "Authorization": f"Bearer {token}",
            "Idempotency-Key": new_key(),
            "Content-Type": "application/json",
        }
        # json.dumps escapes both (\u0000, \ud800) as a client in any language would
        response = await gateway.http.post(path, content=json.dumps(poisoned), headers=headers)
        assert (response.status_code, code_of(response)) == (422, "validation_error"), field
    assert await gateway.sql("SELECT count(*) AS n FROM outbox") == emitted_before


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/orders/a%00b"),
        ("POST", "/v1/orders/a%00b/cancel"),
        ("GET", "/v1/withdrawals/a%00b"),
        ("GET", "/v1/audit?correlation_id=a%00b"),
        ("GET", "/v1/orders?cursor=a%00b"),
    ],
)
async def test_a_nul_in_an_identifier_is_422(
    gateway: Gateway, user: User, method: str, path: str
) -> None:
    response = await gateway.http.request(method, path, headers=user.auth(new_key()))
    assert (response.status_code, code_of(response)) == (422, "validation_error")
