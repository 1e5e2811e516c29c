"""Idempotency-Key on money endpoints: one effect per key, replays identical, misuse refused."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest

from tests.support.gateway_service import Gateway, gateway, market_buy, new_key

pytestmark = pytest.mark.integration
__all__ = ["gateway"]


async def test_fifty_concurrent_requests_with_one_key_make_exactly_one_order(
    gateway: Gateway,
) -> None:
    user = await gateway.register()
    key = new_key()
    responses = await asyncio.gather(
        *(
            gateway.http.post("/v1/orders", json=market_buy(), headers=user.auth(key))
            for _ in range(50)
        )
    )
    statuses = Counter(r.status_code for r in responses)
    assert set(statuses) <= {202, 409}, statuses
    accepted = {r.json()["order_id"] for r in responses if r.status_code == 202}
    assert len(accepted) == 1
    in_flight = [r.json()["code"] for r in responses if r.status_code == 409]
    assert set(in_flight) <= {"idempotency_request_in_progress"}
    orders = await gateway.sql("SELECT order_id FROM orders WHERE user_id = $1", user.user_id)
    assert [row["order_id"] for row in orders] == list(accepted)
    commands = [m for m in await gateway.outbox("PlaceOrder") if m.account_id == user.user_id]
    assert len(commands) == 1


async def test_a_replay_returns_the_identical_body_and_says_so(gateway: Gateway) -> None:
    user = await gateway.register()
    key = new_key()
    first = await gateway.http.post("/v1/orders", json=market_buy(), headers=user.auth(key))
    again = await gateway.http.post("/v1/orders", json=market_buy(), headers=user.auth(key))
    assert first.status_code == again.status_code == 202
    assert again.content == first.content
    assert again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    listing = await gateway.http.get("/v1/orders", headers=user.auth())
    assert len(listing.json()["items"]) == 1


async def test_the_same_key_with_another_body_is_422(gateway: Gateway) -> None:
    user = await gateway.register()
    key = new_key()
    await gateway.http.post("/v1/orders", json=market_buy("0.01"), headers=user.auth(key))
    other = await gateway.http.post("/v1/orders", json=market_buy("0.02"), headers=user.auth(key))
    assert (other.status_code, other.json()["code"]) == (422, "idempotency_key_reused")


async def test_a_key_is_scoped_to_its_user_and_endpoint(gateway: Gateway) -> None:
    alice, bob = await gateway.register(), await gateway.register()
    key = new_key()
    a = await gateway.http.post("/v1/orders", json=market_buy(), headers=alice.auth(key))
    b = await gateway.http.post("/v1/orders", json=market_buy(), headers=bob.auth(key))
    assert a.status_code == b.status_code == 202
    assert a.json()["order_id"] != b.json()["order_id"]
    cancel = await gateway.http.post(
        f"/v1/orders/{a.json()['order_id']}/cancel", headers=alice.auth(key)
    )
    assert cancel.status_code == 202


async def test_a_refused_request_leaves_its_key_unused(gateway: Gateway) -> None:
    user = await gateway.register()
    key = new_key()
    body = market_buy(mode="real", exchange="binance")
    refused = await gateway.http.post("/v1/orders", json=body, headers=user.auth(key))
    assert refused.status_code == 403
    paper = await gateway.http.post(
        "/v1/orders", json=body | {"mode": "paper", "exchange": "paper"}, headers=user.auth(key)
    )
    assert paper.status_code == 202


async def test_deposit_replays_credit_once(gateway: Gateway) -> None:
    user = await gateway.register()
    key = new_key()
    body = {"user_id": user.user_id, "asset": "USDT", "amount": "100", "reference": "wire-1"}
    headers = {**gateway.admin(), "Idempotency-Key": key}
    first = await gateway.http.post("/v1/admin/deposits", json=body, headers=headers)
    again = await gateway.http.post("/v1/admin/deposits", json=body, headers=headers)
    assert first.content == again.content
    deposits = [m for m in await gateway.outbox("RecordDeposit") if m.account_id == user.user_id]
    assert len(deposits) == 1


async def test_keys_older_than_the_retention_are_purged(gateway: Gateway) -> None:
    from datetime import UTC, datetime, timedelta

    from services.gateway.app import purge_expired

    user = await gateway.register()
    key = new_key()
    await gateway.http.post("/v1/orders", json=market_buy(), headers=user.auth(key))
    await gateway.sql(
        "UPDATE idempotency_keys SET created_at = now() - interval '25 hours' WHERE key = $1", key
    )
    await purge_expired(gateway.runtime.pool, gateway.settings, datetime.now(UTC))
    assert await gateway.sql("SELECT 1 FROM idempotency_keys WHERE key = $1", key) == []
    assert timedelta(hours=gateway.settings.idempotency_retention_hours) == timedelta(hours=24)


async def test_a_key_past_the_retention_is_new_again_before_the_purge(gateway: Gateway) -> None:
    user = await gateway.register()
    key = new_key()
    first = await gateway.http.post("/v1/orders", json=market_buy("0.01"), headers=user.auth(key))
    await gateway.sql(
        "UPDATE idempotency_keys SET created_at = now() - interval '25 hours' WHERE key = $1", key
    )
    again = await gateway.http.post("/v1/orders", json=market_buy("0.02"), headers=user.auth(key))
    assert first.status_code == again.status_code == 202
    assert "idempotent-replayed" not in again.headers
    assert again.json()["order_id"] != first.json()["order_id"]
    replay = await gateway.http.post("/v1/orders", json=market_buy("0.02"), headers=user.auth(key))
    assert replay.content == again.content
    assert replay.headers["idempotent-replayed"] == "true"
