"""Every endpoint of the gateway x {owner, other user, admin, anonymous}.

The matrix is checked against the app's own route table: an endpoint added without a
row fails `test_every_endpoint_has_a_row`. Anonymous is 401 everywhere but on the public
rows; another user's order, withdrawal and audit entries are 404 (never 403, so their
existence is not confirmed); a user on an admin route is 403; the admin passes.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.security.matrix_cells import (
    ADMIN,
    CALLERS,
    OTHER,
    OWNER,
    Expect,
    admin_only,
    any_user,
    ok,
    owner_only,
    owner_or_admin,
    public,
    refused,
)
from tests.security.support import app_endpoints, code_of, enable_two_factor_early, gateway_app
from tests.support.gateway_service import PASSWORD, Gateway, User, market_buy, new_key

pytestmark = pytest.mark.integration


@dataclass
class Scene:
    """The owner (2FA on, one order, one withdrawal), another user, the admin."""

    gateway: Gateway
    owner: User
    other: User
    order_id: str
    withdrawal_id: str
    deposit_id: str = ""

    def headers(self, caller: str) -> dict[str, str]:
        tokens = {OWNER: self.owner.token, OTHER: self.other.token, ADMIN: self.gateway.admin_token}
        return {"Authorization": f"Bearer {tokens[caller]}"} if caller in tokens else {}


@dataclass(frozen=True)
class Call:
    path: str
    json: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)


Build = Callable[[Scene, str], Call]


@dataclass(frozen=True)
class Row:
    expect: dict[str, Expect]
    build: Build


def at(path: str) -> Build:
    return lambda scene, caller: Call(path)


def owner_totp(scene: Scene, caller: str) -> dict[str, str]:
    """A valid, unused code for the owner (the only caller with 2FA); none for the others."""
    if caller != OWNER or scene.owner.totp is None:
        return {}
    step = scene.owner.used_step + 1
    scene.owner.used_step = step
    return {"X-TOTP-Code": scene.owner.totp.generate_otp(step)}


def withdrawal(scene: Scene, caller: str) -> Call:
    body = {"asset": "USDT", "amount": "1", "address": "addr-" + new_key()}
    return Call(
        "/v1/withdrawals", body, {"Idempotency-Key": new_key(), **owner_totp(scene, caller)}
    )


MATRIX: dict[tuple[str, str], Row] = {
    ("GET", "/openapi.json"): Row(public(200), at("/openapi.json")),
    ("GET", "/docs"): Row(public(200), at("/docs")),
    ("GET", "/docs/oauth2-redirect"): Row(public(200), at("/docs/oauth2-redirect")),
    ("GET", "/redoc"): Row(public(200), at("/redoc")),
    ("GET", "/healthz"): Row(public(200), at("/healthz")),
    ("GET", "/readyz"): Row(public(200), at("/readyz")),
    ("GET", "/metrics"): Row(public(200), at("/metrics")),
    ("POST", "/v1/auth/register"): Row(
        public(201),
        lambda s, c: Call(
            "/v1/auth/register",
            {"email": f"new-{uuid.uuid4().hex}@example.com", "password": PASSWORD},
        ),
    ),
    ("POST", "/v1/auth/login"): Row(
        public(200),
        lambda s, c: Call("/v1/auth/login", {"email": s.other.email, "password": PASSWORD}),
    ),
    ("POST", "/v1/auth/2fa/enroll"): Row(
        any_user(200) | {OWNER: refused(409, "two_factor_already_enabled")},
        at("/v1/auth/2fa/enroll"),
    ),
    ("POST", "/v1/auth/2fa/confirm"): Row(
        # a wrong code: 422 once enrolled (the row above), 409 if not, 409 when already on
        any_user(422)
        | {
            OWNER: refused(409, "two_factor_already_enabled"),
            OTHER: ok(409, 422),
            ADMIN: ok(409, 422),
        },
        lambda s, c: Call("/v1/auth/2fa/confirm", {"code": "000000"}),
    ),
    ("POST", "/v1/exchange-keys"): Row(
        any_user(201),
        lambda s, c: Call(
            "/v1/exchange-keys", {"exchange": "binance", "api_key": new_key(), "secret": new_key()}
        ),
    ),
    ("POST", "/v1/orders"): Row(
        any_user(202),
        lambda s, c: Call("/v1/orders", market_buy(), {"Idempotency-Key": new_key()}),
    ),
    ("GET", "/v1/orders"): Row(any_user(200), at("/v1/orders")),
    ("GET", "/v1/orders/{order_id}"): Row(
        owner_only(200), lambda s, c: Call(f"/v1/orders/{s.order_id}")
    ),
    ("POST", "/v1/orders/{order_id}/cancel"): Row(
        owner_only(202),
        lambda s, c: Call(f"/v1/orders/{s.order_id}/cancel", None, {"Idempotency-Key": new_key()}),
    ),
    ("POST", "/v1/orders/cancel-all-after"): Row(
        any_user(200),  # 0: disarmed, nothing of the session is cancelled later
        lambda s, c: Call("/v1/orders/cancel-all-after", {"timeout_seconds": 0}),
    ),
    ("POST", "/v1/withdrawals"): Row(
        # authorised for every user; without 2FA (the other user, the admin) it is refused
        any_user(202)
        | {OTHER: refused(403, "two_factor_required"), ADMIN: refused(403, "two_factor_required")},
        withdrawal,
    ),
    ("GET", "/v1/withdrawals/{withdrawal_id}"): Row(
        owner_only(200), lambda s, c: Call(f"/v1/withdrawals/{s.withdrawal_id}")
    ),
    ("GET", "/v1/balances"): Row(any_user(200), at("/v1/balances")),
    ("GET", "/v1/audit"): Row(
        owner_or_admin(200), lambda s, c: Call(f"/v1/audit?correlation_id={s.order_id}")
    ),
    ("POST", "/v1/admin/deposits"): Row(
        admin_only(202),
        lambda s, c: Call(
            "/v1/admin/deposits",
            {"user_id": s.owner.user_id, "asset": "USDT", "amount": "5", "reference": new_key()},
            {"Idempotency-Key": new_key()},
        ),
    ),
    ("GET", "/v1/admin/deposits/{deposit_id}"): Row(
        admin_only(200), lambda s, c: Call(f"/v1/admin/deposits/{s.deposit_id}")
    ),
    ("POST", "/v1/admin/kill-switch"): Row(
        # released, on an account of this test only: nothing else in the session is halted
        admin_only(200),
        lambda s, c: Call(
            "/v1/admin/kill-switch",
            {"scope": "account", "target": s.other.user_id, "engaged": False, "reason": "drill"},
        ),
    ),
    ("GET", "/v1/admin/kill-switch"): Row(admin_only(200), at("/v1/admin/kill-switch")),
    ("POST", "/v1/admin/restrictions"): Row(
        # lifted, on an account of this test only: nothing else in the session is restricted
        admin_only(200),
        lambda s, c: Call(
            "/v1/admin/restrictions",
            {"scope": "account", "target": s.other.user_id, "restricted": False, "reason": "drill"},
        ),
    ),
    ("GET", "/v1/admin/restrictions"): Row(admin_only(200), at("/v1/admin/restrictions")),
    ("GET", "/v1/admin/audit/export"): Row(admin_only(200), at("/v1/admin/audit/export")),
    ("POST", "/v1/admin/audit/verify"): Row(
        admin_only(200), lambda s, c: Call("/v1/admin/audit/verify", None)
    ),
    ("GET", "/console"): Row(public(200), at("/console")),
    ("POST", "/v1/admin/session"): Row(
        # a user's own right password: still no console session, whoever else calls
        dict.fromkeys(CALLERS, refused(403, "forbidden")),
        lambda s, c: Call(
            "/v1/admin/session",
            {"email": s.other.email, "password": PASSWORD},
            {"X-Requested-By": "console"},
        ),
    ),
    ("GET", "/v1/admin/session"): Row(admin_only(200), at("/v1/admin/session")),
    ("DELETE", "/v1/admin/session"): Row(
        public(204), lambda s, c: Call("/v1/admin/session", None, {"X-Requested-By": "console"})
    ),
    ("GET", "/v1/admin/orders"): Row(admin_only(200), at("/v1/admin/orders")),
    ("GET", "/v1/admin/orders/stream"): Row(
        admin_only(200), at("/v1/admin/orders/stream?max_seconds=1")
    ),
    ("GET", "/v1/admin/orders/{order_id}/timeline"): Row(
        # the admin passes; this gateway's audit trail is empty, so the order has no messages
        admin_only(200) | {ADMIN: refused(404, "not_found")},
        lambda s, c: Call(f"/v1/admin/orders/{s.order_id}/timeline"),
    ),
    ("GET", "/v1/admin/accounts"): Row(admin_only(200), at("/v1/admin/accounts")),
    ("GET", "/v1/admin/system"): Row(admin_only(200), at("/v1/admin/system")),
    ("GET", "/v1/admin/dead-letters"): Row(admin_only(200), at("/v1/admin/dead-letters")),
    ("POST", "/v1/admin/dead-letters/redrive"): Row(
        # the admin passes; no dead letter sits at that offset, so nothing is re-driven
        admin_only(200) | {ADMIN: refused(404, "dead_letter_unknown")},
        lambda s, c: Call(
            "/v1/admin/dead-letters/redrive",
            {"topic": "wallet.commands.v1.dlq", "partition": 0, "offset": 10**12},
        ),
    ),
}


def test_every_endpoint_has_a_row() -> None:
    endpoints = app_endpoints(gateway_app().routes)
    assert endpoints - MATRIX.keys() == set(), "endpoints without a row in the matrix"
    assert MATRIX.keys() - endpoints == set(), "rows for endpoints that no longer exist"


async def scene_of(gateway: Gateway) -> Scene:
    owner, other = await gateway.register(), await gateway.register()
    await enable_two_factor_early(owner)
    placed = await gateway.http.post("/v1/orders", json=market_buy(), headers=owner.auth(new_key()))
    assert placed.status_code == 202, placed.text
    scene = Scene(gateway, owner, other, placed.json()["order_id"], "")
    call = withdrawal(scene, OWNER)
    requested = await gateway.http.post(
        call.path, json=call.json, headers={**owner.auth(), **call.headers}
    )
    assert requested.status_code == 202, requested.text
    scene.withdrawal_id = requested.json()["withdrawal_id"]
    deposited = await gateway.deposit(owner.user_id, "5")
    assert deposited.status_code == 202, deposited.text
    scene.deposit_id = deposited.json()["deposit_id"]
    return scene


async def test_every_endpoint_answers_each_caller_as_the_matrix_says(gateway: Gateway) -> None:
    scene = await scene_of(gateway)
    wrong: list[str] = []
    for (method, _), row in MATRIX.items():
        for caller in CALLERS:
            call = row.build(scene, caller)
            response = await gateway.http.request(
                method, call.path, json=call.json, headers={**scene.headers(caller), **call.headers}
            )
            code = code_of(response)
            if not row.expect[caller].admits(response.status_code, code):
                wrong.append(
                    f"{method} {call.path} as {caller}: {response.status_code} {code or ''}"
                    f" (expected {row.expect[caller]})"
                )
    assert wrong == []


async def test_another_users_resources_are_404_never_403(gateway: Gateway) -> None:
    scene = await scene_of(gateway)
    as_other = scene.other.auth()
    paths = [
        f"/v1/orders/{scene.order_id}",
        f"/v1/withdrawals/{scene.withdrawal_id}",
        f"/v1/audit?correlation_id={scene.order_id}",
        f"/v1/audit?correlation_id={scene.withdrawal_id}",
        f"/v1/audit?correlation_id={scene.owner.user_id}",
    ]
    for path in paths:
        theirs = await gateway.http.get(path, headers=as_other)
        missing = await gateway.http.get(path.replace(scene.order_id, new_key()), headers=as_other)
        assert (theirs.status_code, code_of(theirs)) == (404, "not_found"), path
        assert theirs.json()["title"] == missing.json()["title"], "existence must not leak"
    cancel = await gateway.http.post(
        f"/v1/orders/{scene.order_id}/cancel", headers=scene.other.auth(new_key())
    )
    assert (cancel.status_code, code_of(cancel)) == (404, "not_found")
    listed = await gateway.http.get("/v1/orders", headers=as_other)
    assert scene.order_id not in {item["order_id"] for item in listed.json()["items"]}
    owner_view = await gateway.http.get(f"/v1/orders/{scene.order_id}", headers=scene.owner.auth())
    assert owner_view.json()["status"] == "requested", "the other user's cancel changed nothing"
