"""Administrators: every account's orders (a list, and a live stream of server-sent events for
the console) and an order's timeline from the audit trail (the same rows and summary as
`cryptoorch trace`; read-only, like the audit export)."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Annotated

import asyncpg
from fastapi import APIRouter, Query
from starlette.responses import StreamingResponse

from services.gateway.api.console_views import AdminOrders, AdminOrderView, Timeline, TimelineEntry
from services.gateway.api.deps import NO_NUL, Ctx, CurrentAdmin, ResourceId
from services.gateway.api.strict_json import StrictJsonRoute
from services.gateway.domain import OrderStatus
from services.gateway.errors import AuditUnavailable, NotFound
from services.gateway.order_stream import OrderWatch, order_events
from services.gateway.store import orders
from services.gateway.store.orders import OrderFilter
from shared import audit_trace
from shared.db import connect

router = APIRouter(prefix="/v1/admin/orders", tags=["admin"], route_class=StrictJsonRoute)
EVENT_STREAM = "text/event-stream"
POLL_SECONDS = 0.5
CONNECT_TIMEOUT_SECONDS = 10
Filter = Annotated[str | None, Query(min_length=1, max_length=100, pattern=NO_NUL)]


def _filter(
    account: str | None, symbol: str | None, status: OrderStatus | None, reason: str | None
) -> OrderFilter:
    return OrderFilter(account, symbol, status.value if status else None, reason)


@router.get("")
async def list_all_orders(
    ctx: Ctx,
    _: CurrentAdmin,
    account: Filter = None,
    symbol: Filter = None,
    status: OrderStatus | None = None,
    reject_reason: Filter = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> AdminOrders:
    """The newest orders of every account (or of one), newest first."""
    matching = _filter(account, symbol, status, reject_reason)
    async with ctx.pool.acquire() as conn:
        rows = await orders.newest_orders(conn, matching, limit)
    return AdminOrders(items=[AdminOrderView.of(row) for row in rows])


@router.get(
    "/stream",
    response_class=StreamingResponse,
    responses={200: {"content": {EVENT_STREAM: {}}, "description": "server-sent events"}},
)
async def stream_orders(
    ctx: Ctx,
    principal: CurrentAdmin,
    account: Filter = None,
    symbol: Filter = None,
    status: OrderStatus | None = None,
    reject_reason: Filter = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    max_seconds: Annotated[int, Query(ge=1, le=3600)] = 300,
) -> StreamingResponse:
    """Server-sent events: an `order` event (an order with its `account_id`) for each of the
    newest matching orders, `ready`, then an `order` event within a second of any of them
    being accepted or changing; `end` after `max_seconds` or when the session expires."""
    now = ctx.clock()
    until = now + timedelta(seconds=max_seconds)
    if principal.expires_at is not None:
        until = min(until, principal.expires_at)
    watch = OrderWatch(_filter(account, symbol, status, reject_reason), limit)
    events = order_events(ctx.pool, watch, until=until, clock=ctx.clock, poll_seconds=POLL_SECONDS)
    headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    return StreamingResponse(events, media_type=EVENT_STREAM, headers=headers)


@router.get("/{order_id}/timeline")
async def order_timeline(order_id: ResourceId, ctx: Ctx, _: CurrentAdmin) -> Timeline:
    """Every message of the order in the audit trail, causes before effects, with the service
    that sent it, the decision and the reason; `404` when the trail has none (yet)."""
    try:
        async with asyncio.timeout(CONNECT_TIMEOUT_SECONDS):
            conn = await connect(ctx.settings.audit_export_url())
    except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
        raise AuditUnavailable(f"the audit trail cannot be read: {exc}") from None
    try:
        entries = await audit_trace.timeline(conn, order_id)
    except (OSError, asyncpg.PostgresError) as exc:
        raise AuditUnavailable(f"the audit trail cannot be read: {exc}") from None
    finally:
        await conn.close()
    if not entries:
        raise NotFound(f"the audit trail has no message of {order_id}")
    items = [
        TimelineEntry(**{k: v for k, v in e.items() if k != "correlation_id"}) for e in entries
    ]
    venue = audit_trace.venue_state(entries)
    return Timeline(
        order_id=order_id,
        items=items,
        venue_order_id=venue.venue_order_id,
        sends=venue.sends,
        outcome_unknown=venue.outcome_unknown,
    )
