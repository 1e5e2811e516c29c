"""The operator console's state-changing views over HTTP (issue 17): the restricted list,
dead letters, the account's kill switch. Each action is an admin's only and refused without
the console's header or from another origin, and changes nothing then."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from services.audit import store as audit_store
from services.ledger.app import MIGRATIONS as LEDGER_MIGRATIONS
from shared.audit_chain.rows import GENESIS_HASH, next_row, trail_document
from shared.clock import utc_now
from shared.contracts import Envelope, encode, new_message
from shared.contracts.topics import Topic
from shared.contracts.wallet import RecordDeposit
from shared.db import Connection, connect
from shared.infra.resolve import Infrastructure
from shared.kafka import ensure_topics
from shared.service import prepare_database
from tests.integration.test_console import console
from tests.support.console import CONSOLE_HEADER, effects_database
from tests.support.effects import applied_effects, count_effect, running_consumer
from tests.support.gateway_service import Gateway, gateway
from tests.support.waiting import eventually
from tests.unit.audit.messages import filled_order_flow

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


@pytest.fixture
async def consumer_pool(infra: Infrastructure, tmp_path: Path) -> AsyncIterator[asyncpg.Pool]:
    """The database of a consumer that parks a message (inbox, outbox and an effects table)."""
    async with effects_database(infra.database_url, tmp_path / "consumer") as pool:
        yield pool


async def letters_of(console: httpx.AsyncClient, event_id: str) -> list[dict[str, Any]]:
    response = await console.get("/v1/admin/dead-letters")
    assert response.status_code == 200, response.text
    return [
        item
        for topic in response.json()["topics"]
        for item in topic["items"]
        if item["original_event_id"] == event_id
    ]


async def test_a_dead_letter_is_shown_redacted_and_redriven_from_the_console_once_at_most_n_times(
    infra: Infrastructure,
    gateway: Gateway,
    console: httpx.AsyncClient,
    consumer_pool: asyncpg.Pool,
) -> None:
    topic = Topic.WALLET_COMMANDS
    await ensure_topics(infra.kafka_access, [topic.value, topic.dlq])
    correlation = "dlq-" + uuid.uuid4().hex[:8]
    broken = {"yes": True}

    async def apply(conn: Connection, message: Envelope) -> None:
        if message.correlation_id != correlation:
            return  # another test's command
        if broken["yes"]:
            raise RuntimeError("the asset table is missing USDT")  # the cause, fixed later
        await count_effect(conn, message)

    jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl"
    async with running_consumer(
        consumer_pool,
        infra.kafka_access,
        group_id="g-" + correlation,
        topic=topic.value,
        handler=apply,
        max_attempts=1,
    ) as running:
        message = new_message(
            RecordDeposit(deposit_id=correlation, asset="USDT", amount="10", reference=jwt),
            producer="test",
            account_id="acc-" + correlation,
            correlation_id=correlation,
            now=utc_now(),
        )
        await running.producer.send_and_wait(
            topic.value,
            encode(message),
            key=message.account_id.encode(),
            headers=[("authorization", b"Bearer abc.def"), ("trace", b"t-1")],
        )
        event_id = str(message.event_id)

        async def parked() -> list[dict[str, Any]]:
            await running.relay_outbox()
            return await letters_of(console, event_id)

        [letter] = await eventually(parked, what="the poison message listed in the console")
        assert letter["topic"] == topic.dlq and letter["original_topic"] == topic.value
        assert "missing USDT" in letter["error"] and letter["consumer"] == "g-" + correlation
        assert letter["original_message"]["payload"]["reference"] == "[REDACTED]"
        assert letter["original_message"]["payload"]["amount"] == "10"
        assert letter["original_headers"] == {"authorization": "[REDACTED]", "trace": "t-1"}
        assert letter["redrives"] == 0
        where = {"topic": topic.dlq, "partition": letter["partition"], "offset": letter["offset"]}

        cross_site = [
            await console.post("/v1/admin/dead-letters/redrive", json=where),
            await console.post("/v1/admin/dead-letters/redrive", json=where, headers=EVIL),
        ]
        for refused in cross_site:
            assert (refused.status_code, refused.json()["code"]) == (403, "cross_site_refused")
        user = await gateway.register()
        as_user = await gateway.http.post(
            "/v1/admin/dead-letters/redrive", json=where, headers=user.auth()
        )
        assert as_user.status_code == 403
        assert (await letters_of(console, event_id))[0]["redrives"] == 0, "nothing re-driven"

        broken["yes"] = False  # the operator fixes the cause
        for count in (1, 2, 3):  # the first takes effect; the impatient others are duplicates
            redriven = await console.post(
                "/v1/admin/dead-letters/redrive", json=where, headers=CONSOLE_HEADER
            )
            assert redriven.status_code == 200, redriven.text
            assert [r["redrives"] for r in redriven.json()["redriven"]] == [count]
        too_many = await console.post(
            "/v1/admin/dead-letters/redrive", json=where, headers=CONSOLE_HEADER
        )
        assert (too_many.status_code, too_many.json()["code"]) == (409, "redrive_limit_reached")

        applied = partial(applied_effects, consumer_pool)
        assert await eventually(applied, what="the re-driven message applied") == {correlation: 1}
        await eventually(
            lambda: asyncio.sleep(0, running.consumer.stats.duplicates),
            until=lambda d: d >= 2,
            what="the later re-drives skipped by the inbox",
        )
        assert await applied() == {correlation: 1}
        assert (await letters_of(console, event_id))[0]["redrives"] == 3
        unknown = await console.post(
            "/v1/admin/dead-letters/redrive",
            json={**where, "offset": 10**12},
            headers=CONSOLE_HEADER,
        )
        assert (unknown.status_code, unknown.json()["code"]) == (404, "dead_letter_unknown")


async def test_a_dead_letter_of_a_topic_the_gateway_does_not_write_is_left_to_its_owner(
    infra: Infrastructure, console: httpx.AsyncClient, consumer_pool: asyncpg.Pool
) -> None:
    """The console re-drives through the gateway's outbox, and the gateway may not write the
    ledger's topic (the broker's ACLs refuse it, and the refused row would hold every order
    behind it in that outbox): the re-drive is refused with the command that re-drives it
    through the ledger, and nothing is sent or counted."""
    topic = Topic.LEDGER_EVENTS
    await ensure_topics(infra.kafka_access, [topic.value, topic.dlq])
    correlation = "own-" + uuid.uuid4().hex[:8]

    async def apply(conn: Connection, message: Envelope) -> None:
        if message.correlation_id == correlation:
            raise RuntimeError("the statements' fee schedule has no row")

    async with running_consumer(
        consumer_pool,
        infra.kafka_access,
        group_id="g-" + correlation,
        topic=topic.value,
        handler=apply,
        max_attempts=1,
    ) as running:
        message = filled_order_flow(correlation)[2]  # FundsHeld: the ledger's event
        assert message.topic == topic
        await running.producer.send_and_wait(topic.value, encode(message), key=b"acc")

        async def parked() -> list[dict[str, Any]]:
            await running.relay_outbox()
            return await letters_of(console, str(message.event_id))

        [letter] = await eventually(parked, what="the ledger's event parked")
        where = {"topic": topic.dlq, "partition": letter["partition"], "offset": letter["offset"]}
        one = await console.post(
            "/v1/admin/dead-letters/redrive", json=where, headers=CONSOLE_HEADER
        )
        assert (one.status_code, one.json()["code"]) == (409, "redrive_not_owned")
        assert (
            f"cryptoorch dlq redrive --service g-{correlation} --id {letter['id']}"
            in (one.json()["detail"])
        )
        every = await console.post(
            "/v1/admin/dead-letters/redrive",
            json={"topic": topic.dlq, "all": True},
            headers=CONSOLE_HEADER,
        )
        assert every.status_code == 200, every.text
        assert letter["id"] in {r["id"] for r in every.json()["refused"]}
        assert letter["id"] not in {r["id"] for r in every.json()["redriven"]}
        assert (await letters_of(console, str(message.event_id)))[0]["redrives"] == 0


@pytest.mark.parametrize(
    "body",
    [
        {"topic": "wallet.commands.v1.dlq"},
        {"topic": "wallet.commands.v1.dlq", "offset": 1, "all": True},
        {"topic": "wallet.commands.v1", "all": True},
    ],
)
async def test_a_redrive_names_one_dead_letter_or_all_of_a_dead_letter_topic(
    console: httpx.AsyncClient, body: dict[str, Any]
) -> None:
    refused = await console.post(
        "/v1/admin/dead-letters/redrive", json=body, headers=CONSOLE_HEADER
    )
    assert (refused.status_code, refused.json()["code"]) == (422, "validation_error")


async def test_the_system_view_shows_each_service_its_lag_and_the_outbox_without_credentials(
    gateway: Gateway, console: httpx.AsyncClient
) -> None:
    response = await console.get("/v1/admin/system")
    assert response.status_code == 200, response.text
    system = response.json()
    assert system["broker_error"] is None
    services = {s["name"]: s for s in system["services"]}
    assert set(services) == {"gateway", "safety", "execution", "ledger", "audit"}
    assert services["gateway"]["state"] == "up", "its read models consume in this process"
    assert services["gateway"]["members"] >= 1
    assert services["ledger"]["state"] == "down", "no ledger runs in this test"
    for service in services.values():
        assert service["consumer_group"] == f"{gateway.settings.db_prefix}.{service['name']}"
        assert service["consumer_lag"] >= 0 and service["consumer_lag_seconds"] >= 0
    assert system["outbox"]["backlog"] >= 0
    for name in ("gateway", "audit"):  # their databases exist in this test
        assert services[name]["outbox_backlog"] >= 0 and services[name]["outbox_error"] is None
    for name in ("safety", "execution", "ledger"):  # theirs do not: unknown, never a made-up 0
        assert services[name]["outbox_backlog"] is None, services[name]
        assert "cannot be read" in services[name]["outbox_error"]
    password = gateway.settings.database_url.split("@")[0].rsplit(":", 1)[-1]
    assert "@" not in system["database"] and password not in response.text


async def test_the_accounts_view_engages_and_releases_an_accounts_kill_switch(
    gateway: Gateway, console: httpx.AsyncClient
) -> None:
    trader = await gateway.register()

    async def switch_of_trader() -> dict[str, Any] | None:
        listed = await console.get("/v1/admin/accounts", params={"limit": 500})
        [row] = [a for a in listed.json()["items"] if a["account_id"] == trader.user_id]
        switch: dict[str, Any] | None = row["kill_switch"]
        return switch

    engage = {"scope": "account", "target": trader.user_id, "engaged": True, "reason": "drill"}
    for refused in (
        await console.post("/v1/admin/kill-switch", json=engage),
        await console.post("/v1/admin/kill-switch", json=engage, headers=EVIL),
    ):
        assert (refused.status_code, refused.json()["code"]) == (403, "cross_site_refused")
    assert await switch_of_trader() is None, "nothing engaged"
    engaged = await console.post(
        "/v1/admin/kill-switch", json={**engage, "mode": "halt"}, headers=CONSOLE_HEADER
    )
    assert engaged.status_code == 200, engaged.text
    switch = await switch_of_trader()
    assert switch is not None and switch["engaged"] and switch["reason"] == "drill"
    released = await console.post(
        "/v1/admin/kill-switch",
        json={**engage, "engaged": False, "reason": "drill over"},
        headers=CONSOLE_HEADER,
    )
    assert released.status_code == 200, released.text
    switch = await switch_of_trader()
    assert switch is not None and not switch["engaged"]


async def test_the_audit_view_verifies_the_chain_and_names_the_first_bad_row(
    gateway: Gateway, console: httpx.AsyncClient
) -> None:
    empty = await console.post("/v1/admin/audit/verify", headers=CONSOLE_HEADER)
    assert empty.status_code == 200, empty.text
    assert (empty.json()["ok"], empty.json()["rows_checked"]) == (True, 0)
    trail = await connect(gateway.settings.audit_export_url())
    try:
        head = (0, GENESIS_HASH)
        for message in filled_order_flow(f"ord-{uuid.uuid4().hex[:8]}")[:3]:
            row = next_row(*head, trail_document(message))
            await audit_store.append(trail, [row])
            head = (row.seq, row.hash)
        await trail.execute(
            "INSERT INTO audit_checkpoints (seq, hash, taken_at) VALUES ($1, $2, now())", *head
        )
        verified = await console.post("/v1/admin/audit/verify", headers=CONSOLE_HEADER)
        assert verified.status_code == 200, verified.text
        assert verified.json() | {"verified_at": None} == {
            "verified_at": None,
            "verified_by": verified.json()["verified_by"],
            "ok": True,
            "rows_checked": 3,
            "checkpoints_checked": 1,
            "last_seq": 3,
            "first_bad_seq": None,
            "problem": None,
            "detail": None,
        }
        forged = next_row(*head, trail_document(filled_order_flow()[3]))
        await audit_store.append(trail, [replace(forged, hash="f" * 64)])  # a rewritten message
    finally:
        await trail.close()
    for refused in (
        await console.post("/v1/admin/audit/verify"),
        await console.post("/v1/admin/audit/verify", headers=EVIL),
    ):
        assert (refused.status_code, refused.json()["code"]) == (403, "cross_site_refused")
    broken = await console.post("/v1/admin/audit/verify", headers=CONSOLE_HEADER)
    assert broken.status_code == 200, broken.text
    assert (broken.json()["ok"], broken.json()["first_bad_seq"]) == (False, 4)
    assert (broken.json()["rows_checked"], broken.json()["problem"]) == (3, "hash_mismatch")
    audit = (await console.get("/v1/admin/system")).json()["audit"]
    assert audit["checkpoint_seq"] == 3
    last = audit["last_verification"]
    assert (last["ok"], last["first_bad_seq"], last["verified_at"]) == (
        False,
        4,
        broken.json()["verified_at"],
    )


async def test_the_accounts_view_shows_the_venue_report_and_the_drift_per_asset(
    gateway: Gateway, console: httpx.AsyncClient
) -> None:
    trader = await gateway.register()
    await gateway.sql(
        "INSERT INTO exchange_keys (key_id, user_id, exchange, api_key, secret) "
        "VALUES ($1, $2, 'binance', '\\x00', '\\x00')",
        f"key-{trader.user_id}",
        trader.user_id,
    )

    async def row_of_trader() -> tuple[dict[str, Any], str | None]:
        listed = await console.get("/v1/admin/accounts", params={"limit": 500})
        assert listed.status_code == 200, listed.text
        [row] = [a for a in listed.json()["items"] if a["account_id"] == trader.user_id]
        return row, listed.json()["venue_error"]

    row, error = await row_of_trader()  # no ledger database in this test yet
    assert [v["venue"] for v in row["venues"]] == ["binance"]
    assert row["venues"][0]["reported_at"] is None
    assert error is not None and "ledger" in error

    ledger_url = await prepare_database(gateway.settings, "ledger", LEDGER_MIGRATIONS)
    ledger = await connect(ledger_url)
    try:
        await ledger.execute(
            "INSERT INTO venue_reconciliations (account_id, venue, last_observed_at, streak, "
            "last_report_at, last_outcome) VALUES ($1, 'binance', $2, 1, $2, 'disagreed')",
            trader.user_id,
            datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC),
        )
        await ledger.executemany(
            "INSERT INTO venue_comparisons (account_id, venue, asset, ledger_total, venue_total) "
            "VALUES ($1, 'binance', $2, $3, $4)",
            [
                (trader.user_id, "BTC", Decimal("0.01"), Decimal("0.01")),
                (trader.user_id, "USDT", Decimal("1000"), Decimal("900.5")),
            ],
        )
    finally:
        await ledger.close()
    row, error = await row_of_trader()
    assert error is None
    [binance] = row["venues"]
    assert (binance["reported_at"], binance["outcome"]) == ("2025-01-02T03:04:05Z", "disagreed")
    assert binance["assets"] == [
        {"asset": "BTC", "venue_total": "0.01", "ledger_total": "0.01", "drift": "0"},
        {"asset": "USDT", "venue_total": "900.5", "ledger_total": "1000", "drift": "-99.5"},
    ]
    paper_only = await gateway.register()
    row_paper = [
        a
        for a in (await console.get("/v1/admin/accounts", params={"limit": 500})).json()["items"]
        if a["account_id"] == paper_only.user_id
    ]
    assert row_paper[0]["venues"] == []
