"""`cryptoorch check` passes a clean run and names every invariant broken on purpose.

One small run of the real system (five processes): a deposit, a filled market buy, a limit
order cancelled while resting, a withdrawal with 2FA. The services are then stopped and each
test breaks one promise in the databases, runs the CLI, and puts things back.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from decimal import Decimal
from functools import partial

import asyncpg
import pyotp
import pytest

from services.execution.domain.orders import client_order_id
from shared.clock import utc_now
from shared.contracts import encode, new_message
from shared.contracts.deadletter import DeadLettered
from shared.contracts.ledger import BalanceChanged
from shared.infra.resolve import Infrastructure
from shared.settings import database_url_for
from tests.conftest import FAST_GROUPS
from tests.support.client import ApiUser, balances_of, create_admin
from tests.support.system import SERVICES, System, system_env
from tests.support.waiting import eventually

pytestmark = [pytest.mark.integration, pytest.mark.e2e]
TERMINAL = {"filled", "rejected", "cancelled", "failed", "sent"}
QUIET = {
    "CRYPTOORCH_PAPER_TICK_SECONDS": "3600",  # one price at start: a resting order stays put
    "CRYPTOORCH_PRICE_MAX_AGE_SECONDS": "3600",
    "CRYPTOORCH_AUDIT_CHECKPOINT_SECONDS": "3600",
}
"""Nothing periodic, so once stopped the system's databases hold exactly what the run did."""


@dataclass
class Run:
    env: dict[str, str]
    user_id: str
    filled: str
    cancelled: str
    first_check: subprocess.CompletedProcess[str]

    def url(self, service: str) -> str:
        return database_url_for(
            self.env["DATABASE_URL"], f"{self.env['CRYPTOORCH_DB_PREFIX']}_{service}"
        )

    @asynccontextmanager
    async def db(self, service: str) -> AsyncIterator[asyncpg.Connection]:
        conn = await asyncpg.connect(self.url(service))
        try:
            yield conn
        finally:
            await conn.close()


def check(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cryptoorch.cli", "check", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )


async def terminal(user: ApiUser, path: str) -> dict[str, str]:
    response = await user.http.get(path)
    assert response.status_code == 200, response.text
    data: dict[str, str] = response.json()
    return data


async def small_run(system: System) -> tuple[str, str, str]:
    """The user's id, a filled order and a cancelled one."""
    create_admin(system.env, "check-ops@example.com", "check operator password")
    admin = await ApiUser(
        system.gateway_url, "check-ops@example.com", "check operator password"
    ).login()
    user = await ApiUser(
        system.gateway_url, "checked@example.com", "checked user password"
    ).register()
    try:
        secret = (await user.http.post("/v1/auth/2fa/enroll")).json()["secret"]
        step = int(time.time()) // 30
        confirmed = await user.http.post(
            "/v1/auth/2fa/confirm", json={"code": pyotp.TOTP(secret).at(step * 30)}
        )
        assert confirmed.status_code == 200, confirmed.text
        assert (await admin.deposit(user.user_id, "USDT", "10000")).status_code == 202
        await eventually(
            user.balances, until=lambda b: balances_of(b, "USDT")[0] == 10000, what="deposit"
        )
        market = await user.place_order(symbol="BTC/USDT", side="buy", type="market", amount="0.01")
        resting = await user.place_order(
            symbol="ETH/USDT", side="buy", type="limit", amount="0.1", price="3300.00"
        )
        withdrawal = await user.http.post(
            "/v1/withdrawals",
            json={"asset": "USDT", "amount": "100", "address": "check-wallet"},
            headers={
                "Idempotency-Key": str(uuid.uuid4()),
                "X-TOTP-Code": pyotp.TOTP(secret).at((step + 1) * 30),
            },
        )
        assert (market.status_code, resting.status_code, withdrawal.status_code) == (202, 202, 202)
        filled, cancelled = market.json()["order_id"], resting.json()["order_id"]
        await eventually(
            lambda: terminal(user, f"/v1/orders/{cancelled}"),
            until=lambda o: o["status"] == "submitted",
            what="limit order resting",
        )
        cancel = await user.http.post(
            f"/v1/orders/{cancelled}/cancel", headers={"Idempotency-Key": str(uuid.uuid4())}
        )
        assert cancel.status_code == 202, cancel.text
        for path in (
            f"/v1/orders/{filled}",
            f"/v1/orders/{cancelled}",
            f"/v1/withdrawals/{withdrawal.json()['withdrawal_id']}",
        ):
            await eventually(
                partial(terminal, user, path),
                until=lambda o: o["status"] in TERMINAL,
                timeout=60,
                what=path,
            )
        return user.user_id, filled, cancelled
    finally:
        await admin.close()
        await user.close()


@pytest.fixture(scope="module")
async def run(
    infra: Infrastructure, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Run]:
    folder = tmp_path_factory.mktemp("check")
    base = {
        "KAFKA_BOOTSTRAP_SERVERS": infra.kafka_bootstrap_servers,
        "DATABASE_URL": infra.database_url,
        "CRYPTOORCH_DB_PREFIX": "t" + uuid.uuid4().hex[:12],
        "CRYPTOORCH_RELAY_POLL_SECONDS": "0.2",
        **{f"CRYPTOORCH_{k.upper()}": str(v) for k, v in FAST_GROUPS.items()},
    }
    env = {**system_env(base, folder), **QUIET}  # system_env sets a fast tick: QUIET wins
    system = System(env, folder / "logs", f"http://127.0.0.1:{env['CRYPTOORCH_GATEWAY_PORT']}")
    try:
        for name in SERVICES:
            system.start(name)
        system.wait_healthy()
        user_id, filled, cancelled = await small_run(system)
        first_check = check(env, "--drain-seconds", "60")
    except BaseException:
        print(system.logs(*SERVICES))
        raise
    finally:
        system.stop()
    yield Run(env, user_id, filled, cancelled, first_check)


def test_the_checker_passes_a_clean_run(run: Run) -> None:
    assert run.first_check.returncode == 0, run.first_check.stdout + run.first_check.stderr
    assert "check passed" in run.first_check.stdout
    again = check(run.env, "--drain-seconds", "0", "--json")
    assert again.returncode == 0, again.stdout + again.stderr
    report = json.loads(again.stdout)
    assert (
        report["ok"] and report["counts"]["orders"] == 2 and report["counts"]["venue_trades"] == 1
    )


def test_the_checker_cannot_check_without_a_database(run: Run) -> None:
    result = check({**run.env, "DATABASE_URL": "postgresql://nobody@127.0.0.1:1/postgres"})
    assert result.returncode == 2, result.stdout + result.stderr
    assert "could not check" in result.stderr


def assert_fails_naming(run: Run, *problems: str) -> str:
    result = check(run.env, "--drain-seconds", "0")
    assert result.returncode == 1, result.stdout + result.stderr
    for problem in problems:
        assert problem in result.stdout, result.stdout
    return result.stdout


async def test_a_message_stuck_in_an_outbox_fails_the_check(run: Run) -> None:
    stuck = new_message(
        BalanceChanged(asset="USDT", available="1", held="0", version=999),
        producer="ledger",
        account_id=run.user_id,
        correlation_id=run.filled,
        now=utc_now(),
    )
    async with run.db("ledger") as conn:
        await conn.execute(
            "INSERT INTO outbox (event_id, topic, key, value, created_at) VALUES ($1, $2, $3, $4, now() - interval '1 minute')",
            stuck.event_id,
            stuck.topic.value,
            run.user_id,
            encode(stuck),
        )
        try:
            assert_fails_naming(
                run,
                "ledger: 1 message(s) unpublished after the drain",
                f"not in the trail: {stuck.event_id}",
            )
        finally:
            await conn.execute("DELETE FROM outbox WHERE event_id = $1", stuck.event_id)


async def test_an_audit_row_deleted_by_a_superuser_fails_the_check(run: Run) -> None:
    async with run.db("audit") as conn:
        await conn.execute("SET session_replication_role = replica")  # past the insert-only trigger
        row = await conn.fetchrow(
            "SELECT * FROM audit_trail WHERE correlation_id = $1 ORDER BY seq LIMIT 1", run.filled
        )
        assert row is not None
        await conn.execute("DELETE FROM audit_trail WHERE seq = $1", row["seq"])
        try:
            assert_fails_naming(
                run,
                f"audit: 1 message(s) of {run.filled} not in the trail: {row['event_id']}",
                "audit: the chain does not verify: seq_gap",
            )
        finally:
            columns = list(row.keys())
            await conn.execute(
                f"INSERT INTO audit_trail ({', '.join(columns)}) VALUES ({', '.join(f'${i + 1}' for i in range(len(columns)))})",
                *row.values(),
            )


async def test_a_second_venue_order_for_one_order_fails_the_check(run: Run) -> None:
    twin = "co-" + uuid.uuid4().hex
    async with run.db("execution") as conn:
        original = await conn.fetchrow(
            "SELECT * FROM paper_orders WHERE client_order_id = $1", client_order_id(run.filled)
        )
        trade = await conn.fetchrow(
            "SELECT * FROM paper_trades WHERE client_order_id = $1", client_order_id(run.filled)
        )
        assert original is not None and trade is not None
        await conn.execute(
            "INSERT INTO paper_orders (client_order_id, venue_order_id, symbol, side, type, amount, status) VALUES ($1, $2, $3, $4, $5, $6, 'closed')",
            twin,
            "po-" + uuid.uuid4().hex,
            original["symbol"],
            original["side"],
            original["type"],
            original["amount"],
        )
        await conn.execute(
            "INSERT INTO paper_trades (trade_id, client_order_id, amount, price, fee, fee_asset) VALUES ($1, $2, $3, $4, $5, $6)",
            "twin-" + trade["trade_id"],
            twin,
            trade["amount"],
            trade["price"],
            trade["fee"],
            trade["fee_asset"],
        )
        try:
            assert_fails_naming(
                run,
                f"({twin}, buy BTC/USDT) belongs to no accepted order",
                "was never reported as OrderFilled",
            )
        finally:
            await conn.execute("DELETE FROM paper_trades WHERE client_order_id = $1", twin)
            await conn.execute("DELETE FROM paper_orders WHERE client_order_id = $1", twin)


async def test_a_balanced_credit_nobody_made_fails_the_recomputation(run: Run) -> None:
    """The ledger's own invariants cannot see a balanced, well-projected phantom credit; the
    recomputation from deposits, withdrawals and venue trades does."""
    async with run.db("ledger") as conn:
        await conn.execute("SET session_replication_role = replica")  # journal is insert-only
        async with conn.transaction():
            entry = await conn.fetchval(
                "INSERT INTO journal (kind, reference, subreference, account_id, cause_event_id) VALUES ('deposit', 'phantom', 'x', $1, $2) RETURNING entry_id",
                run.user_id,
                uuid.uuid4(),
            )
            await conn.execute(
                "INSERT INTO postings (entry_id, owner, asset, bucket, amount) VALUES ($1, 'world', 'USDT', 'world', -1), ($1, $2, 'USDT', 'available', 1)",
                entry,
                run.user_id,
            )
            await shift_balances(conn, run.user_id, Decimal(1))
        try:
            output = assert_fails_naming(
                run,
                f"balance of {run.user_id} in USDT: the ledger has ",
                f"gateway shows {run.user_id}",
            )
            assert "  - ledger:" not in output, "the ledger's own invariants cannot see this one"
        finally:
            async with conn.transaction():
                await conn.execute("DELETE FROM postings WHERE entry_id = $1", entry)
                await conn.execute("DELETE FROM journal WHERE entry_id = $1", entry)
                await shift_balances(conn, run.user_id, Decimal(-1))
    assert check(run.env, "--drain-seconds", "0").returncode == 0


async def shift_balances(conn: asyncpg.Connection, user_id: str, amount: Decimal) -> None:
    await conn.execute(
        "UPDATE balances SET amount = amount - $1 WHERE owner = 'world' AND asset = 'USDT'", amount
    )
    await conn.execute(
        "UPDATE balances SET amount = amount + $1 WHERE owner = $2 AND asset = 'USDT' AND bucket = 'available'",
        amount,
        user_id,
    )


async def test_an_order_that_never_ended_fails_the_check(run: Run) -> None:
    async with run.db("gateway") as conn:
        await conn.execute(
            "UPDATE orders SET status = 'submitted' WHERE order_id = $1", run.cancelled
        )
        try:
            assert_fails_naming(run, f"order {run.cancelled} of {run.user_id} is still 'submitted'")
        finally:
            await conn.execute(
                "UPDATE orders SET status = 'cancelled' WHERE order_id = $1", run.cancelled
            )


async def test_a_dead_letter_fails_the_check_unless_it_was_expected(run: Run) -> None:
    original_id = uuid.uuid4()
    parked = new_message(
        DeadLettered(
            original_topic="execution.events.v1",
            original_partition=0,
            original_offset=7,
            original_event_id=str(original_id),
            original_key=run.user_id,
            original_value_b64=base64.b64encode(b"injected-on-purpose: not JSON").decode(),
            original_headers={},
            error="UndecodableMessage: not JSON",
            attempts=1,
            consumer="ledger",
        ),
        producer="ledger",
        account_id=run.user_id,
        correlation_id=str(original_id),
        now=utc_now(),
    )
    async with run.db("ledger") as conn:
        await conn.execute(
            "INSERT INTO outbox (event_id, topic, key, value, published_at) VALUES ($1, 'execution.events.v1.dlq', $2, $3, now())",
            parked.event_id,
            run.user_id,
            encode(parked),
        )
        await conn.execute(
            "INSERT INTO inbox (event_id, topic, partition, \"offset\", outcome) VALUES ($1, 'execution.events.v1', 0, 7, 'dead_lettered')",
            original_id,
        )
        try:
            assert_fails_naming(
                run,
                f"ledger: dead letter {parked.event_id} from execution.events.v1",
                "dead letter [FAIL]",
            )
            expected = check(
                run.env, "--drain-seconds", "0", "--expect-dead-letter", "injected-on-purpose"
            )
            assert expected.returncode == 0, expected.stdout
            assert f"dead letter [expected] ledger {parked.event_id}" in expected.stdout
        finally:
            await conn.execute("DELETE FROM outbox WHERE event_id = $1", parked.event_id)
            await conn.execute("DELETE FROM inbox WHERE event_id = $1", original_id)
