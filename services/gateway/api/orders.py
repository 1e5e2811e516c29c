"""Orders: place (idempotent, 2FA for real money), read, list with a cursor, cancel, and the
dead man's switch (cancel every open order unless renewed)."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Header, Query
from starlette.responses import Response

from services.gateway import ratelimit, twofactor
from services.gateway.activity import cancel_all_after_armed, emit
from services.gateway.api.bodies import CancelAllAfterBody, PlaceOrderBody
from services.gateway.api.deps import ClientAddress, Ctx, CurrentUser, ResourceId
from services.gateway.api.idempotent import idempotent
from services.gateway.api.strict_json import StrictJsonRoute
from services.gateway.api.views import (
    CancelAccepted,
    CancelAllAfterView,
    OrderAccepted,
    OrderPage,
    OrderView,
)
from services.gateway.domain import ORDER_TERMINAL, OrderStatus
from services.gateway.errors import InvalidCursor, NotFound, OrderNotCancellable
from services.gateway.idempotency import HEADER
from services.gateway.store import orders
from shared.contracts.orders import CancelAllAfterArmed, CancelOrder, Mode, PlaceOrder
from shared.db import Connection
from shared.ids import new_id

router = APIRouter(prefix="/v1/orders", tags=["orders"], route_class=StrictJsonRoute)
IdempotencyKey = Annotated[str | None, Header(alias=HEADER)]
TotpCode = Annotated[str | None, Header(alias=twofactor.TOTP_HEADER)]


@router.post("", status_code=202, response_model=OrderAccepted)
async def place_order(
    body: PlaceOrderBody,
    ctx: Ctx,
    principal: CurrentUser,
    address: ClientAddress,
    idempotency_key: IdempotencyKey = None,
    totp_code: TotpCode = None,
) -> Response:
    async def work(conn: Connection, now: datetime) -> tuple[int, OrderAccepted]:
        verified = False
        if body.mode is Mode.REAL:
            await twofactor.require_for_money(conn, ctx, principal.user_id, totp_code, now, address)
            verified = True
        spec = body.spec(new_id())
        await orders.insert_order(conn, principal.user_id, spec, now)
        command = PlaceOrder(order=spec, two_factor_verified=verified)
        message = ctx.emitter.message(
            command, account_id=principal.user_id, correlation_id=spec.order_id, now=now
        )
        await emit(conn, principal.user_id, message)
        ctx.metrics.orders_accepted.labels(spec.mode.value).inc()
        return 202, OrderAccepted(order_id=spec.order_id, status=OrderStatus.REQUESTED)

    return await idempotent(
        ctx,
        principal,
        address,
        endpoint="POST /v1/orders",
        key=idempotency_key,
        request=body.model_dump(mode="json"),
        work=work,
    )


@router.post("/cancel-all-after")
async def cancel_all_after(
    body: CancelAllAfterBody, ctx: Ctx, principal: CurrentUser
) -> CancelAllAfterView:
    """Arm (or, with 0, disarm) the caller's dead man's switch: unless called again before
    `armed_until`, execution cancels every open order of the caller then. Each call replaces
    the previous one; no Idempotency-Key (a repeated call is a renewal)."""
    now = ctx.clock()
    message = cancel_all_after_armed(ctx.emitter, principal.user_id, body.timeout_seconds, now)
    async with ctx.pool.acquire() as conn, conn.transaction():
        await emit(conn, principal.user_id, message)
    return CancelAllAfterView(armed_until=message.body(CancelAllAfterArmed).armed_until)


@router.get("/{order_id}")
async def get_order(order_id: ResourceId, ctx: Ctx, principal: CurrentUser) -> OrderView:
    async with ctx.pool.acquire() as conn:
        order = await orders.order_of(conn, order_id, principal.user_id)
    if order is None:
        raise NotFound(f"no order {order_id}")
    return OrderView.of(order)


@router.get("")
async def list_orders(
    ctx: Ctx,
    principal: CurrentUser,
    status: OrderStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    cursor: Annotated[str | None, Query(max_length=100)] = None,
) -> OrderPage:
    """Newest first. `next_cursor` is opaque: pass it back as `cursor` for the next page."""
    before = _read_cursor(cursor)
    async with ctx.pool.acquire() as conn:
        rows = await orders.list_orders(conn, principal.user_id, status, before, limit + 1)
    page = rows[:limit]
    next_cursor = _make_cursor(page[-1].seq) if len(rows) > limit else None
    return OrderPage(items=[OrderView.of(row) for row in page], next_cursor=next_cursor)


@router.post("/{order_id}/cancel", status_code=202, response_model=CancelAccepted)
async def cancel_order(
    order_id: ResourceId,
    ctx: Ctx,
    principal: CurrentUser,
    address: ClientAddress,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Every cancel request counts against the account's cancel cap first (a storm is
    `429 too_many_cancels`); an order never counts there, and a cancel never counts as one."""
    async with ctx.pool.acquire() as conn, conn.transaction():
        await ratelimit.admit_cancel(
            conn, principal.user_id, ctx.clock(), ctx.settings.cancels_per_second
        )

    async def work(conn: Connection, now: datetime) -> tuple[int, CancelAccepted]:
        order = await orders.order_of(conn, order_id, principal.user_id, lock=True)
        if order is None:
            raise NotFound(f"no order {order_id}")
        if order.status in ORDER_TERMINAL:
            raise OrderNotCancellable(f"the order is already {order.status.value}")
        message = ctx.emitter.message(
            CancelOrder(order_id=order_id),
            account_id=principal.user_id,
            correlation_id=order_id,
            now=now,
        )
        await emit(conn, principal.user_id, message)
        return 202, CancelAccepted(order_id=order_id, cancel_requested=True)

    return await idempotent(
        ctx,
        principal,
        address,
        endpoint="POST /v1/orders/{order_id}/cancel",
        key=idempotency_key,
        request={"order_id": order_id},
        work=work,
    )


def _make_cursor(seq: int) -> str:
    return base64.urlsafe_b64encode(f"o:{seq}".encode()).decode().rstrip("=")


def _read_cursor(cursor: str | None) -> int | None:
    if cursor is None:
        return None
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        prefix, _, seq = text.partition(":")
        if prefix != "o" or not seq.isdigit():
            raise ValueError(text)
        return int(seq)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise InvalidCursor("cursor: not a cursor this API gave out") from None
