"""`idempotent()`: the one path of every money endpoint: claim the Idempotency-Key, do the
work, store the answer, commit once. A replay answers the stored bytes with
`Idempotent-Replayed: true`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from pydantic import BaseModel
from starlette.responses import Response

from services.gateway import idempotency
from services.gateway.activity import record_failed_attempt
from services.gateway.auth import Principal
from services.gateway.context import GatewayContext
from services.gateway.ratelimit import failure_subjects, user_account
from services.gateway.twofactor import WrongCode
from shared.db import Connection

JSON = "application/json"
Work = Callable[[Connection, datetime], Awaitable[tuple[int, BaseModel]]]


async def idempotent(
    ctx: GatewayContext,
    principal: Principal,
    address: str,
    *,
    endpoint: str,
    key: str | None,
    request: dict[str, Any],
    work: Work,
) -> Response:
    """Run `work` once per (user, endpoint, key); see `services.gateway.idempotency`."""
    claim = idempotency.IdempotentRequest(
        principal.user_id, endpoint, idempotency.checked_key(key), idempotency.fingerprint(request)
    )
    now = ctx.clock()
    try:
        async with ctx.pool.acquire() as conn, conn.transaction():
            stored = await idempotency.begin(
                conn,
                claim,
                now=now,
                retention=ctx.idempotency_retention,
                lock_timeout_ms=ctx.settings.idempotency_lock_timeout_ms,
            )
            if stored is not None:
                ctx.metrics.idempotent_replays.labels(endpoint).inc()
                headers = {idempotency.REPLAYED_HEADER: "true"}
                return Response(stored.body, stored.status_code, headers, media_type=JSON)
            status, view = await work(conn, now)
            body = view.model_dump_json().encode()
            await idempotency.finish(conn, claim, status, body)
    except WrongCode:
        ctx.metrics.auth_failures.labels("totp_invalid").inc()
        subjects = failure_subjects(user_account(principal.user_id), address)
        async with ctx.pool.acquire() as conn, conn.transaction():
            await record_failed_attempt(
                conn, ctx.emitter, subjects, now, user_id=principal.user_id, reason="totp_invalid"
            )
        raise
    return Response(body, status, media_type=JSON)
