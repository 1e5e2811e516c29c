"""Balances as the ledger last reported them (`BalanceChanged`, newest version wins)."""

from __future__ import annotations

from fastapi import APIRouter

from services.gateway.api.deps import Ctx, CurrentUser
from services.gateway.api.strict_json import StrictJsonRoute
from services.gateway.api.views import Balances, BalanceView
from services.gateway.domain import wire_decimal
from services.gateway.store import wallet

router = APIRouter(prefix="/v1/balances", tags=["balances"], route_class=StrictJsonRoute)


@router.get("")
async def get_balances(ctx: Ctx, principal: CurrentUser) -> Balances:
    async with ctx.pool.acquire() as conn:
        rows = await wallet.balances_of(conn, principal.user_id)
    items = [
        BalanceView(
            asset=row.asset,
            available=wire_decimal(row.available),
            held=wire_decimal(row.held),
            total=wire_decimal(row.available + row.held),
        )
        for row in rows
    ]
    return Balances(items=items)
