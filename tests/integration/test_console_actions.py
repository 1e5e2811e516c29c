"""The operator console's state-changing views over HTTP (issue 17): the restricted list,
dead letters, the account's kill switch. Each action is an admin's only and refused without
the console's header or from another origin, and changes nothing then."""

from __future__ import annotations

import uuid

import httpx
import pytest

from tests.integration.test_console import console
from tests.integration.test_gateway_support import Gateway, gateway
from tests.support.console import CONSOLE_HEADER

pytestmark = pytest.mark.integration
__all__ = ["console", "gateway"]
EVIL = {**CONSOLE_HEADER, "Origin": "https://evil.example"}


def symbol() -> str:
    return f"R{uuid.uuid4().hex[:5].upper()}/USDT"


async def restricted_targets(console: httpx.AsyncClient) -> set[str]:
    response = await console.get("/v1/admin/restrictions")
    assert response.status_code == 200, response.text
    return {item["target"] for item in response.json()["items"]}


async def test_the_console_restricts_a_symbol_and_lifts_it_with_a_reason(
    console: httpx.AsyncClient,
) -> None:
    target = symbol()
    restrict = {"scope": "symbol", "target": target, "restricted": True, "reason": "delisting"}
    response = await console.post("/v1/admin/restrictions", json=restrict, headers=CONSOLE_HEADER)
    assert response.status_code == 200, response.text
    [listed] = [
        item
        for item in (await console.get("/v1/admin/restrictions")).json()["items"]
        if item["target"] == target
    ]
    assert (listed["scope"], listed["reason"]) == ("symbol", "delisting")
    assert listed["changed_by"] and listed["changed_at"]
    lift = {**restrict, "restricted": False, "reason": "relisted"}
    response = await console.post("/v1/admin/restrictions", json=lift, headers=CONSOLE_HEADER)
    assert response.status_code == 200, response.text
    assert target not in await restricted_targets(console)


async def test_restricting_from_another_site_or_as_a_user_is_refused(
    gateway: Gateway, console: httpx.AsyncClient
) -> None:
    target = symbol()
    restrict = {"scope": "symbol", "target": target, "restricted": True, "reason": "csrf"}
    no_header = await console.post("/v1/admin/restrictions", json=restrict)
    other_origin = await console.post("/v1/admin/restrictions", json=restrict, headers=EVIL)
    for refused in (no_header, other_origin):
        assert (refused.status_code, refused.json()["code"]) == (403, "cross_site_refused")
    user = await gateway.register()
    as_user = await gateway.http.post("/v1/admin/restrictions", json=restrict, headers=user.auth())
    assert as_user.status_code == 403
    assert target not in await restricted_targets(console), "nothing changed"
