"""Liveness, readiness (database and broker reachable) and Prometheus metrics."""

from __future__ import annotations

import asyncio
import logging

from fastapi import APIRouter
from starlette.responses import JSONResponse, Response

from services.gateway.api.deps import Ctx
from services.gateway.api.strict_json import StrictJsonRoute
from services.gateway.api.views import Health
from services.gateway.metrics import CONTENT_TYPE

log = logging.getLogger(__name__)
router = APIRouter(tags=["operations"], route_class=StrictJsonRoute)
PROBE_SECONDS = 2.0


@router.get("/healthz")
async def healthz() -> Health:
    return Health(status="ok")


@router.get("/readyz", responses={503: {"model": Health}})
async def readyz(ctx: Ctx) -> Response:
    checks = await readiness(ctx)
    ready = all(value == "ok" for value in checks.values())
    body = Health(status="ready" if ready else "not ready", checks=checks)
    return JSONResponse(body.model_dump(), status_code=200 if ready else 503)


@router.get("/metrics", response_class=Response)
async def metrics(ctx: Ctx) -> Response:
    return Response(ctx.metrics.render(), media_type=CONTENT_TYPE)


async def readiness(ctx: Ctx) -> dict[str, str]:
    """The database and the broker: `ok` or `unreachable` each."""
    checks = {"database": await _database_ok(ctx), "broker": await _broker_ok(ctx)}
    return {name: "ok" if ok else "unreachable" for name, ok in checks.items()}


async def _database_ok(ctx: Ctx) -> bool:
    try:
        async with asyncio.timeout(PROBE_SECONDS), ctx.pool.acquire() as conn:
            return bool(await conn.fetchval("SELECT 1") == 1)
    except Exception as exc:  # any failure means "not ready"; say which
        log.warning("readiness: database check failed: %s", type(exc).__name__)
        return False


async def _broker_ok(ctx: Ctx) -> bool:
    try:
        async with asyncio.timeout(PROBE_SECONDS):
            return await ctx.broker_ready()
    except Exception as exc:  # any failure means "not ready"; say which
        log.warning("readiness: broker check failed: %s", type(exc).__name__)
        return False
