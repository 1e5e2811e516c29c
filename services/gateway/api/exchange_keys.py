"""Exchange API keys: sealed at rest (AES-GCM) and, for execution only, in `ExchangeKeyAdded`
(`shared.sealed`); never returned or logged. `validated` turns true when execution reports
`ExchangeKeyValidated` (ccxt `fetch_balance` on that exchange)."""

from __future__ import annotations

from fastapi import APIRouter

from services.gateway.activity import emit, exchange_key_added
from services.gateway.api.bodies import ExchangeKeyBody
from services.gateway.api.deps import Ctx, CurrentUser
from services.gateway.api.strict_json import StrictJsonRoute
from services.gateway.api.views import ExchangeKeyCreated
from services.gateway.store import accounts
from shared.ids import new_id
from shared.sealed import seal

router = APIRouter(prefix="/v1/exchange-keys", tags=["exchange keys"], route_class=StrictJsonRoute)


def key_context(user_id: str, key_id: str, part: str) -> str:
    """Associated data: a sealed value opens only as this part of this user's key."""
    return f"exchange-key:{user_id}:{key_id}:{part}"


@router.post("", status_code=201)
async def add_exchange_key(
    body: ExchangeKeyBody, ctx: Ctx, principal: CurrentUser
) -> ExchangeKeyCreated:
    box, seal_key = ctx.require_secret_box(), ctx.require_seal_key()
    key_id, user_id = new_id(), principal.user_id
    credentials = {"apiKey": body.api_key.get_secret_value()}
    credentials["secret"] = body.secret.get_secret_value()
    if body.password is not None:
        credentials["password"] = body.password.get_secret_value()
    sealed = {
        part: box.seal(value, context=key_context(user_id, key_id, part))
        for part, value in credentials.items()
    }
    async with ctx.pool.acquire() as conn, conn.transaction():
        await accounts.insert_exchange_key(
            conn,
            key_id=key_id,
            user_id=user_id,
            exchange=body.exchange,
            api_key=sealed["apiKey"],
            secret=sealed["secret"],
            password=sealed.get("password"),
        )
        announced = exchange_key_added(
            ctx.emitter, user_id, key_id, body.exchange, seal(credentials, seal_key), ctx.clock()
        )
        await emit(conn, user_id, announced)
    return ExchangeKeyCreated(key_id=key_id, exchange=body.exchange, validated=False)
