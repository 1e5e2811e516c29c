"""A ccxt exchange behind the `Venue` protocol, for one user's key.

Nothing is ever retried here: a failed call is classified (`ccxt_calls`) and the caller decides,
following the unknown-outcome rule in `services.execution.domain.outcomes`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from services.execution.domain.errors import VenueOutcomeUnknown, VenueRejected
from services.execution.domain.outcomes import Verdict
from services.execution.venues import ccxt_parse as parse
from services.execution.venues.base import (
    DepositSeen,
    OrderRequest,
    VenueOrder,
    WithdrawalReceipt,
    WithdrawalRequest,
)
from services.execution.venues.ccxt_calls import CallFailed, CcxtCalls
from services.execution.venues.ccxt_client import (
    RequestLog,
    ccxt_async,
    create_exchange,
    traced_session,
)
from shared.contracts.execution import ListedMarket
from shared.ids import derived_id

WITHDRAWAL_ID_PARAM = {"binance": "withdrawOrderId"}
"""Where an exchange takes our id for a withdrawal (so a lost answer can be looked up)."""


def withdrawal_client_id(withdrawal_id: str) -> str:
    return "wd" + derived_id("withdrawal-client-id", withdrawal_id).hex


class CcxtVenue:
    def __init__(
        self,
        exchange_id: str,
        credentials: dict[str, str],
        *,
        timeout_ms: int,
        base_url: str | None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = exchange_id
        log = RequestLog()
        # The session is opened last, once nothing else can fail: a client that cannot be built
        # (an exchange ccxt does not know) leaves no open session behind.
        self._exchange: Any = create_exchange(
            exchange_id, credentials, timeout_ms=timeout_ms, session=None, base_url=base_url
        )
        self._session = traced_session(log)
        self._exchange.session = self._session
        self._calls = CcxtCalls(exchange_id, self._exchange, log, clock)

    @property
    def closed(self) -> bool:
        return self._session.closed

    async def close(self) -> None:
        """Close ccxt's client and our session (ccxt never closes a session it was given)."""
        try:
            await self._exchange.close()
        finally:
            await self._session.close()

    # --- Venue --------------------------------------------------------------------------------

    async def place_order(self, request: OrderRequest) -> VenueOrder:
        await self._calls.ready()
        self._check_precision(request)
        try:
            raw = await self._calls.call(
                lambda: self._exchange.create_order(
                    request.symbol,
                    request.type.value,
                    request.side.value,
                    str(request.amount),
                    None if request.price is None else str(request.price),
                    {"clientOrderId": request.client_order_id},
                ),
            )
        except CallFailed as failed:
            if failed.verdict is Verdict.DUPLICATE:  # it exists: report what the venue has
                found = await self.fetch_order_by_client_id(request.symbol, request.client_order_id)
                if found is None:
                    raise VenueOutcomeUnknown("duplicate refused, but not found yet") from None
                return found
            raise self._calls.translate(failed) from None
        trades = parse.trades(request.symbol, str(raw["id"]), parse.embedded_trades(raw))
        return parse.venue_order(raw, request.client_order_id, trades)

    async def fetch_order_by_client_id(
        self, symbol: str, client_order_id: str
    ) -> VenueOrder | None:
        await self._calls.ready()
        params = {"clientOrderId": client_order_id}
        try:
            raw = await self._calls.call(lambda: self._exchange.fetch_order(None, symbol, params))
        except CallFailed as failed:
            if failed.verdict is Verdict.NOT_FOUND:
                return None
            raise self._calls.translate(failed) from None
        venue_order_id = str(raw["id"])
        found: list[Any] = []
        if parse.filled(raw) > 0:
            found = await self._calls.checked(
                lambda: self._exchange.fetch_order_trades(venue_order_id, symbol)
            )
        return parse.venue_order(raw, client_order_id, parse.trades(symbol, venue_order_id, found))

    async def cancel_order(self, symbol: str, client_order_id: str) -> VenueOrder:
        await self._calls.ready()
        params = {"clientOrderId": client_order_id}
        try:
            await self._calls.call(lambda: self._exchange.cancel_order(None, symbol, params))
        except CallFailed as failed:
            if failed.verdict is not Verdict.NOT_FOUND:  # not found: filled or gone; look
                raise self._calls.translate(failed) from None
        found = await self.fetch_order_by_client_id(symbol, client_order_id)
        if found is None:
            raise VenueRejected(f"the venue does not know order {client_order_id}")
        return found

    async def withdraw(self, request: WithdrawalRequest) -> WithdrawalReceipt:
        await self._calls.ready()
        params: dict[str, str] = {}
        if request.network:
            params["network"] = request.network
        id_param = WITHDRAWAL_ID_PARAM.get(self.name)
        if id_param:
            params[id_param] = withdrawal_client_id(request.withdrawal_id)
        raw = await self._calls.checked(
            lambda: self._exchange.withdraw(
                request.asset, str(request.amount), request.address, params
            ),
        )
        return self._receipt(raw)

    # --- RemoteVenue --------------------------------------------------------------------------

    async def check_credentials(self) -> None:
        await self._calls.ready()
        await self._calls.checked(lambda: self._exchange.fetch_balance())

    async def find_withdrawal(self, request: WithdrawalRequest) -> WithdrawalReceipt | None:
        id_param = WITHDRAWAL_ID_PARAM.get(self.name)
        if id_param is None:
            raise VenueOutcomeUnknown(f"{self.name} cannot look a withdrawal up by our id")
        ours = withdrawal_client_id(request.withdrawal_id)
        await self._calls.ready()
        found = await self._calls.checked(
            lambda: self._exchange.fetch_withdrawals(request.asset, None, None, {id_param: ours})
        )
        for raw in found:
            if str((raw.get("info") or {}).get(id_param)) == ours:
                return self._receipt(raw)
        return None

    async def deposits(self, since_ms: int) -> list[DepositSeen]:
        await self._calls.ready()
        found = await self._calls.checked(lambda: self._exchange.fetch_deposits(None, since_ms))
        return parse.credited_deposits(found)

    async def balances(self) -> dict[str, Decimal]:
        await self._calls.ready()
        raw = await self._calls.checked(lambda: self._exchange.fetch_balance())
        return parse.balance_totals(raw)

    async def markets(self, *, reload: bool = False) -> list[ListedMarket]:
        await self._calls.ready()
        if reload:
            await self._calls.checked(lambda: self._exchange.load_markets(True))
        return parse.listed_markets(self._exchange.markets, self._exchange.precisionMode)

    async def cancel_all_after(self, timeout_ms: int) -> bool:
        """ccxt's `cancelAllAfter` where the exchange has it (`has['cancelAllAfter']`)."""
        if not self._exchange.has.get("cancelAllAfter"):
            return False
        await self._calls.ready()
        await self._calls.checked(lambda: self._exchange.cancel_all_after(timeout_ms))
        return True

    # --- internals ----------------------------------------------------------------------------

    def _receipt(self, raw: dict[str, Any]) -> WithdrawalReceipt:
        """The chain's transaction id when the venue has one yet, else the venue's own id."""
        return WithdrawalReceipt(txid=str(raw.get("txid") or f"{self.name}:{raw['id']}"))

    def _check_precision(self, request: OrderRequest) -> None:
        """Refuse, before sending, what the venue would silently round: an order for less (or at
        another price) than was asked and held would never match what the ledger expects."""
        try:
            amount = self._exchange.amount_to_precision(request.symbol, str(request.amount))
            price = (
                None
                if request.price is None
                else self._exchange.price_to_precision(request.symbol, str(request.price))
            )
        except ccxt_async().BaseError as exc:
            raise VenueRejected(f"{self.name}: {type(exc).__name__}: {str(exc)[:200]}") from None
        for name, wanted, allowed in (
            ("amount", request.amount, amount),
            ("price", request.price, price),
        ):
            if wanted is not None and allowed is not None and Decimal(allowed) != wanted:
                raise VenueRejected(
                    f"{self.name}: {name} {wanted} is finer than {request.symbol} allows "
                    f"(it would be {allowed})"
                )
