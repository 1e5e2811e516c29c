"""The auditor's export of a real trail (five processes, real orders): through
`GET /v1/admin/audit/export` and `cryptoorch audit export`, the same rows, re-verified by an
implementation written from docs/canonical-json.md alone; a changed amount is caught at its row."""

from __future__ import annotations

import asyncio
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.test_order_flow import TERMINAL, order_event_ids
from tests.support.auditor import csv_rows, jsonl_rows, verify_rows
from tests.support.client import ApiUser, balances_of, create_admin
from tests.support.system import System
from tests.support.waiting import eventually

pytestmark = pytest.mark.e2e
PASSWORD = "correct horse battery staple"
REPO_ROOT = Path(__file__).resolve().parents[2]


async def http_export(admin: ApiUser, **params: int) -> str:
    """The endpoint's body, read as a stream (as an auditor's client would)."""
    async with admin.http.stream("GET", "/v1/admin/audit/export", params=params) as response:
        assert response.status_code == 200, await response.aread()
        assert response.headers["content-type"] == "application/x-ndjson"
        return "".join([chunk async for chunk in response.aiter_text()])


async def cli_export(system: System, *args: str) -> str:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "cryptoorch.cli",
        "audit",
        "export",
        *args,
        cwd=REPO_ROOT,
        env=system.env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode == 0, err.decode()
    assert "exported" in err.decode()
    return out.decode()


async def finished(user: ApiUser, order_id: str) -> dict[str, Any]:
    return await eventually(
        lambda: user.order(order_id),
        until=lambda o: o["status"] in TERMINAL,
        timeout=60,
        what=f"order {order_id} terminal",
    )


async def test_an_export_of_real_orders_reverifies_independently_and_shows_tampering(
    system: System, tmp_path: Path
) -> None:
    admin_id = create_admin(system.env, "auditor-ops@example.com", PASSWORD)
    admin = await ApiUser(system.gateway_url, "auditor-ops@example.com", PASSWORD).login()
    alice = await ApiUser(system.gateway_url, "alice-audit@example.com", PASSWORD).register()
    try:
        assert (await admin.deposit(alice.user_id, "USDT", "10000")).status_code == 202
        await eventually(
            alice.balances,
            until=lambda b: balances_of(b, "USDT")[0] == Decimal("10000"),
            what="deposit credited",
        )
        buy = await alice.place_order(symbol="BTC/USDT", side="buy", type="market", amount="0.01")
        huge = await alice.place_order(symbol="BTC/USDT", side="buy", type="market", amount="100")
        bought, refused = buy.json()["order_id"], huge.json()["order_id"]
        assert (await finished(alice, bought))["status"] == "filled"
        assert (await finished(alice, refused))["status"] == "rejected"
        emitted = await order_event_ids(system, bought) | await order_event_ids(system, refused)

        async def exported() -> list[dict[str, Any]]:
            return jsonl_rows(await http_export(admin))

        rows = await eventually(
            exported,
            until=lambda rows: {r["message"]["event_id"] for r in rows} >= emitted,
            what="every message of both orders in the export",
        )
        head = rows[-1]["seq"]

        # The endpoint and the CLI write the same bytes for the same rows.
        text = await http_export(admin, to_seq=head)
        output = tmp_path / "trail.jsonl"
        assert await cli_export(system, "--to-seq", str(head), "--output", str(output)) == ""
        assert output.read_text(encoding="utf-8") == text
        as_csv = await cli_export(system, "--to-seq", str(head), "--format", "csv")
        assert csv_rows(as_csv) == jsonl_rows(text)

        # An auditor with the file and the document re-verifies the whole chain.
        verdict = verify_rows(jsonl_rows(text))
        assert (verdict.ok, verdict.rows, verdict.head_seq) == (True, head, head), verdict
        assert verdict.head_hash == rows[head - 1]["hash"]

        # Each row says who caused it.
        by_type = {(r["message"]["type"], r["message"]["correlation_id"]): r for r in rows}
        assert by_type["PlaceOrder", bought]["actor"] == {
            "kind": "user",
            "id": alice.user_id,
            "rule": None,
        }
        deposit = next(r for r in rows if r["message"]["type"] == "RecordDeposit")
        assert deposit["actor"] == {"kind": "admin", "id": admin_id, "rule": None}
        rejection = by_type["OrderRejected", refused]
        assert rejection["actor"] == {
            "kind": "service",
            "id": "safety",
            "rule": rejection["message"]["payload"]["rule"],
        }
        fill = by_type["OrderFilled", bought]
        assert fill["actor"]["kind"] == "service" and fill["actor"]["id"] == "execution"

        # One changed amount in one message: verification fails at exactly that row.
        lines = text.splitlines(keepends=True)
        amount = f'"amount":"{fill["message"]["payload"]["amount"]}"'
        assert Decimal(fill["message"]["payload"]["amount"]) == Decimal("0.01")
        lines[fill["seq"] - 1] = lines[fill["seq"] - 1].replace(amount, '"amount":"0.02"', 1)
        tampered = verify_rows(jsonl_rows("".join(lines)))
        assert (tampered.ok, tampered.first_bad_seq) == (False, fill["seq"])

        # A slice links to the hash the auditor already holds for the row before it.
        first = max(2, fill["seq"] - 2)
        piece = jsonl_rows(await http_export(admin, from_seq=first, to_seq=fill["seq"]))
        assert [r["seq"] for r in piece] == list(range(first, fill["seq"] + 1))
        assert verify_rows(piece, start_hash=rows[first - 2]["hash"]).ok

        # Only administrators, and only ranges that name rows.
        forbidden = await alice.http.get("/v1/admin/audit/export")
        assert (forbidden.status_code, forbidden.json()["code"]) == (403, "forbidden")
        for params in ({"from_seq": 0}, {"from_seq": 5, "to_seq": 4}, {"to_seq": "x"}):
            bad = await admin.http.get("/v1/admin/audit/export", params=params)
            assert (bad.status_code, bad.json()["code"]) == (422, "validation_error"), params
    finally:
        await admin.close()
        await alice.close()
