"""Administrators: fund paper accounts (idempotent), engage or release kill switches, and keep
the restricted list."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Header
from starlette.responses import Response

from services.gateway import controls, restrictions
from services.gateway.activity import emit
from services.gateway.api.bodies import DepositBody, KillSwitchBody, RestrictionBody
from services.gateway.api.console_views import (
    KillSwitches,
    KillSwitchView,
    Restrictions,
    RestrictionView,
)
from services.gateway.api.deps import ClientAddress, Ctx, CurrentAdmin, ResourceId
from services.gateway.api.idempotent import idempotent
from services.gateway.api.strict_json import StrictJsonRoute
from services.gateway.api.views import DepositAccepted, DepositView
from services.gateway.errors import DepositReferenceTaken, NotFound
from services.gateway.idempotency import HEADER
from services.gateway.store import accounts, trail, wallet
from services.gateway.store.restrictions import Restriction, restrictions_in_force
from shared.contracts.wallet import RecordDeposit
from shared.db import Connection
from shared.ids import new_id

router = APIRouter(prefix="/v1/admin", tags=["admin"], route_class=StrictJsonRoute)
PAPER_VENUE = "paper"


@router.post("/deposits", status_code=202, response_model=DepositAccepted)
async def record_deposit(
    body: DepositBody,
    ctx: Ctx,
    principal: CurrentAdmin,
    address: ClientAddress,
    idempotency_key: Annotated[str | None, Header(alias=HEADER)] = None,
) -> Response:
    """Credit a paper account: `RecordDeposit` (venue "paper", the body's reference) to the
    ledger, which credits each (venue, reference) once. A reference is used once, by one
    deposit: another one under it is refused here (409) rather than dropped by the ledger."""

    async def work(conn: Connection, now: datetime) -> tuple[int, DepositAccepted]:
        if not await accounts.user_exists(conn, body.user_id):
            raise NotFound(f"no user {body.user_id}")
        deposit_id = new_id()
        inserted = await wallet.insert_deposit(
            conn,
            deposit_id=deposit_id,
            user_id=body.user_id,
            asset=body.asset,
            amount=body.amount,
            reference=body.reference,
            created_by=principal.user_id,
            now=now,
        )
        if not inserted:
            raise DepositReferenceTaken(f"reference {body.reference!r} is used by another deposit")
        command = RecordDeposit(
            deposit_id=deposit_id,
            asset=body.asset,
            amount=body.amount,
            venue=PAPER_VENUE,
            reference=body.reference,
            recorded_by=principal.user_id,
        )
        message = ctx.emitter.message(
            command, account_id=body.user_id, correlation_id=deposit_id, now=now
        )
        await emit(conn, body.user_id, message)
        return 202, DepositAccepted(deposit_id=deposit_id)

    return await idempotent(
        ctx,
        principal,
        address,
        endpoint="POST /v1/admin/deposits",
        key=idempotency_key,
        request=body.model_dump(mode="json"),
        work=work,
    )


@router.get("/deposits/{deposit_id}")
async def get_deposit(deposit_id: ResourceId, ctx: Ctx, _: CurrentAdmin) -> DepositView:
    """`requested` until the ledger decides: `credited`, or `rejected` with its reason."""
    async with ctx.pool.acquire() as conn:
        row = await wallet.deposit_of(conn, deposit_id)
    if row is None:
        raise NotFound(f"no deposit {deposit_id}")
    return DepositView.of(row)


@router.post("/kill-switch")
async def change_kill_switch(
    body: KillSwitchBody, ctx: Ctx, principal: CurrentAdmin
) -> KillSwitchView:
    """Engage or release a switch; safety receives `KillSwitchChanged` and refuses new orders in
    scope, execution cancels the open ones. An account naming no user is
    `404 kill_switch_target_unknown` and changes nothing."""
    async with ctx.pool.acquire() as conn, conn.transaction():
        switch = await controls.change_kill_switch(
            conn,
            ctx.emitter,
            scope=body.scope,
            target=body.target,
            engaged=body.engaged,
            reason=body.reason,
            changed_by=principal.user_id,
            now=ctx.clock(),
            mode=body.mode,
        )
    return _view(switch)


@router.get("/kill-switch")
async def list_kill_switches(ctx: Ctx, _: CurrentAdmin) -> KillSwitches:
    async with ctx.pool.acquire() as conn:
        switches = await trail.kill_switches(conn)
    return KillSwitches(items=[_view(switch) for switch in switches])


def _view(switch: trail.KillSwitch) -> KillSwitchView:
    return KillSwitchView.of(switch)


@router.post("/restrictions")
async def change_restriction(
    body: RestrictionBody, ctx: Ctx, principal: CurrentAdmin
) -> RestrictionView:
    """Put a symbol or an account on the restricted list, or take it off; safety receives
    `RestrictionChanged` and rejects new orders it covers (and an account's withdrawals) with
    RESTRICTED. An account naming no user is `404 restriction_target_unknown`."""
    async with ctx.pool.acquire() as conn, conn.transaction():
        restriction = await restrictions.change_restriction(
            conn,
            ctx.emitter,
            scope=body.scope,
            target=body.target,
            restricted=body.restricted,
            reason=body.reason,
            changed_by=principal.user_id,
            now=ctx.clock(),
        )
    return _restriction_view(restriction)


@router.get("/restrictions")
async def list_restrictions(ctx: Ctx, _: CurrentAdmin) -> Restrictions:
    async with ctx.pool.acquire() as conn:
        listed = await restrictions_in_force(conn)
    return Restrictions(items=[_restriction_view(r) for r in listed])


def _restriction_view(restriction: Restriction) -> RestrictionView:
    return RestrictionView(
        scope=restriction.scope,
        target=restriction.target,
        restricted=restriction.restricted,
        reason=restriction.reason,
        changed_by=restriction.changed_by,
        changed_at=restriction.changed_at,
    )
