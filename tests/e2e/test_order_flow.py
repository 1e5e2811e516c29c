"""The walking skeleton, end to end: five processes, the real broker, the real PostgreSQL."""

from __future__ import annotations

import hashlib
import itertools
import json
from decimal import Decimal
from typing import Any

import asyncpg
import pytest

from shared.contracts import decode
from shared.settings import database_url_for
from tests.support.client import ApiUser, balances_of, funded_user
from tests.support.system import SERVICES, System
from tests.support.waiting import eventually

pytestmark = pytest.mark.e2e
TERMINAL = {"filled", "rejected", "cancelled", "failed"}


async def order_event_ids(system: System, order_id: str) -> set[str]:
    """Every message any service emitted about this order, from their outboxes."""
    ids: set[str] = set()
    server, prefix = system.env["DATABASE_URL"], system.env["CRYPTOORCH_DB_PREFIX"]
    for name in SERVICES:
        conn = await asyncpg.connect(database_url_for(server, f"{prefix}_{name}"))
        try:
            for row in await conn.fetch("SELECT value FROM outbox WHERE topic NOT LIKE '%.dlq'"):
                message = decode(bytes(row["value"]))
                if message.correlation_id == order_id:
                    ids.add(str(message.event_id))
        finally:
            await conn.close()
    return ids


async def audited_event_ids(system: System, order_id: str) -> list[str]:
    url = database_url_for(
        system.env["DATABASE_URL"], f"{system.env['CRYPTOORCH_DB_PREFIX']}_audit"
    )
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch(
            "SELECT event_id::text AS id FROM audit_trail WHERE correlation_id = $1", order_id
        )
        return [r["id"] for r in rows]
    finally:
        await conn.close()


async def trail_rows_by_hash(system: System, hashes: list[str]) -> dict[str, dict[str, Any]]:
    """The audit service's rows holding these hashes, with the row before each (by hash)."""
    url = database_url_for(
        system.env["DATABASE_URL"], f"{system.env['CRYPTOORCH_DB_PREFIX']}_audit"
    )
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch(
            "SELECT t.seq, t.type, t.correlation_id, t.prev_hash, t.hash, t.message::text AS m, "
            "before.hash AS hash_before FROM audit_trail t "
            "LEFT JOIN audit_trail before ON before.seq = t.seq - 1 WHERE t.hash = ANY($1::text[])",
            hashes,
        )
        return {r["hash"]: {**dict(r), "message": json.loads(r["m"])} for r in rows}
    finally:
        await conn.close()


def recomputed_hash(prev_hash: str, message: Any) -> str:
    """docs/canonical-json.md, standard library only: not the audit service's code."""
    canonical = json.dumps(message, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(bytes.fromhex(prev_hash) + canonical.encode()).hexdigest()


async def assert_audit_entries_carry_the_chain(
    system: System, user: ApiUser, order_id: str
) -> None:
    """`GET /v1/audit` shows each message's hash and prev_hash as the audit service chained it."""

    async def entries() -> list[dict[str, Any]]:
        response = await user.http.get("/v1/audit", params={"correlation_id": order_id})
        assert response.status_code == 200, response.text
        items: list[dict[str, Any]] = response.json()["items"]
        return items

    items = await eventually(
        entries,
        until=lambda items: len(items) >= 5 and all(i["hash"] for i in items),
        what="every audit entry of the order linked to the chain",
    )
    assert all(i["prev_hash"] for i in items), items
    rows = await trail_rows_by_hash(system, [i["hash"] for i in items])
    assert set(rows) == {i["hash"] for i in items}, "an entry's hash is not in the trail"
    for item in items:
        row = rows[item["hash"]]
        assert (row["type"], row["correlation_id"]) == (item["type"], item["correlation_id"])
        assert item["prev_hash"] == row["prev_hash"] == row["hash_before"]
        assert recomputed_hash(item["prev_hash"], row["message"]) == item["hash"]
    by_seq = sorted(items, key=lambda i: rows[i["hash"]]["seq"])
    for before, after in itertools.pairwise(by_seq):
        if rows[after["hash"]]["seq"] == rows[before["hash"]]["seq"] + 1:
            assert after["prev_hash"] == before["hash"]


async def test_deposit_then_market_buy_fills_and_moves_exactly_cost_plus_fee(
    system: System,
) -> None:
    async with funded_user(system) as funded:
        alice = funded.user

        placed = await alice.place_order(
            symbol="BTC/USDT", side="buy", type="market", amount="0.01"
        )
        assert placed.status_code == 202, placed.text
        order_id = placed.json()["order_id"]
        order = await eventually(
            lambda: alice.order(order_id),
            until=lambda o: o["status"] in TERMINAL,
            timeout=60,
            what="order terminal",
        )
        assert order["status"] == "filled", order
        assert Decimal(order["filled_amount"]) == Decimal("0.01")
        cost = Decimal("0.01") * Decimal(order["average_price"]) + Decimal(order["fee"])
        assert order["fee_asset"] == "USDT" and Decimal(order["fee"]) > 0

        balances = await eventually(
            alice.balances,
            until=lambda b: balances_of(b, "USDT")[1] == 0 and "BTC" in b,
            what="hold settled and released",
        )
        assert balances_of(balances, "USDT") == (Decimal("10000") - cost, Decimal(0))
        assert balances_of(balances, "BTC") == (Decimal("0.01"), Decimal(0))

        emitted = await order_event_ids(system, order_id)
        assert (
            len(emitted) >= 6
        )  # PlaceOrder, OrderApproved, FundsHeld, OrderSubmitted, OrderFilled, ...
        audited = await eventually(
            lambda: audited_event_ids(system, order_id),
            until=lambda ids: set(ids) >= emitted,
            what="every message of the order in the audit trail",
        )
        assert sorted(audited) == sorted(set(audited)), "a message was appended twice"
        await assert_audit_entries_carry_the_chain(system, alice, order_id)

        too_big = await alice.place_order(symbol="BTC/USDT", side="buy", type="market", amount="1")
        assert too_big.status_code == 202, too_big.text
        rejected = await eventually(
            lambda: alice.order(too_big.json()["order_id"]),
            until=lambda o: o["status"] in TERMINAL,
            timeout=60,
            what="second order terminal",
        )
        assert (rejected["status"], rejected["reject_reason"]) == ("rejected", "INSUFFICIENT_FUNDS")
        assert await alice.balances() == balances
