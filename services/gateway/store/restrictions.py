"""The operator's restricted list, as the gateway last set it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from shared.contracts.restrictions import RestrictionScope
from shared.db import Connection


@dataclass(frozen=True)
class Restriction:
    scope: RestrictionScope
    target: str
    restricted: bool
    reason: str
    changed_by: str
    changed_at: datetime


async def save_restriction(conn: Connection, restriction: Restriction) -> None:
    await conn.execute(
        "INSERT INTO restrictions (scope, target, restricted, reason, changed_by, changed_at) "
        "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (scope, target) DO UPDATE SET "
        "restricted = EXCLUDED.restricted, reason = EXCLUDED.reason, "
        "changed_by = EXCLUDED.changed_by, changed_at = EXCLUDED.changed_at",
        restriction.scope.value,
        restriction.target,
        restriction.restricted,
        restriction.reason,
        restriction.changed_by,
        restriction.changed_at,
    )


async def restrictions_in_force(conn: Connection) -> list[Restriction]:
    rows = await conn.fetch(
        "SELECT scope, target, restricted, reason, changed_by, changed_at FROM restrictions "
        "WHERE restricted ORDER BY scope, target"
    )
    return [Restriction(**{**dict(row), "scope": RestrictionScope(row["scope"])}) for row in rows]


async def restricted_account_in_any_case(conn: Connection, target: str) -> str | None:
    """The stored target of an account restriction set before for `target` in any letter case."""
    found: str | None = await conn.fetchval(
        "SELECT target FROM restrictions WHERE scope = 'account' AND lower(target) = lower($1) "
        "ORDER BY target = $1 DESC, target LIMIT 1",
        target,
    )
    return found
