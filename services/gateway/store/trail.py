"""The owner's audit entries and the kill switches, as the gateway knows them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from shared.contracts.accounts import KillSwitchMode, KillSwitchScope
from shared.contracts.audit import AuditLink
from shared.contracts.envelope import Envelope
from shared.db import Connection


@dataclass(frozen=True)
class AuditEntry:
    seq: int
    type: str
    occurred_at: datetime
    producer: str
    correlation_id: str
    hash: str | None
    """The audit service's chain hash of the message; None until its link has arrived."""
    prev_hash: str | None


@dataclass(frozen=True)
class KillSwitch:
    scope: KillSwitchScope
    target: str | None
    engaged: bool
    reason: str
    changed_by: str
    changed_at: datetime
    mode: KillSwitchMode = KillSwitchMode.HALT


async def add_entry(conn: Connection, message: Envelope, user_id: str) -> None:
    """Record a message the gateway emitted for `user_id` (the first of its correlation)."""
    await conn.execute(
        "INSERT INTO audit_entries (event_id, user_id, correlation_id, type, occurred_at, "
        "producer) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (event_id) DO NOTHING",
        message.event_id,
        user_id,
        message.correlation_id,
        message.type,
        message.occurred_at,
        message.producer,
    )


async def add_entry_if_followed(conn: Connection, message: Envelope) -> None:
    """Record a consumed message when its correlation (an order, withdrawal or deposit this
    gateway accepted for the same account) is already in the trail; ignore it otherwise."""
    await add_entries_if_followed(conn, [message])


async def add_entries_if_followed(conn: Connection, messages: Sequence[Envelope]) -> None:
    """Record, in their order, the consumed messages whose correlation (an order, withdrawal or
    deposit this gateway accepted for the same account) is already in the trail; one statement."""
    await conn.execute(
        "INSERT INTO audit_entries (event_id, user_id, correlation_id, type, occurred_at, "
        "producer) SELECT b.event_id, b.user_id, b.correlation_id, b.type, b.occurred_at, "
        "b.producer FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], "
        "$5::timestamptz[], $6::text[]) WITH ORDINALITY "
        "AS b (event_id, user_id, correlation_id, type, occurred_at, producer, n) "
        "WHERE EXISTS (SELECT 1 FROM audit_entries e "
        "WHERE e.correlation_id = b.correlation_id AND e.user_id = b.user_id) "
        "ORDER BY b.n ON CONFLICT (event_id) DO NOTHING",
        [m.event_id for m in messages],
        [m.account_id for m in messages],
        [m.correlation_id for m in messages],
        [m.type for m in messages],
        [m.occurred_at for m in messages],
        [m.producer for m in messages],
    )


async def save_links(conn: Connection, links: Sequence[AuditLink]) -> None:
    """Record where messages sit in the audit chain (a redelivered link changes nothing)."""
    await conn.executemany(
        "INSERT INTO audit_links (event_id, seq, prev_hash, hash) VALUES ($1, $2, $3, $4) "
        "ON CONFLICT (event_id) DO NOTHING",
        [(link.event_id, link.seq, link.prev_hash, link.hash) for link in links],
    )


async def entries(conn: Connection, correlation_id: str, user_id: str | None) -> list[AuditEntry]:
    """Entries of one correlation in arrival order; only `user_id`'s unless None (an admin)."""
    rows = await conn.fetch(
        "SELECT e.seq, e.type, e.occurred_at, e.producer, e.correlation_id, l.hash, l.prev_hash "
        "FROM audit_entries e LEFT JOIN audit_links l ON l.event_id = e.event_id "
        "WHERE e.correlation_id = $1 AND ($2::text IS NULL OR e.user_id = $2) "
        "ORDER BY e.seq LIMIT 1000",
        correlation_id,
        user_id,
    )
    return [AuditEntry(**dict(row)) for row in rows]


_SAVE_SWITCH = (
    "INSERT INTO kill_switches (scope, target, engaged, reason, changed_by, changed_at, mode) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (scope, target) DO UPDATE SET "
    "engaged = EXCLUDED.engaged, reason = EXCLUDED.reason, "
    "changed_by = EXCLUDED.changed_by, changed_at = EXCLUDED.changed_at, mode = EXCLUDED.mode"
)


def _switch_row(switch: KillSwitch) -> tuple[object, ...]:
    return (
        switch.scope.value,
        switch.target or "",
        switch.engaged,
        switch.reason,
        switch.changed_by,
        switch.changed_at,
        switch.mode.value,
    )


async def save_kill_switch(conn: Connection, switch: KillSwitch) -> None:
    await conn.execute(_SAVE_SWITCH, *_switch_row(switch))


async def save_kill_switch_if_newer(conn: Connection, switch: KillSwitch) -> bool:
    """Record a change learnt from another service unless the stored one is as new or newer
    (an older or redelivered event never overwrites a later change); True if it was saved."""
    saved = await conn.fetchval(
        _SAVE_SWITCH + " WHERE kill_switches.changed_at < EXCLUDED.changed_at RETURNING true",
        *_switch_row(switch),
    )
    return bool(saved)


async def kill_switches(conn: Connection) -> list[KillSwitch]:
    rows = await conn.fetch(
        "SELECT scope, NULLIF(target, '') AS target, engaged, reason, changed_by, changed_at, "
        "mode FROM kill_switches ORDER BY scope, target"
    )
    return [
        KillSwitch(
            **{
                **dict(row),
                "scope": KillSwitchScope(row["scope"]),
                "mode": KillSwitchMode(row["mode"]),
            }
        )
        for row in rows
    ]


async def user_id_in_any_case(conn: Connection, user_id: str) -> str | None:
    """The stored id of the user `user_id` names in any letter case (the exact one first)."""
    found: str | None = await conn.fetchval(
        "SELECT user_id FROM users WHERE lower(user_id) = lower($1) "
        "ORDER BY user_id = $1 DESC, user_id LIMIT 1",
        user_id,
    )
    return found


async def switched_account_in_any_case(conn: Connection, target: str) -> str | None:
    """The stored target of an account switch set before for `target` in any letter case."""
    found: str | None = await conn.fetchval(
        "SELECT target FROM kill_switches WHERE scope = 'account' AND lower(target) = lower($1) "
        "ORDER BY target = $1 DESC, target LIMIT 1",
        target,
    )
    return found
