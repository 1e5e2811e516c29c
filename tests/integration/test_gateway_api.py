"""Every gateway row of API.md through real HTTP, with the real database and broker behind it."""

from __future__ import annotations

import time

import pyotp
import pytest

from shared.contracts.envelope import Envelope
from shared.contracts.execution import ExchangeKeyValidated
from shared.infra.resolve import Infrastructure
from shared.sealed import unseal
from tests.support.gateway_service import (
    PASSWORD,
    Gateway,
    event,
    gateway,
    market_buy,
    new_key,
)
from tests.support.topics import publish_to
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration
__all__ = ["gateway"]


async def test_register_then_login_gives_a_bearer_token(gateway: Gateway) -> None:
    user = await gateway.register()
    response = await user.login()
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == gateway.settings.jwt_ttl_seconds
    balances = await gateway.http.get("/v1/balances", headers=user.auth())
    assert balances.json() == {"items": []}


async def test_an_email_registers_once(gateway: Gateway) -> None:
    user = await gateway.register()
    again = await gateway.http.post(
        "/v1/auth/register", json={"email": user.email.upper(), "password": PASSWORD}
    )
    assert again.status_code == 409
    assert again.json()["code"] == "email_taken"


async def test_a_short_password_or_a_bad_email_is_422(gateway: Gateway) -> None:
    for body in ({"email": "a@b.co", "password": "short"}, {"email": "nope", "password": PASSWORD}):
        response = await gateway.http.post("/v1/auth/register", json=body)
        assert (response.status_code, response.json()["code"]) == (422, "validation_error")


async def test_a_wrong_password_or_unknown_email_is_invalid_credentials(gateway: Gateway) -> None:
    user = await gateway.register()
    for email, password in ((user.email, "wrong password"), ("ghost@example.com", PASSWORD)):
        response = await gateway.login(email, password)
        assert (response.status_code, response.json()["code"]) == (401, "invalid_credentials")


async def test_registration_and_logins_are_account_activity_events(gateway: Gateway) -> None:
    user = await gateway.register()
    await gateway.login(user.email, "wrong password")

    def mine(messages: list[Envelope]) -> list[Envelope]:
        return [m for m in messages if m.account_id == user.user_id]

    assert len(mine(await gateway.outbox("UserRegistered"))) == 1
    assert len(mine(await gateway.outbox("LoginSucceeded"))) >= 1
    assert len(mine(await gateway.outbox("LoginFailed"))) == 1


async def test_a_paper_order_is_accepted_and_readable_by_its_owner(gateway: Gateway) -> None:
    user = await gateway.register()
    response = await gateway.http.post(
        "/v1/orders", json=market_buy("0.015"), headers=user.auth(new_key())
    )
    assert response.status_code == 202, response.text
    accepted = response.json()
    assert accepted["status"] == "requested"

    order = (
        await gateway.http.get(f"/v1/orders/{accepted['order_id']}", headers=user.auth())
    ).json()
    assert order["order_id"] == accepted["order_id"]
    assert (order["symbol"], order["side"], order["type"], order["mode"]) == (
        "BTC/USDT",
        "buy",
        "market",
        "paper",
    )
    assert (order["amount"], order["price"], order["filled_amount"]) == ("0.015", None, "0")
    assert order["average_price"] is None and order["reject_reason"] is None
    assert {"fee", "fee_asset", "created_at", "updated_at"} <= set(order)


async def test_an_accepted_order_is_one_place_order_command_in_the_outbox(gateway: Gateway) -> None:
    user = await gateway.register()
    response = await gateway.http.post(
        "/v1/orders", json=market_buy(), headers=user.auth(new_key())
    )
    order_id = response.json()["order_id"]
    commands = [m for m in await gateway.outbox("PlaceOrder") if m.correlation_id == order_id]
    assert len(commands) == 1
    command = commands[0]
    assert (command.account_id, command.producer) == (user.user_id, "gateway")
    assert command.payload.model_dump(mode="json")["order"]["amount"] == "0.01"
    assert command.payload.model_dump()["two_factor_verified"] is False


async def test_a_money_request_without_an_idempotency_key_is_400(gateway: Gateway) -> None:
    user = await gateway.register()
    response = await gateway.http.post("/v1/orders", json=market_buy(), headers=user.auth())
    assert (response.status_code, response.json()["code"]) == (400, "idempotency_key_required")


async def test_another_users_order_does_not_exist_for_them(gateway: Gateway) -> None:
    alice, bob = await gateway.register(), await gateway.register()
    placed = await gateway.http.post("/v1/orders", json=market_buy(), headers=alice.auth(new_key()))
    order_id = placed.json()["order_id"]
    seen_by_bob = await gateway.http.get(f"/v1/orders/{order_id}", headers=bob.auth())
    assert (seen_by_bob.status_code, seen_by_bob.json()["code"]) == (404, "not_found")
    cancel = await gateway.http.post(f"/v1/orders/{order_id}/cancel", headers=bob.auth(new_key()))
    assert cancel.status_code == 404
    listing = await gateway.http.get("/v1/orders", headers=bob.auth())
    assert listing.json()["items"] == []
    audit = await gateway.http.get(f"/v1/audit?correlation_id={order_id}", headers=bob.auth())
    assert audit.status_code == 404


async def test_orders_are_listed_newest_first_page_by_page(gateway: Gateway) -> None:
    user = await gateway.register()
    placed = []
    for _ in range(5):
        response = await gateway.http.post(
            "/v1/orders", json=market_buy(), headers=user.auth(new_key())
        )
        placed.append(response.json()["order_id"])
    seen: list[str] = []
    cursor: str | None = None
    while True:
        params: dict[str, str | int] = {"limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = (await gateway.http.get("/v1/orders", params=params, headers=user.auth())).json()
        seen += [item["order_id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == list(reversed(placed))
    filtered = await gateway.http.get("/v1/orders?status=filled", headers=user.auth())
    assert filtered.json() == {"items": [], "next_cursor": None}
    bad = await gateway.http.get("/v1/orders?cursor=garbage", headers=user.auth())
    assert (bad.status_code, bad.json()["code"]) == (422, "validation_error")


async def test_cancel_emits_cancel_order_for_the_owner(gateway: Gateway) -> None:
    user = await gateway.register()
    placed = await gateway.http.post("/v1/orders", json=market_buy(), headers=user.auth(new_key()))
    order_id = placed.json()["order_id"]
    response = await gateway.http.post(
        f"/v1/orders/{order_id}/cancel", headers=user.auth(new_key())
    )
    assert response.status_code == 202
    assert response.json() == {"order_id": order_id, "cancel_requested": True}
    cancels = [m for m in await gateway.outbox("CancelOrder") if m.correlation_id == order_id]
    assert len(cancels) == 1


async def test_a_real_order_without_two_factor_is_403_and_creates_nothing(gateway: Gateway) -> None:
    user = await gateway.register()
    body = market_buy(mode="real", exchange="binance")
    response = await gateway.http.post("/v1/orders", json=body, headers=user.auth(new_key()))
    assert (response.status_code, response.json()["code"]) == (403, "two_factor_required")
    listing = await gateway.http.get("/v1/orders", headers=user.auth())
    assert listing.json()["items"] == []
    assert not [m for m in await gateway.outbox("PlaceOrder") if m.account_id == user.user_id]


async def test_two_factor_enrolment_login_and_real_order(gateway: Gateway) -> None:
    user = await gateway.register()
    totp = await user.enable_two_factor()

    without = await user.login()
    assert (without.status_code, without.json()["code"]) == (401, "totp_required")
    wrong = await user.login(totp_code="000000" if totp.now() != "000000" else "111111")
    assert (wrong.status_code, wrong.json()["code"]) == (401, "totp_required")
    code = await user.fresh_code()
    assert (await user.login(totp_code=code)).status_code == 200
    replay = await user.login(totp_code=code)
    assert (replay.status_code, replay.json()["code"]) == (401, "totp_required")

    body = market_buy(mode="real", exchange="binance")
    missing = await gateway.http.post("/v1/orders", json=body, headers=user.auth(new_key()))
    assert (missing.status_code, missing.json()["code"]) == (403, "two_factor_required")
    foreign = pyotp.TOTP(pyotp.random_base32()).now()
    assert foreign not in {totp.at(time.time() + 30 * k) for k in (-1, 0, 1)}
    refused = await gateway.http.post(
        "/v1/orders", json=body, headers=user.auth(new_key(), **{"X-TOTP-Code": foreign})
    )
    assert refused.status_code == 403
    good = await user.fresh_code()
    accepted = await gateway.http.post(
        "/v1/orders", json=body, headers=user.auth(new_key(), **{"X-TOTP-Code": good})
    )
    assert accepted.status_code == 202, accepted.text
    again = await gateway.http.post(
        "/v1/orders", json=body, headers=user.auth(new_key(), **{"X-TOTP-Code": good})
    )
    assert (again.status_code, again.json()["code"]) == (403, "two_factor_required")
    commands = [m for m in await gateway.outbox("PlaceOrder") if m.account_id == user.user_id]
    assert len(commands) == 1
    assert commands[0].payload.model_dump()["two_factor_verified"] is True


async def test_two_factor_is_not_active_until_confirmed(gateway: Gateway) -> None:
    user = await gateway.register()
    enrolled = await gateway.http.post("/v1/auth/2fa/enroll", headers=user.auth())
    body = enrolled.json()
    assert body["otpauth_uri"].startswith("otpauth://totp/")
    assert body["secret"] in body["otpauth_uri"]
    assert (await user.login()).status_code == 200
    wrong = await gateway.http.post(
        "/v1/auth/2fa/confirm", json={"code": "12345x"}, headers=user.auth()
    )
    assert (wrong.status_code, wrong.json()["code"]) == (422, "totp_invalid")
    rows = await gateway.sql(
        "SELECT totp_pending_secret FROM users WHERE user_id = $1", user.user_id
    )
    assert body["secret"].encode() not in bytes(rows[0]["totp_pending_secret"])


async def test_withdrawals_need_two_factor_and_belong_to_their_owner(gateway: Gateway) -> None:
    user, other = await gateway.register(), await gateway.register()
    body = {"asset": "USDT", "amount": "25.5", "address": "TXabc123"}
    refused = await gateway.http.post("/v1/withdrawals", json=body, headers=user.auth(new_key()))
    assert (refused.status_code, refused.json()["code"]) == (403, "two_factor_required")
    await user.enable_two_factor()
    code = await user.fresh_code()
    accepted = await gateway.http.post(
        "/v1/withdrawals", json=body, headers=user.auth(new_key(), **{"X-TOTP-Code": code})
    )
    assert accepted.status_code == 202, accepted.text
    withdrawal_id = accepted.json()["withdrawal_id"]
    assert accepted.json()["status"] == "requested"
    view = await gateway.http.get(f"/v1/withdrawals/{withdrawal_id}", headers=user.auth())
    assert view.json()["amount"] == "25.5"
    assert view.json()["status"] == "requested"
    hidden = await gateway.http.get(f"/v1/withdrawals/{withdrawal_id}", headers=other.auth())
    assert hidden.status_code == 404
    requests = [
        m for m in await gateway.outbox("RequestWithdrawal") if m.correlation_id == withdrawal_id
    ]
    assert len(requests) == 1


async def test_exchange_keys_are_stored_sealed_and_never_returned(gateway: Gateway) -> None:
    user = await gateway.register()
    secret = "exchange-secret-" + new_key()
    gateway.secrets_seen.append(secret)
    body = {"exchange": "binance", "api_key": "api-key-123", "secret": secret}
    response = await gateway.http.post("/v1/exchange-keys", json=body, headers=user.auth())
    assert response.status_code == 201
    created = response.json()
    assert set(created) == {"key_id", "exchange", "validated"}
    assert (created["exchange"], created["validated"]) == ("binance", False)
    rows = await gateway.sql("SELECT secret, api_key FROM exchange_keys")
    assert all(secret.encode() not in bytes(row["secret"]) for row in rows)
    (added,) = [m for m in await gateway.outbox("ExchangeKeyAdded") if m.account_id == user.user_id]
    assert secret not in added.model_dump_json()
    sealed = added.payload.model_dump()["sealed_secret"]
    opened = unseal(sealed, gateway.settings.exchange_seal_key)
    assert opened == {"apiKey": "api-key-123", "secret": secret}


async def test_an_exchange_key_is_marked_validated_when_execution_says_so(
    gateway: Gateway, infra: Infrastructure
) -> None:
    user = await gateway.register()
    body = {"exchange": "binance", "api_key": "k", "secret": "s"}
    created = await gateway.http.post("/v1/exchange-keys", json=body, headers=user.auth())
    key_id = created.json()["key_id"]
    checked = ExchangeKeyValidated(key_id=key_id, exchange="binance", valid=True)
    await publish_to(infra.kafka_access, event(checked, user.user_id, key_id, producer="execution"))

    async def validated() -> list[dict[str, object]]:
        return await gateway.sql("SELECT validated FROM exchange_keys WHERE key_id = $1", key_id)

    await eventually(validated, until=lambda rows: rows == [{"validated": True}], what="validated")


async def test_confirming_two_factor_is_an_activity_event(gateway: Gateway) -> None:
    user = await gateway.register()
    await user.enable_two_factor()
    enabled = [m for m in await gateway.outbox("TwoFactorEnabled") if m.account_id == user.user_id]
    assert len(enabled) == 1


async def test_admin_deposit_emits_record_deposit(gateway: Gateway) -> None:
    user = await gateway.register()
    response = await gateway.deposit(user.user_id, "10000")
    assert response.status_code == 202, response.text
    deposit_id = response.json()["deposit_id"]
    commands = [m for m in await gateway.outbox("RecordDeposit") if m.correlation_id == deposit_id]
    assert len(commands) == 1
    assert commands[0].account_id == user.user_id
    payload = commands[0].payload.model_dump(mode="json")
    assert (payload["amount"], payload["asset"], payload["venue"]) == ("10000", "USDT", "paper")


async def test_deposits_are_for_admins_and_known_users(gateway: Gateway) -> None:
    user = await gateway.register()
    body = {"user_id": user.user_id, "asset": "USDT", "amount": "5", "reference": "r-1"}
    as_user = await gateway.http.post("/v1/admin/deposits", json=body, headers=user.auth(new_key()))
    assert (as_user.status_code, as_user.json()["code"]) == (403, "forbidden")
    unknown = await gateway.deposit("no-such-user", "5")
    assert (unknown.status_code, unknown.json()["code"]) == (404, "not_found")


async def test_kill_switches_are_engaged_listed_and_announced(gateway: Gateway) -> None:
    body = {"scope": "symbol", "target": "ETH/USDT", "engaged": True, "reason": "drill"}
    response = await gateway.http.post("/v1/admin/kill-switch", json=body, headers=gateway.admin())
    assert response.status_code == 200, response.text
    listing = await gateway.http.get("/v1/admin/kill-switch", headers=gateway.admin())
    items = listing.json()["items"]
    assert {"scope": "symbol", "target": "ETH/USDT", "engaged": True} in [
        {k: item[k] for k in ("scope", "target", "engaged")} for item in items
    ]
    events = await gateway.outbox("KillSwitchChanged")
    assert any(e.payload.model_dump()["target"] == "ETH/USDT" for e in events)


async def test_the_owner_reads_the_audit_entries_of_an_order(gateway: Gateway) -> None:
    user = await gateway.register()
    placed = await gateway.http.post("/v1/orders", json=market_buy(), headers=user.auth(new_key()))
    order_id = placed.json()["order_id"]
    response = await gateway.http.get(f"/v1/audit?correlation_id={order_id}", headers=user.auth())
    assert response.status_code == 200
    (entry,) = response.json()["items"]
    assert (entry["type"], entry["producer"], entry["correlation_id"]) == (
        "PlaceOrder",
        "gateway",
        order_id,
    )
    assert {"seq", "occurred_at", "hash", "prev_hash"} <= set(entry)
    as_admin = await gateway.http.get(
        f"/v1/audit?correlation_id={order_id}", headers=gateway.admin()
    )
    assert as_admin.json()["items"] == response.json()["items"]


async def test_health_readiness_and_metrics(gateway: Gateway) -> None:
    assert (await gateway.http.get("/healthz")).status_code == 200
    ready = await gateway.http.get("/readyz")
    assert ready.status_code == 200, ready.text
    assert ready.json()["checks"] == {"database": "ok", "broker": "ok"}
    metrics = await gateway.http.get("/metrics")
    assert "cryptoorch_http_request_seconds_bucket" in metrics.text
    assert "cryptoorch_outbox_backlog" in metrics.text
    assert 'route="/readyz"' in metrics.text


async def test_openapi_is_served(gateway: Gateway) -> None:
    schema = (await gateway.http.get("/openapi.json")).json()
    assert "/v1/orders" in schema["paths"]
    assert "/v1/admin/kill-switch" in schema["paths"]
