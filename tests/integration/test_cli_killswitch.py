"""`cryptoorch kill-switch` as a real process: the same switch as the admin API, written with its
`KillSwitchChanged` outbox row in the gateway's database; a scope and target that do not fit,
or an account naming no user, change nothing and exit 2."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from rich.progress import Progress

from cryptoorch.replay_sources import read_topics
from services.gateway.auth import Role
from services.gateway.store import accounts
from shared.contracts import Topic, decode
from shared.contracts.accounts import KillSwitchChanged, KillSwitchMode
from shared.db import Connection, connect
from shared.kafka import ensure_topics
from shared.outbox import OutboxRelay
from shared.service import prepare_database
from tests.support.cli import REPO_ROOT, run_cli
from tests.support.topics import producing

pytestmark = pytest.mark.integration

GATEWAY_MIGRATIONS = REPO_ROOT / "services" / "gateway" / "migrations"


@pytest.fixture
async def gateway_db(settings_factory: Callable[..., Any]) -> AsyncIterator[Connection]:
    url = await prepare_database(settings_factory(), "gateway", GATEWAY_MIGRATIONS)
    conn = await connect(url)
    try:
        yield conn
    finally:
        await conn.close()


async def announced(conn: Connection) -> list[KillSwitchChanged]:
    """The `KillSwitchChanged` events in the gateway's outbox, oldest first."""
    rows = await conn.fetch(
        "SELECT value FROM outbox WHERE topic = $1 ORDER BY id", Topic.ACCOUNT_EVENTS.value
    )
    messages = [decode(bytes(r["value"])) for r in rows]
    return [m.payload for m in messages if isinstance(m.payload, KillSwitchChanged)]


async def switch_rows(conn: Connection) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        "SELECT scope, target, engaged, reason, changed_by, mode FROM kill_switches"
    )
    return [dict(r) for r in rows]


async def a_user(conn: Connection) -> str:
    """A user the gateway knows (as registration stores one)."""
    user_id = str(uuid.uuid4())
    assert await accounts.insert_user(conn, user_id, f"{user_id}@example.com", "x", Role.USER)
    return user_id


async def test_engage_writes_the_switch_and_its_event_in_the_gateway_database(
    cli_env: dict[str, str], gateway_db: Connection
) -> None:
    user_id = await a_user(gateway_db)
    result = await run_cli(
        cli_env,
        *("kill-switch", "engage", "--scope", "account", "--target", user_id.upper()),
        *("--reason", "chargeback under review", "--mode", "reduce_only", "--json"),
    )

    assert result.code == 0, result.stderr
    switch = result.json()
    assert (switch["engaged"], switch["target"], switch["mode"]) == (True, user_id, "reduce_only")
    assert switch["changed_by"].startswith("cli:")
    assert await switch_rows(gateway_db) == [
        {
            "scope": "account",
            "target": user_id,
            "engaged": True,
            "reason": "chargeback under review",
            "changed_by": switch["changed_by"],
            "mode": "reduce_only",
        }
    ]
    event = (await announced(gateway_db))[-1]
    assert (event.scope, event.target, event.engaged) == ("account", user_id, True)
    assert event.mode is KillSwitchMode.REDUCE_ONLY
    assert event.changed_by == switch["changed_by"]
    key = await gateway_db.fetchval(
        "SELECT key FROM outbox WHERE topic = $1 ORDER BY id DESC LIMIT 1",
        Topic.ACCOUNT_EVENTS.value,
    )
    assert key == user_id  # keyed by the account, like the admin API's switch


async def test_an_account_naming_no_user_changes_nothing_and_exits_2(
    cli_env: dict[str, str], gateway_db: Connection
) -> None:
    await a_user(gateway_db)
    result = await run_cli(
        cli_env,
        *("kill-switch", "engage", "--scope", "account", "--target", "nobody"),
        *("--reason", "typo", "--json"),
    )

    assert result.code == 2
    assert "no user 'nobody'" in result.stderr
    assert await switch_rows(gateway_db) == []
    assert await announced(gateway_db) == []


async def test_the_gateway_relay_publishes_the_switch_to_safety_s_topic(
    cli_env: dict[str, str], gateway_db: Connection, settings_factory: Callable[..., Any]
) -> None:
    result = await run_cli(
        cli_env, "kill-switch", "engage", "--scope", "global", "--reason", "venue down", "--json"
    )
    assert result.code == 0, result.stderr
    event_id = await gateway_db.fetchval(
        "SELECT event_id FROM outbox WHERE topic = $1", Topic.ACCOUNT_EVENTS.value
    )

    settings = settings_factory()
    await ensure_topics(settings.kafka_access)
    async with producing(settings.kafka_access) as producer:
        relay = OutboxRelay(settings.service_database_url("gateway"), producer)
        assert await relay.publish_pending(gateway_db) >= 1

    with Progress(disable=True) as progress:
        records = await read_topics(settings.kafka_access, [Topic.ACCOUNT_EVENTS.value], progress)
    published = [decode(record) for record in records]
    mine = [m for m in published if m.event_id == event_id]
    assert len(mine) == 1
    assert mine[0].body(KillSwitchChanged).engaged is True


async def test_list_shows_an_engaged_switch_and_release_clears_it(
    cli_env: dict[str, str], gateway_db: Connection
) -> None:
    engaged = await run_cli(
        cli_env,
        *("kill-switch", "engage", "--scope", "symbol", "--target", "BTC/USDT"),
        *("--reason", "venue halted the market"),
    )
    assert engaged.code == 0, engaged.stderr
    assert "ENGAGED" in engaged.stdout

    listed = await run_cli(cli_env, "kill-switch", "list", "--json")
    assert listed.code == 0, listed.stderr
    [item] = listed.json()["items"]
    assert (item["scope"], item["target"], item["engaged"]) == ("symbol", "BTC/USDT", True)
    assert item["mode"] == "halt"
    table = await run_cli(cli_env, "kill-switch", "list")
    assert "BTC/USDT" in table.stdout
    assert "ENGAGED" in table.stdout
    assert "halt" in table.stdout

    released = await run_cli(
        cli_env,
        *("kill-switch", "release", "--scope", "symbol", "--target", "BTC/USDT"),
        *("--reason", "market reopened", "--json"),
    )
    assert released.code == 0, released.stderr
    [item] = (await run_cli(cli_env, "kill-switch", "list", "--json")).json()["items"]
    assert (item["engaged"], item["reason"]) == (False, "market reopened")
    assert [(e.target, e.engaged) for e in await announced(gateway_db)] == [
        ("BTC/USDT", True),
        ("BTC/USDT", False),
    ]


@pytest.mark.parametrize(
    ("arguments", "complaint"),
    [
        (["--scope", "global", "--target", "user-1"], "a global switch takes no target"),
        (["--scope", "account"], "switch needs a target"),
        (["--scope", "symbol", "--target", "btc-usdt"], "target must be a symbol like BTC/USDT"),
        (["--scope", "planet"], "'planet' is not one of"),
    ],
)
async def test_a_scope_and_target_that_do_not_fit_change_nothing(
    cli_env: dict[str, str], gateway_db: Connection, arguments: list[str], complaint: str
) -> None:
    result = await run_cli(
        cli_env, "kill-switch", "engage", *arguments, "--reason", "just testing", "--json"
    )

    assert result.code == 2
    assert complaint in " ".join(result.stderr.split())
    assert await switch_rows(gateway_db) == []
    assert await announced(gateway_db) == []


async def test_without_a_database_to_reach_it_exits_2(tmp_path: Path) -> None:
    result = await run_cli(
        {"CRYPTOORCH_DATA_DIR": str(tmp_path / "nothing-running")},
        *("kill-switch", "engage", "--scope", "global", "--reason", "x"),
    )

    assert result.code == 2
    assert "DATABASE_URL is not set" in result.stderr
