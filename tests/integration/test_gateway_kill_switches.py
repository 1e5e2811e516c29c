"""A kill switch safety engaged on its own (a balance discrepancy) is listed by
`GET /v1/admin/kill-switch`: the read models take `KillSwitchChanged` from the broker, once,
and never over a newer change, so an admin's release stays released. An admin's switch names
an existing account (any letter case, stored as its id) or a `BASE/QUOTE` symbol; anything
else changes nothing."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from shared.contracts.accounts import KillSwitchChanged, KillSwitchMode
from shared.contracts.envelope import Envelope, new_message
from shared.infra.resolve import Infrastructure
from tests.support.gateway_service import Gateway, gateway
from tests.support.topics import publish_to
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration
__all__ = ["gateway"]

HALTED_BY = "safety:reconciliation"
REASON = "balance discrepancy at paper: USDT ledger 100, venue 90 (difference 10)"


def safety_change(
    account: str,
    *,
    engaged: bool,
    at: datetime,
    reason: str = REASON,
    event_id: uuid.UUID | None = None,
) -> Envelope:
    """`KillSwitchChanged` as safety's reconciliation emits it (keyed by the account)."""
    change = KillSwitchChanged(
        scope="account", target=account, engaged=engaged, reason=reason, changed_by=HALTED_BY
    )
    return new_message(
        change,
        producer="safety",
        account_id=account,
        correlation_id=f"discrepancy-{account}",
        now=at,
        event_id=event_id,
    )


async def switch_of(gateway: Gateway, account: str) -> dict[str, Any] | None:
    response = await gateway.http.get("/v1/admin/kill-switch", headers=gateway.admin())
    assert response.status_code == 200, response.text
    mine = [
        i for i in response.json()["items"] if (i["scope"], i["target"]) == ("account", account)
    ]
    assert len(mine) <= 1, mine
    return mine[0] if mine else None


async def consumed(gateway: Gateway, *messages: Envelope) -> None:
    """Wait until the gateway's read models took (or skipped as seen) every one of `messages`."""
    ids = [m.event_id for m in messages]

    async def taken() -> int:
        rows = await gateway.sql("SELECT count(*) AS n FROM inbox WHERE event_id = ANY($1)", ids)
        return int(rows[0]["n"])

    await eventually(taken, until=lambda n: n == len(ids), timeout=30, what="messages consumed")


async def test_a_switch_safety_engaged_is_listed_once_and_an_admin_release_wins(
    gateway: Gateway, infra: Infrastructure
) -> None:
    account = str(uuid.uuid4())
    engaged_at = datetime.now(UTC) - timedelta(seconds=5)
    halt = safety_change(account, engaged=True, at=engaged_at)

    await publish_to(infra.kafka_access, halt)
    listed = await eventually(
        lambda: switch_of(gateway, account),
        until=lambda s: s is not None,
        timeout=30,
        what="safety's halt in the listing",
    )
    assert listed is not None
    assert (listed["engaged"], listed["reason"], listed["changed_by"]) == (True, REASON, HALTED_BY)
    assert datetime.fromisoformat(listed["changed_at"]) == engaged_at

    # Redelivered as is, and an older change with another id (a late, stale event): neither
    # touches the listing.
    stale = safety_change(
        account, engaged=False, at=engaged_at - timedelta(seconds=1), reason="stale"
    )
    await publish_to(infra.kafka_access, halt, stale)
    await consumed(gateway, stale)
    assert await switch_of(gateway, account) == listed

    body = {"scope": "account", "target": account, "engaged": False, "reason": "venue agrees"}
    released = await gateway.http.post("/v1/admin/kill-switch", json=body, headers=gateway.admin())
    assert released.status_code == 200, released.text
    after_release = await switch_of(gateway, account)
    assert after_release is not None
    assert (after_release["engaged"], after_release["reason"]) == (False, "venue agrees")
    assert after_release["changed_by"] != HALTED_BY

    # The gateway's own announcement of the release comes back through the broker, and safety's
    # halt is delivered again (and re-sent under another id): the release stays.
    own = [
        m
        for m in await gateway.outbox("KillSwitchChanged")
        if m.body(KillSwitchChanged).target == account
    ]
    assert len(own) == 1
    resent = safety_change(account, engaged=True, at=engaged_at, event_id=uuid.uuid4())
    await publish_to(infra.kafka_access, halt, resent)
    await consumed(gateway, own[0], resent)
    assert await switch_of(gateway, account) == after_release


async def engage(gateway: Gateway, **body: Any) -> httpx.Response:
    request = {"engaged": True, "reason": "drill", **body}
    return await gateway.http.post("/v1/admin/kill-switch", json=request, headers=gateway.admin())


async def test_an_account_target_in_any_letter_case_is_stored_as_the_user_s_id(
    gateway: Gateway,
) -> None:
    user = await gateway.register()

    response = await engage(
        gateway, scope="account", target=user.user_id.upper(), mode="reduce_only"
    )

    assert response.status_code == 200, response.text
    assert (response.json()["target"], response.json()["mode"]) == (user.user_id, "reduce_only")
    listed = await switch_of(gateway, user.user_id)
    assert listed is not None
    assert (listed["engaged"], listed["mode"]) == (True, "reduce_only")
    [event] = [
        m.body(KillSwitchChanged)
        for m in await gateway.outbox("KillSwitchChanged")
        if m.account_id == user.user_id
    ]
    assert (event.target, event.mode) == (user.user_id, KillSwitchMode.REDUCE_ONLY)


@pytest.mark.parametrize("target", ["nobody", "00000000-0000-4000-8000-000000000000"])
async def test_an_account_naming_no_user_is_404_and_engages_nothing(
    gateway: Gateway, target: str
) -> None:
    before = await gateway.outbox("KillSwitchChanged")

    response = await engage(gateway, scope="account", target=target)

    assert response.status_code == 404, response.text
    assert response.json()["code"] == "kill_switch_target_unknown"
    assert await switch_of(gateway, target) is None
    assert await gateway.outbox("KillSwitchChanged") == before


async def test_a_symbol_target_is_upper_cased_and_a_malformed_one_is_422(
    gateway: Gateway,
) -> None:
    response = await engage(gateway, scope="symbol", target="sol/usdt")
    assert response.status_code == 200, response.text
    assert (response.json()["target"], response.json()["mode"]) == ("SOL/USDT", "halt")

    for malformed in ("SOLUSDT", "SOL-USDT", "SOL/USDT ", "sol/usdt\n", "../etc"):
        refused = await engage(gateway, scope="symbol", target=malformed)
        assert refused.status_code == 422, refused.text
        assert refused.json()["code"] == "validation_error"
