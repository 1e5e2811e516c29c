"""The restricted list: the gateway keeps what an administrator set (for `GET`) and tells
safety, which enforces it, through `RestrictionChanged` on the accounts topic (same
transaction). Targets are checked as the kill switch's are: an account is an existing user
(any letter case, stored as its id), a symbol `BASE/QUOTE` (the body checks that)."""

from __future__ import annotations

from datetime import datetime

from services.gateway.activity import emit
from services.gateway.errors import RestrictionTargetUnknown
from services.gateway.store import restrictions as store
from services.gateway.store.restrictions import Restriction
from services.gateway.targets import account_target
from shared.contracts.restrictions import RestrictionChanged, RestrictionScope
from shared.db import Connection
from shared.emitter import Emitter
from shared.ids import SYSTEM_ACCOUNT


async def change_restriction(
    conn: Connection,
    emitter: Emitter,
    *,
    scope: RestrictionScope,
    target: str,
    restricted: bool,
    reason: str,
    changed_by: str,
    now: datetime,
) -> Restriction:
    """Record the change and emit `RestrictionChanged` (keyed by the account for an account,
    by the system account for a symbol), in the caller's transaction. An account naming no
    user raises `RestrictionTargetUnknown` and changes nothing; a release may also name an
    account restricted before, so every restriction listed can be lifted."""
    if scope is RestrictionScope.ACCOUNT:
        known = await account_target(
            conn, target, engaging=restricted, set_before=store.restricted_account_in_any_case
        )
        if known is None:
            raise RestrictionTargetUnknown(f"no user {target!r}: no restriction was changed")
        target = known
    restriction = Restriction(scope, target, restricted, reason, changed_by, now)
    await store.save_restriction(conn, restriction)
    payload = RestrictionChanged(
        scope=scope, target=target, restricted=restricted, reason=reason, changed_by=changed_by
    )
    account = target if scope is RestrictionScope.ACCOUNT else SYSTEM_ACCOUNT
    correlation = f"restriction:{scope}:{target}"
    message = emitter.message(payload, account_id=account, correlation_id=correlation, now=now)
    await emit(conn, changed_by, message)
    return restriction
