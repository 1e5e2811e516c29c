"""The restricted list's admin API and the cancel cap, through the gateway's real HTTP, database
and outbox: targets are checked as the kill switch's are (an account is an existing user in
any letter case, stored as its id; a symbol is `BASE/QUOTE`), safety is told through the
outbox, and a cancel storm is refused at the cap while orders go on."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from shared.contracts.restrictions import RestrictionChanged, RestrictionScope
from shared.infra.resolve import Infrastructure
from tests.support.gateway_service import (
    Gateway,
    gateway,
    market_buy,
    new_key,
    running_gateway,
)

pytestmark = pytest.mark.integration
__all__ = ["gateway"]


async def restrict(gateway: Gateway, **body: Any) -> httpx.Response:
    request = {"restricted": True, "reason": "sanctions list", **body}
    return await gateway.http.post("/v1/admin/restrictions", json=request, headers=gateway.admin())


async def listed(gateway: Gateway) -> list[dict[str, Any]]:
    response = await gateway.http.get("/v1/admin/restrictions", headers=gateway.admin())
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def changes_for(gateway: Gateway, target: str) -> list[RestrictionChanged]:
    return [
        m.body(RestrictionChanged)
        for m in await gateway.outbox("RestrictionChanged")
        if m.body(RestrictionChanged).target == target
    ]


async def test_an_account_restriction_names_the_user_and_is_listed_until_lifted(
    gateway: Gateway,
) -> None:
    user = await gateway.register()

    response = await restrict(gateway, scope="account", target=user.user_id.upper())

    assert response.status_code == 200, response.text
    assert (response.json()["target"], response.json()["restricted"]) == (user.user_id, True)
    [item] = [i for i in await listed(gateway) if i["target"] == user.user_id]
    assert (item["scope"], item["reason"]) == ("account", "sanctions list")
    assert set(item) >= {"scope", "target", "reason", "changed_by", "changed_at"}
    [told] = await changes_for(gateway, user.user_id)
    assert (told.scope, told.restricted) == (RestrictionScope.ACCOUNT, True)

    lifted = await restrict(
        gateway, scope="account", target=user.user_id, restricted=False, reason="cleared"
    )

    assert lifted.status_code == 200, lifted.text
    assert user.user_id not in {i["target"] for i in await listed(gateway)}
    assert [c.restricted for c in await changes_for(gateway, user.user_id)] == [True, False]


@pytest.mark.parametrize("target", ["nobody", "00000000-0000-4000-8000-000000000000"])
async def test_an_account_naming_no_user_is_404_and_restricts_nothing(
    gateway: Gateway, target: str
) -> None:
    before = await gateway.outbox("RestrictionChanged")

    response = await restrict(gateway, scope="account", target=target)

    assert response.status_code == 404, response.text
    assert response.json()["code"] == "restriction_target_unknown"
    assert target not in {i["target"] for i in await listed(gateway)}
    assert await gateway.outbox("RestrictionChanged") == before


async def test_a_symbol_is_upper_cased_and_a_malformed_one_is_422(gateway: Gateway) -> None:
    symbol = f"R{uuid.uuid4().hex[:6]}/usdt"

    response = await restrict(gateway, scope="symbol", target=symbol)

    assert response.status_code == 200, response.text
    assert response.json()["target"] == symbol.upper()
    assert symbol.upper() in {i["target"] for i in await listed(gateway)}
    for malformed in ("SOLUSDT", "SOL-USDT", "SOL/USDT ", "../etc"):
        refused = await restrict(gateway, scope="symbol", target=malformed)
        assert refused.status_code == 422, refused.text
        assert refused.json()["code"] == "validation_error"
    wrong_scope = await restrict(gateway, scope="global", target="SOL/USDT")
    assert wrong_scope.status_code == 422, wrong_scope.text


class SettableClock:
    """The wall clock until a test sets a time."""

    def __init__(self) -> None:
        self.fixed: datetime | None = None

    def __call__(self) -> datetime:
        return self.fixed or datetime.now(UTC)


@pytest.fixture(scope="module")
def clock() -> SettableClock:
    return SettableClock()


@pytest.fixture(scope="module")
async def timed_gateway(infra: Infrastructure, clock: SettableClock) -> AsyncIterator[Gateway]:
    """A gateway with the shipped cancel cap (20 per second) whose clock a test may hold."""
    async with running_gateway(infra, clock=clock) as running:
        yield running


async def test_cancels_at_the_cap_pass_and_one_more_is_429_while_orders_go_on(
    timed_gateway: Gateway, clock: SettableClock
) -> None:
    gateway = timed_gateway
    trader, bystander = await gateway.register(), await gateway.register()
    placed = await gateway.http.post(
        "/v1/orders", json=market_buy(), headers=trader.auth(new_key())
    )
    assert placed.status_code == 202, placed.text
    cancel = f"/v1/orders/{placed.json()['order_id']}/cancel"
    clock.fixed = datetime.now(UTC)
    try:
        answers = [
            (await gateway.http.post(cancel, headers=trader.auth(new_key()))).status_code
            for _ in range(20)
        ]
        storm = await gateway.http.post(cancel, headers=trader.auth(new_key()))
        order = await gateway.http.post(
            "/v1/orders", json=market_buy("0.02"), headers=trader.auth(new_key())
        )
        other = await gateway.http.post(
            "/v1/orders", json=market_buy(), headers=bystander.auth(new_key())
        )
        others_cancel = await gateway.http.post(
            f"/v1/orders/{other.json()['order_id']}/cancel", headers=bystander.auth(new_key())
        )
        clock.fixed += timedelta(seconds=1)
        next_second = await gateway.http.post(cancel, headers=trader.auth(new_key()))
    finally:
        clock.fixed = None

    assert answers == [202] * 20
    assert storm.status_code == 429, storm.text
    assert storm.json()["code"] == "too_many_cancels"
    assert storm.headers["Retry-After"] == "1"
    assert order.status_code == 202, order.text
    assert others_cancel.status_code == 202, others_cancel.text
    assert next_second.status_code == 202, next_second.text
