"""Withdrawals: every one needs 2FA and a valid, unused `X-TOTP-Code`; idempotent."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Header
from starlette.responses import Response

from services.gateway import twofactor
from services.gateway.activity import emit
from services.gateway.api.bodies import WithdrawalBody
from services.gateway.api.deps import ClientAddress, Ctx, CurrentUser, ResourceId
from services.gateway.api.idempotent import idempotent
from services.gateway.api.strict_json import StrictJsonRoute
from services.gateway.api.views import WithdrawalAccepted, WithdrawalView
from services.gateway.domain import WithdrawalStatus
from services.gateway.errors import NotFound
from services.gateway.idempotency import HEADER
from services.gateway.store import wallet
from shared.contracts.wallet import RequestWithdrawal
from shared.db import Connection
from shared.ids import new_id

router = APIRouter(prefix="/v1/withdrawals", tags=["withdrawals"], route_class=StrictJsonRoute)


@router.post("", status_code=202, response_model=WithdrawalAccepted)
async def request_withdrawal(
    body: WithdrawalBody,
    ctx: Ctx,
    principal: CurrentUser,
    address: ClientAddress,
    idempotency_key: Annotated[str | None, Header(alias=HEADER)] = None,
    totp_code: Annotated[str | None, Header(alias=twofactor.TOTP_HEADER)] = None,
) -> Response:
    async def work(conn: Connection, now: datetime) -> tuple[int, WithdrawalAccepted]:
        await twofactor.require_for_money(conn, ctx, principal.user_id, totp_code, now, address)
        spec = body.spec(new_id())
        await wallet.insert_withdrawal(conn, principal.user_id, spec, now)
        message = ctx.emitter.message(
            RequestWithdrawal(withdrawal=spec, two_factor_verified=True),
            account_id=principal.user_id,
            correlation_id=spec.withdrawal_id,
            now=now,
        )
        await emit(conn, principal.user_id, message)
        accepted = WithdrawalAccepted(
            withdrawal_id=spec.withdrawal_id, status=WithdrawalStatus.REQUESTED
        )
        return 202, accepted

    return await idempotent(
        ctx,
        principal,
        address,
        endpoint="POST /v1/withdrawals",
        key=idempotency_key,
        request=body.model_dump(mode="json"),
        work=work,
    )


@router.get("/{withdrawal_id}")
async def get_withdrawal(
    withdrawal_id: ResourceId, ctx: Ctx, principal: CurrentUser
) -> WithdrawalView:
    async with ctx.pool.acquire() as conn:
        row = await wallet.withdrawal_of(conn, withdrawal_id, principal.user_id)
    if row is None:
        raise NotFound(f"no withdrawal {withdrawal_id}")
    return WithdrawalView.of(row)
