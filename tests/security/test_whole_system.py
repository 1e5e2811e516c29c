"""The security run against all five services as real processes, real broker and PostgreSQL.

* A malformed message, and a well-formed one of an unknown version, published on every
  topic end in that topic's `.dlq` (the malformed one parked by each service that consumes the
  topic, the other by each that acts on its type: the audit's always) and change nothing: balances, orders, the ledger's invariants, kill switches.
* Secrets handed to the system (password, TOTP secret, exchange key, access tokens) are in
  no log file and in no row of any service's database (outboxes and the audit trail included).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pyotp
import pytest

from shared.clock import utc_now
from shared.contracts import Topic, encode
from shared.contracts.envelope import new_message
from shared.ids import new_id
from shared.infra.resolve import Infrastructure
from tests.security.poison import (
    ledger_problems,
    parked_by,
    state_of,
    unknown_version_payloads,
)
from tests.security.system_support import (
    envelope_bytes,
    every_row,
    log_text,
    prefix_of,
    query,
    running_system,
)
from tests.support.client import ApiUser, balances_of, create_admin
from tests.support.parking import CONSUMED_BY, parks
from tests.support.system import System
from tests.support.topics import publish_raw
from tests.support.waiting import eventually

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

ADMIN_EMAIL, ADMIN_PASSWORD = "ops@example.com", "admin password " + uuid.uuid4().hex
TERMINAL = {"filled", "rejected", "cancelled", "failed"}
MALFORMED = b"{not json"


@pytest.fixture(scope="module")
def system(infra: Infrastructure, tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    folder: Path = tmp_path_factory.mktemp("security-system")
    with running_system(infra, folder, CRYPTOORCH_LOG_LEVEL="DEBUG") as running:
        create_admin(running.env, ADMIN_EMAIL, ADMIN_PASSWORD)
        yield running


@pytest.fixture
async def admin(system: System) -> AsyncIterator[ApiUser]:
    user = await ApiUser(system.gateway_url, ADMIN_EMAIL, ADMIN_PASSWORD).login()
    yield user
    await user.close()


async def buy_and_wait_filled(user: ApiUser) -> dict[str, Any]:
    placed = await user.place_order(symbol="BTC/USDT", side="buy", type="market", amount="0.01")
    assert placed.status_code == 202, placed.text
    order_id = placed.json()["order_id"]
    return await eventually(
        lambda: user.order(order_id),
        until=lambda o: o["status"] in TERMINAL,
        timeout=60,
        what=f"order {order_id} terminal",
    )


async def test_poison_on_every_topic_is_parked_in_its_dlq_and_changes_nothing(
    system: System, admin: ApiUser
) -> None:
    user = await ApiUser(
        system.gateway_url, f"{new_id()}@example.com", "a long password"
    ).register()
    try:
        assert (await admin.deposit(user.user_id, "USDT", "10000")).status_code == 202
        await eventually(
            user.balances,
            until=lambda b: balances_of(b, "USDT") == (Decimal(10000), Decimal(0)),
            what="deposit credited",
        )
        first = await buy_and_wait_filled(user)
        assert first["status"] == "filled", first
        await eventually(
            user.balances,
            until=lambda b: balances_of(b, "USDT")[1] == 0 and "BTC" in b,
            what="first order settled",
        )
        before = await state_of(system, user)

        payloads = unknown_version_payloads(user.user_id)
        injected: dict[str, list[bytes]] = {}
        for topic in Topic:
            payload = payloads[topic]  # a KeyError here: a new topic needs a poison message
            assert payload.TOPIC is topic
            message = new_message(
                payload,
                producer="attacker",
                account_id=user.user_id,
                correlation_id=new_id(),
                now=utc_now(),
            )
            unknown_version = envelope_bytes(encode(message).decode(), version=99)
            injected[topic.value] = [MALFORMED, unknown_version]
            await publish_raw(
                system.env["KAFKA_BOOTSTRAP_SERVERS"],
                topic.value,
                user.user_id,
                *injected[topic.value],
            )

        prefix = prefix_of(system)
        expected = {
            (topic, value): {f"{prefix}.{s}" for s in CONSUMED_BY if parks(s, topic, value)}
            for topic, values in injected.items()
            for value in values
        }
        assert all(expected.values()), "every topic has a consumer"
        await eventually(
            lambda: parked_by(system, injected),
            until=lambda parked: parked == expected,
            timeout=90,
            interval=1,
            what="every consumer of every topic to park both messages in the topic's DLQ",
        )

        assert await state_of(system, user) == before
        assert await ledger_problems(system) == []
        after = await buy_and_wait_filled(user)
        assert after["status"] == "filled", after  # not halted: the partitions moved on
    finally:
        await user.close()


async def test_no_secret_reaches_a_log_a_message_or_a_database(system: System) -> None:
    marker = uuid.uuid4().hex
    password = f"password-{marker}"
    wrong_password = f"mistyped-{marker}"
    key = {
        "exchange": "binance",
        "api_key": f"api-key-{marker}",
        "secret": f"exchange-secret-{marker}",
        "password": f"exchange-passphrase-{marker}",
    }
    email = f"secretive-{marker}@example.com"
    async with httpx.AsyncClient(base_url=system.gateway_url, timeout=30) as http:
        registered = await http.post(
            "/v1/auth/register", json={"email": email, "password": password}
        )
        assert registered.status_code == 201, registered.text
        user_id = registered.json()["user_id"]
        again = await http.post("/v1/auth/register", json={"email": email, "password": password})
        assert again.status_code == 409
        failed = await http.post(
            "/v1/auth/login", json={"email": email, "password": wrong_password}
        )
        assert failed.status_code == 401
        login = await http.post("/v1/auth/login", json={"email": email, "password": password})
        token = login.json()["access_token"]
        auth = {"Authorization": f"Bearer {token}"}
        enrolled = await http.post("/v1/auth/2fa/enroll", headers=auth)
        totp_secret = enrolled.json()["secret"]
        totp = pyotp.TOTP(totp_secret)
        confirmed = await http.post("/v1/auth/2fa/confirm", json={"code": totp.now()}, headers=auth)
        assert confirmed.status_code == 200, confirmed.text
        second = await http.post(
            "/v1/auth/login",
            json={"email": email, "password": password, "totp_code": totp.at(time.time() + 30)},
        )
        assert second.status_code == 200, second.text
        second_token = second.json()["access_token"]
        added = await http.post("/v1/exchange-keys", json=key, headers=auth)
        assert added.status_code == 201, added.text

    async def audited_types() -> set[str]:
        rows = await query(
            system, "audit", "SELECT type FROM audit_trail WHERE account_id = $1", user_id
        )
        return {row["type"] for row in rows}

    await eventually(
        audited_types,
        until=lambda types: {"LoginFailed", "TwoFactorEnabled", "ExchangeKeyAdded"} <= types,
        timeout=60,
        what="the user's activity in the audit trail",
    )

    secrets = {
        "password": password,
        "mistyped password": wrong_password,
        "TOTP secret": totp_secret,
        "exchange api key": key["api_key"],
        "exchange secret": key["secret"],
        "exchange passphrase": key["password"],
        "access token": token,
        "second access token": second_token,
    }
    places: dict[str, str] = {f"log {name}": text for name, text in log_text(system).items()}
    for service in CONSUMED_BY:
        for table, rows in (await every_row(system, service)).items():
            places[f"{service} database {table}"] = "\n".join(rows)
    # the search reaches the rows and logs where a leak would be: what is not secret is there
    assert any(email in text for where, text in places.items() if "gateway database" in where)
    assert any("ExchangeKeyAdded" in text for where, text in places.items() if "audit" in where)
    assert all(text for where, text in places.items() if where.startswith("log ")), places.keys()
    leaks = [
        f"{what} in {where}"
        for what, secret in secrets.items()
        for where, text in places.items()
        if secret in text
    ]
    assert leaks == []
