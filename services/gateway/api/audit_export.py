"""The auditor's export for administrators: the audit rows as `cryptoorch audit export` writes
them (JSONL), streamed page by page from the audit trail (docs/decisions.md, "The auditor's
export": the one place the gateway reads another service's database, read-only)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Annotated

import asyncpg
from fastapi import APIRouter, Query
from starlette.responses import StreamingResponse

from services.gateway.api.deps import Ctx, CurrentAdmin
from services.gateway.api.strict_json import StrictJsonRoute
from services.gateway.errors import AuditUnavailable, InvalidSeqRange
from shared import audit_export
from shared.db import connect

router = APIRouter(prefix="/v1/admin/audit", tags=["admin"], route_class=StrictJsonRoute)
MEDIA_TYPE = "application/x-ndjson"
CONNECT_TIMEOUT_SECONDS = 10


@router.get(
    "/export",
    response_class=StreamingResponse,
    responses={200: {"content": {MEDIA_TYPE: {}}, "description": "one audit row per line"}},
)
async def export_audit_trail(
    ctx: Ctx,
    _: CurrentAdmin,
    from_seq: Annotated[int, Query(ge=1)] = 1,
    to_seq: Annotated[int | None, Query(ge=1)] = None,
) -> StreamingResponse:
    """Rows `from_seq`..`to_seq` (default: the whole trail as it is when the export starts),
    `{seq, prev_hash, hash, actor, message}` per line; re-verifiable with docs/canonical-json.md."""
    try:
        audit_export.check_range(from_seq, to_seq)
    except audit_export.InvalidSeqRange as exc:
        raise InvalidSeqRange(str(exc)) from None
    try:
        async with asyncio.timeout(CONNECT_TIMEOUT_SECONDS):
            conn = await connect(ctx.settings.audit_export_url())
    except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
        raise AuditUnavailable(f"the audit trail cannot be read: {exc}") from None
    try:
        rows = audit_export.seq_range(from_seq, to_seq, await audit_export.head_seq(conn))
    except (OSError, asyncpg.PostgresError) as exc:
        await conn.close()
        raise AuditUnavailable(f"the audit trail cannot be read: {exc}") from None

    async def lines() -> AsyncIterator[bytes]:
        try:
            async for page in audit_export.pages(conn, rows):
                yield "".join(audit_export.jsonl_line(row) for row in page).encode()
        finally:
            await conn.close()

    return StreamingResponse(lines(), media_type=MEDIA_TYPE)
