"""The trail of one order, withdrawal, deposit or account: the owner sees their own, an admin
sees all; nothing visible is `404` (another user's entries are never confirmed to exist)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from services.gateway.api.deps import NO_NUL, Ctx, CurrentUser
from services.gateway.api.strict_json import StrictJsonRoute
from services.gateway.api.views import AuditItem, AuditPage
from services.gateway.errors import NotFound
from services.gateway.store import trail

router = APIRouter(prefix="/v1/audit", tags=["audit"], route_class=StrictJsonRoute)


@router.get("")
async def audit_entries(
    ctx: Ctx,
    principal: CurrentUser,
    correlation_id: Annotated[str, Query(min_length=1, max_length=100, pattern=NO_NUL)],
) -> AuditPage:
    owner = None if principal.is_admin else principal.user_id
    async with ctx.pool.acquire() as conn:
        rows = await trail.entries(conn, correlation_id, owner)
    if not rows:
        raise NotFound(f"no audit entries for {correlation_id}")
    items = [
        AuditItem(
            seq=row.seq,
            type=row.type,
            occurred_at=row.occurred_at,
            producer=row.producer,
            correlation_id=row.correlation_id,
            hash=row.hash,
            prev_hash=row.prev_hash,
        )
        for row in rows
    ]
    return AuditPage(items=items)
