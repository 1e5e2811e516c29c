"""Administrators: verify the audit chain from the console, as `cryptoorch audit verify` does
(every link, every copied column), against the checkpoints stored beside the trail; read-only,
like the export. Each run is recorded: the System and Audit views show the last one."""

from __future__ import annotations

import asyncio
from dataclasses import asdict

import asyncpg
from fastapi import APIRouter

from services.gateway.api.console_views import AuditVerificationView
from services.gateway.api.deps import Ctx, CurrentAdmin
from services.gateway.api.strict_json import StrictJsonRoute
from services.gateway.errors import AuditUnavailable
from services.gateway.store import verifications
from shared.audit_verify import verify_trail
from shared.db import connect

router = APIRouter(prefix="/v1/admin/audit", tags=["admin"], route_class=StrictJsonRoute)
VERIFY_SECONDS = 300
"""A trail of millions of rows takes a while; one that takes longer is `503`, not a verdict."""


@router.post("/verify")
async def verify_audit_chain(ctx: Ctx, principal: CurrentAdmin) -> AuditVerificationView:
    """Recompute the whole chain now: `ok`, the rows checked and, when it is broken, the first
    bad row's `first_bad_seq` with the `problem` and its `detail`. `503 audit_unavailable` when
    the trail cannot be read (nothing is recorded then)."""
    try:
        async with asyncio.timeout(VERIFY_SECONDS):
            conn = await connect(ctx.settings.audit_export_url())
            try:
                result = await verify_trail(conn)
            finally:
                await conn.close()
    except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
        raise AuditUnavailable(f"the audit trail cannot be read: {exc!r}") from None
    found = verifications.Verification(
        verified_at=ctx.clock(),
        verified_by=principal.user_id,
        ok=result.ok,
        rows_checked=result.rows_checked,
        checkpoints_checked=result.checkpoints_checked,
        last_seq=result.last_seq,
        first_bad_seq=result.first_bad_seq,
        problem=str(result.problem) if result.problem is not None else None,
        detail=result.detail,
    )
    async with ctx.pool.acquire() as recording:
        await verifications.record(recording, found)
    return AuditVerificationView(**asdict(found))
