"""Deposits through the real HTTP API, the real ledger, broker and PostgreSQL: a reference is
used once, an amount the books cannot hold is refused, and every deposit ends credited or
rejected with a reason (issue 14, items 1 and 2)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import httpx
import pytest

from services.ledger.app import MIGRATIONS, NAME, build
from services.ledger.settings import LedgerSettings
from shared.clock import utc_now
from shared.contracts.envelope import new_message
from shared.contracts.wallet import RecordDeposit
from shared.infra.resolve import Infrastructure
from shared.money import BALANCE_LIMIT, MAX_DEPOSIT, format_decimal
from shared.service import ServiceRuntime
from tests.conftest import FAST_GROUPS
from tests.support.gateway_service import Gateway, gateway, new_key
from tests.support.running import running_service
from tests.support.topics import publish_to
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration
__all__ = ["gateway"]


@pytest.fixture(scope="module")
async def ledger(infra: Infrastructure) -> AsyncIterator[ServiceRuntime[Any]]:
    values: dict[str, Any] = {
        "KAFKA_BOOTSTRAP_SERVERS": infra.kafka_bootstrap_servers,
        "DATABASE_URL": infra.database_url,
        "db_prefix": "t" + uuid.uuid4().hex[:12],
        "relay_poll_seconds": 0.2,
        **FAST_GROUPS,
    }
    settings = LedgerSettings(**values)
    async with running_service(NAME, settings, MIGRATIONS, build) as runtime:
        yield runtime


async def deposit(
    gateway: Gateway, user_id: str, amount: str, reference: str, *, asset: str = "USDT", key: str
) -> httpx.Response:
    body = {"user_id": user_id, "asset": asset, "amount": amount, "reference": reference}
    headers = {**gateway.admin(), "Idempotency-Key": key}
    return await gateway.http.post("/v1/admin/deposits", json=body, headers=headers)


async def shown(gateway: Gateway, deposit_id: str) -> dict[str, Any]:
    response = await gateway.http.get(f"/v1/admin/deposits/{deposit_id}", headers=gateway.admin())
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


async def decided(gateway: Gateway, deposit_id: str) -> dict[str, Any]:
    return await eventually(
        lambda: shown(gateway, deposit_id),
        until=lambda d: d["status"] != "requested",
        timeout=30,
        what=f"deposit {deposit_id} credited or rejected",
    )


async def balance(gateway: Gateway, user_id: str, asset: str) -> Decimal | None:
    rows = await gateway.sql(
        "SELECT available FROM balances WHERE user_id = $1 AND asset = $2", user_id, asset
    )
    return rows[0]["available"] if rows else None


async def test_a_reused_reference_is_refused_and_the_first_deposit_credited(
    gateway: Gateway, ledger: ServiceRuntime[Any]
) -> None:
    alice, bob = await gateway.register(), await gateway.register()
    reference = f"bank-{uuid.uuid4()}"
    first = await deposit(gateway, alice.user_id, "100", reference, key=new_key())
    assert first.status_code == 202, first.text
    second = await deposit(gateway, bob.user_id, "7", reference, asset="BTC", key=new_key())
    assert second.status_code == 409, second.text
    assert second.json()["code"] == "deposit_reference_taken"

    credited = await decided(gateway, first.json()["deposit_id"])
    assert credited["status"] == "credited" and credited.get("reject_reason") is None
    assert (credited["user_id"], credited["asset"], credited["reference"]) == (
        alice.user_id,
        "USDT",
        reference,
    )
    assert Decimal(credited["amount"]) == Decimal(100)
    await eventually(
        lambda: balance(gateway, alice.user_id, "USDT"),
        until=lambda b: b == Decimal(100),
        what="alice credited",
    )
    created = await gateway.sql("SELECT user_id FROM deposits WHERE reference = $1", reference)
    assert created == [{"user_id": alice.user_id}]  # nothing created for bob
    assert [m for m in await gateway.outbox("RecordDeposit") if m.account_id == bob.user_id] == []


async def test_an_idempotent_replay_is_still_a_replay(gateway: Gateway) -> None:
    user = await gateway.register()
    key, reference = new_key(), f"bank-{uuid.uuid4()}"
    first = await deposit(gateway, user.user_id, "5", reference, key=key)
    again = await deposit(gateway, user.user_id, "5", reference, key=key)
    assert (first.status_code, again.status_code) == (202, 202)
    assert again.json() == first.json()
    assert again.headers.get("Idempotent-Replayed") == "true"


@pytest.mark.parametrize(
    "amount", ["99999999999999999999", format_decimal(MAX_DEPOSIT) + ".000000000000000001"]
)
async def test_an_amount_the_books_cannot_hold_is_422(gateway: Gateway, amount: str) -> None:
    user = await gateway.register()
    reference = f"bank-{uuid.uuid4()}"
    response = await deposit(gateway, user.user_id, amount, reference, key=new_key())
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "validation_error"
    assert await gateway.sql("SELECT 1 FROM deposits WHERE reference = $1", reference) == []


async def test_deposits_past_the_balance_limit_end_rejected_with_a_reason(
    gateway: Gateway, ledger: ServiceRuntime[Any]
) -> None:
    """Every deposit here is one the gateway accepts; together they would take `world` past
    what the ledger keeps: the last one is rejected, visibly, instead of parked."""
    user = await gateway.register()
    asset = "X" + uuid.uuid4().hex[:8].upper()  # an asset of its own: this test's `world`
    accepted = []
    for _ in range(int(BALANCE_LIMIT / MAX_DEPOSIT) + 1):
        reference = f"bank-{uuid.uuid4()}"
        answer = await deposit(
            gateway,
            user.user_id,
            format_decimal(MAX_DEPOSIT),
            reference,
            asset=asset,
            key=new_key(),
        )
        assert answer.status_code == 202, answer.text
        accepted.append(answer.json()["deposit_id"])
    ended = [await decided(gateway, deposit_id) for deposit_id in accepted]
    assert [d["status"] for d in ended] == ["credited"] * (len(accepted) - 1) + ["rejected"]
    assert ended[-1]["reject_reason"] == "BALANCE_LIMIT"
    await eventually(
        lambda: balance(gateway, user.user_id, asset),
        until=lambda b: b == BALANCE_LIMIT,
        what="the credited deposits in the balance",
    )
    assert await ledger_dead_letters(ledger) == 0


async def test_a_deposit_the_ledger_cannot_book_is_shown_rejected(
    gateway: Gateway, ledger: ServiceRuntime[Any], infra: Infrastructure
) -> None:
    """A deposit the gateway accepted whose reference the ledger finds already booked (here by
    a command published straight to the ledger, as another producer would): rejected with
    the reason, never silently dropped."""
    user = await gateway.register()
    reference = f"bank-{uuid.uuid4()}"
    elsewhere = str(uuid.uuid4())
    command = RecordDeposit(
        deposit_id=elsewhere, asset="USDT", amount=Decimal(3), reference=reference
    )
    await publish_to(
        infra.kafka_access,
        new_message(
            command,
            producer="test",
            account_id=user.user_id,
            correlation_id=elsewhere,
            now=utc_now(),
        ),
    )

    async def booked() -> int:
        return int(
            await ledger.pool.fetchval(
                "SELECT count(*) FROM deposits WHERE deposit_id = $1", elsewhere
            )
        )

    await eventually(booked, until=lambda n: n == 1, what="the other deposit booked")
    response = await deposit(gateway, user.user_id, "50", reference, key=new_key())
    assert response.status_code == 202, response.text
    rejected = await decided(gateway, response.json()["deposit_id"])
    assert rejected["status"] == "rejected"
    assert rejected["reject_reason"] == "DEPOSIT_REFERENCE_TAKEN"
    assert await ledger_dead_letters(ledger) == 0


async def ledger_dead_letters(ledger: ServiceRuntime[Any]) -> int:
    return int(await ledger.pool.fetchval("SELECT count(*) FROM outbox WHERE topic LIKE '%.dlq'"))
