"""The account an administrator names as a kill switch's or a restriction's target.

One rule for both: the target is an existing user in any letter case, stored as the user's
own id; a release may also name an account that was switched or restricted before (so every
one listed can be released, even if its user is gone)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from services.gateway.store import trail
from shared.db import Connection

SetBefore = Callable[[Connection, str], Awaitable[str | None]]
"""The stored target of an earlier switch or restriction for a name in any letter case."""


async def account_target(
    conn: Connection, target: str, *, engaging: bool, set_before: SetBefore
) -> str | None:
    """The stored account `target` names, or None when it names nobody."""
    known = await trail.user_id_in_any_case(conn, target)
    if known is None and not engaging:
        known = await set_before(conn, target)
    return known
