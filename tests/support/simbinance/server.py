"""The simulated Binance's HTTP face: aiohttp on a free loopback port, in the test's event loop.

Signed endpoints check `X-MBX-APIKEY` and the HMAC-SHA256 `signature` of the exact query the
client signed (query string + body, `signature` removed), as Binance documents.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from decimal import Decimal
from urllib.parse import parse_qsl

from aiohttp import web

from tests.support.simbinance.book import Book, Order, Refused
from tests.support.simbinance.endpoints import Call, Endpoints, Handler
from tests.support.simbinance.faults import Fault, FaultKind


@dataclass
class Seen:
    """One request, logged when it arrives; `status` once it is answered (None: still held)."""

    method: str
    path: str
    params: dict[str, str]
    at: float
    """`time.monotonic()` when it arrived."""
    status: int | None = None


def _error(status: int, code: int, msg: str, headers: dict[str, str] | None = None) -> web.Response:
    body = json.dumps({"code": code, "msg": msg})
    return web.Response(status=status, text=body, content_type="application/json", headers=headers)


class SimBinance:
    """A small Binance spot exchange for tests. See `tests/support/simbinance/__init__.py`."""

    def __init__(self) -> None:
        self.book = Book()
        self.faults: list[Fault] = []
        self.seen: list[Seen] = []
        self.unhandled: list[str] = []
        self._closing = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._port = 0
        endpoints = Endpoints(self.book)
        self._public = endpoints.public()
        self._signed = endpoints.signed()

    # --- lifecycle ----------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._port}"

    async def start(self, port: int = 0) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        self._runner = web.AppRunner(app, shutdown_timeout=1.0, access_log=None)
        await self._runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))
        self._port = sock.getsockname()[1]
        await web.SockSite(self._runner, sock).start()

    async def stop(self) -> None:
        self._closing.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # --- what tests ask -----------------------------------------------------------------------

    def add_account(self, api_key: str, secret: str, balances: dict[str, str]) -> None:
        self.book.add_account(api_key, secret, {a: Decimal(v) for a, v in balances.items()})

    def inject(self, *faults: Fault) -> None:
        self.faults.extend(faults)

    def orders_with(self, client_order_id: str) -> list[Order]:
        return [o for o in self.book.orders if o.client_order_id == client_order_id]

    def requests_to(self, method: str, path: str) -> list[Seen]:
        return [s for s in self.seen if (s.method, s.path) == (method, path)]

    # --- HTTP ---------------------------------------------------------------------------------

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        method, path = request.method, request.path
        body = (await request.text()) if request.can_read_body else ""
        raw = "&".join(part for part in (request.query_string, body) if part)
        params = dict(parse_qsl(raw, keep_blank_values=True))
        seen = Seen(method, path, params, time.monotonic())
        self.seen.append(seen)
        response = await self._answer(request, method, path, raw, params)
        seen.status = response.status
        return response

    async def _answer(
        self, request: web.Request, method: str, path: str, raw: str, params: dict[str, str]
    ) -> web.StreamResponse:
        public = self._public.get((method, path))
        if public is not None:
            return web.json_response(public(request))
        handler = self._signed.get((method, path))
        if handler is None:
            self.unhandled.append(f"{method} {path}")
            return _error(404, -1000, f"simulated Binance does not serve {method} {path}")
        api_key = request.headers.get("X-MBX-APIKEY", "")
        refusal = self._authenticate(api_key, raw, params)
        if refusal is not None:
            return refusal
        call = Call(method, path, api_key, params)
        fault = next((f for f in self.faults if f.matches(method, path)), None)
        if fault is not None:
            fault.times -= 1
            return await self._faulty(fault, handler, call)
        return await self._apply(handler, call)

    def _authenticate(self, api_key: str, raw: str, params: dict[str, str]) -> web.Response | None:
        account = self.book.accounts.get(api_key)
        if account is None:
            return _error(401, -2015, "Invalid API-key, IP, or permissions for action.")
        signed = "&".join(p for p in raw.split("&") if not p.startswith("signature="))
        expected = hmac.new(account.secret.encode(), signed.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, params.get("signature", "")):
            return _error(400, -1022, "Signature for this request is not valid.")
        return None

    async def _apply(self, handler: Handler, call: Call) -> web.Response:
        try:
            return web.json_response(await handler(call))
        except Refused as refused:
            return _error(refused.status, refused.code, refused.msg)

    async def _faulty(self, fault: Fault, handler: Handler, call: Call) -> web.Response:
        if fault.kind is FaultKind.RATE_LIMITED:
            headers = {"Retry-After": str(fault.retry_after_seconds)}
            return _error(429, -1003, "Too many requests; current limit exceeded.", headers)
        if fault.kind is FaultKind.INSUFFICIENT_BALANCE:
            refusal = Refused(400, -2010, "Account has insufficient balance for requested action.")
            return _error(refusal.status, refusal.code, refusal.msg)
        if fault.kind is FaultKind.SERVER_ERROR:
            if fault.applied:
                await self._apply(handler, call)
            return web.Response(status=fault.status, text="Service Unavailable")
        answer = await self._apply(handler, call)  # ACCEPT_THEN_TIMEOUT: applied, answer late
        try:
            await asyncio.wait_for(self._closing.wait(), timeout=fault.hold_seconds)
        except TimeoutError:
            pass
        return answer


@asynccontextmanager
async def running_simbinance(
    *, markets: dict[str, str] | None = None, port: int = 0
) -> AsyncIterator[SimBinance]:
    """A started simulator listing `markets` (symbol → price); stopped on exit."""
    sim = SimBinance()
    for symbol, price in (markets or {"BTC/USDT": "65000.00", "ETH/USDT": "3500.00"}).items():
        sim.book.list_market(symbol, Decimal(price))
    await sim.start(port)
    try:
        yield sim
    finally:
        await sim.stop()
