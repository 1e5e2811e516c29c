"""A kill switch safety engaged on its own (a balance discrepancy) is listed by
`GET /v1/admin/kill-switch`: the read models take `KillSwitchChanged` from the broker, once,
and never over a newer change, so an admin's release stays released."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shared.contracts.accounts import KillSwitchChanged
from shared.contracts.envelope import Envelope, new_message
from shared.infra.resolve import Infrastructure
from tests.integration.test_gateway_support import Gateway, gateway, publish
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

    await publish(infra, halt)
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
    await publish(infra, halt, stale)
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
    await publish(infra, halt, resent)
    await consumed(gateway, own[0], resent)
    assert await switch_of(gateway, account) == after_release
