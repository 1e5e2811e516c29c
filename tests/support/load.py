"""A seeded load through the real HTTP API: market and limit orders, cancels, deposits and
withdrawals from several users, that survives the gateway being killed under it.

Every request carries an Idempotency-Key and is re-sent with the same key until it gets an
answer (connection refused, 5xx, `409 idempotency_request_in_progress`). About one request in
ten is sent twice on purpose, one after the other or at the same moment; both answers must
name the same order (or withdrawal, or deposit): `Load.idempotency_violations` lists any that
did not. Which operation comes next is drawn from the seeded RNG; when it runs depends on the
processes, so a replay with the same seed repeats the plan, not the interleaving.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import asyncpg
import httpx
import pyotp

from tests.support.client import ApiUser, balances_of
from tests.support.waiting import eventually

PriceFeed = Callable[[], Awaitable[Mapping[str, Decimal]]]
SYMBOLS = {"BTC/USDT": Decimal("0.0001"), "ETH/USDT": Decimal("0.001"), "SOL/USDT": Decimal("0.01")}
"""Symbol → the step of its order amounts."""
FUNDING = {"USDT": Decimal(200_000), "BTC": Decimal(2), "ETH": Decimal(20), "SOL": Decimal(200)}
TOTP_STEP = 30
RESEND_FOR = 120.0
"""How long a request is re-sent while the gateway is down (restarts take seconds)."""
TOTP_RESEND_FOR = 40.0
"""A withdrawal's code expires: past this, re-sending it could only be refused."""
DUPLICATE_SHARE = 0.1
OPEN_STATUSES = ("requested", "approved", "funds_held", "submitted", "partially_filled")


@dataclass(frozen=True)
class Answer:
    status: int
    body: dict[str, Any]
    replayed: bool


@dataclass
class Trader:
    api: ApiUser
    totp: pyotp.TOTP
    last_step: int = 0
    orders: list[str] = field(default_factory=list)

    def next_code(self) -> str | None:
        """An unused code of the current or next 30 s step (the gateway accepts both), if any."""
        step = int(time.time()) // TOTP_STEP
        candidate = max(self.last_step + 1, step)
        if candidate > step + 1:
            return None
        self.last_step = candidate
        return str(self.totp.at(candidate * TOTP_STEP))


async def send(
    http: httpx.AsyncClient,
    path: str,
    body: Mapping[str, Any],
    key: str,
    *,
    headers: Mapping[str, str] | None = None,
    resend_for: float = RESEND_FOR,
) -> Answer | None:
    """POST until answered; None if the gateway never answered within `resend_for` s."""
    deadline = time.monotonic() + resend_for
    while time.monotonic() < deadline:
        try:
            response = await http.post(
                path, json=dict(body), headers={"Idempotency-Key": key, **(headers or {})}
            )
        except httpx.HTTPError:
            await asyncio.sleep(0.3)
            continue
        try:
            data = response.json() if response.content else {}
        except ValueError:  # a bare 5xx from a dying server
            data = {}
        if response.status_code >= 500 or data.get("code") == "idempotency_request_in_progress":
            await asyncio.sleep(0.2)
            continue
        replayed = response.headers.get("Idempotent-Replayed") == "true"
        return Answer(response.status_code, data, replayed)
    return None


def price_feed(url: str) -> PriceFeed:
    """The paper venue's current prices, read from the execution service's database."""

    async def prices() -> Mapping[str, Decimal]:
        conn = await asyncpg.connect(url)
        try:
            return {
                r["symbol"]: r["price"]
                for r in await conn.fetch("SELECT symbol, price FROM paper_prices")
            }
        finally:
            await conn.close()

    return prices


class Load:
    def __init__(self, gateway_url: str, admin: ApiUser, prices: PriceFeed, seed: int) -> None:
        self.gateway_url = gateway_url
        self.admin = admin
        self.prices = prices
        self.seed = seed
        self.traders: list[Trader] = []
        self.stats: Counter[str] = Counter()
        self.idempotency_violations: list[str] = []

    async def add_traders(self, count: int) -> None:
        """Register, turn on 2FA, fund and wait until the ledger has credited each of them."""
        for n in range(count):
            email = f"trader{n}-{self.seed}-{uuid.uuid4().hex[:6]}@example.com"
            api = await ApiUser(
                self.gateway_url, email, f"long password {n} {self.seed}"
            ).register()
            enrolled = await api.http.post("/v1/auth/2fa/enroll")
            assert enrolled.status_code == 200, enrolled.text
            totp = pyotp.TOTP(enrolled.json()["secret"])
            step = int(time.time()) // TOTP_STEP
            confirmed = await api.http.post(
                "/v1/auth/2fa/confirm", json={"code": totp.at(step * TOTP_STEP)}
            )
            assert confirmed.status_code == 200, confirmed.text
            self.traders.append(Trader(api, totp, last_step=step))
            for asset, amount in FUNDING.items():
                await self.deposit(api.user_id, asset, amount)
        for trader in self.traders:
            await eventually(
                trader.api.balances,
                until=lambda b: all(balances_of(b, a)[0] >= v for a, v in FUNDING.items()),
                timeout=60,
                what="funding credited",
            )

    async def run(self, seconds: float, workers: int = 4, pause: float = 0.4) -> None:
        """`workers` concurrent clients, each drawing operations from its own seeded RNG."""
        stop_at = time.monotonic() + seconds
        await asyncio.gather(*(self._worker(n, stop_at, pause) for n in range(workers)))

    async def cancel_everything_open(
        self, timeout: float = 90.0, interval: float = 2.0
    ) -> list[str]:
        """Cancel every order not yet final until none is left (resting limits end here).

        Returns the orders still not final at `timeout` (the checker reports them)."""
        deadline = time.monotonic() + timeout
        while True:
            left = [(t, order_id) for t in self.traders for order_id in await self._open(t)]
            if not left or time.monotonic() > deadline:
                return [order_id for _, order_id in left]
            for trader, order_id in left:
                await self._cancel(trader, order_id)
            await asyncio.sleep(interval)

    async def _open(self, trader: Trader) -> list[str]:
        found: list[str] = []
        for status in OPEN_STATUSES:
            cursor: str | None = None
            while True:
                params = {
                    "status": status,
                    "limit": "100",
                    **({"cursor": cursor} if cursor else {}),
                }
                try:
                    response = await trader.api.http.get("/v1/orders", params=params)
                except httpx.HTTPError:  # the gateway is restarting: ask again
                    await asyncio.sleep(0.5)
                    continue
                page = response.json()
                found += [item["order_id"] for item in page["items"]]
                cursor = page.get("next_cursor")
                if not cursor:
                    break
        return found

    async def _worker(self, number: int, stop_at: float, pause: float) -> None:
        rng = random.Random(f"{self.seed}:{number}")
        while time.monotonic() < stop_at:
            trader = rng.choice(self.traders)
            roll = rng.random()
            if roll < 0.40:
                await self._order(rng, trader, "market")
            elif roll < 0.65:
                await self._order(rng, trader, "limit")
            elif roll < 0.70:
                await self._order(rng, trader, "market", oversized=True)
            elif roll < 0.80 and trader.orders:
                await self._cancel(trader, rng.choice(trader.orders[-5:]), rng)
            elif roll < 0.90:
                amount = Decimal(rng.randint(100, 5000))
                await self.deposit(trader.api.user_id, "USDT", amount, rng)
            else:
                await self._withdraw(rng, trader)
            await asyncio.sleep(rng.uniform(0, 2 * pause))

    async def _order(
        self, rng: random.Random, trader: Trader, kind: str, *, oversized: bool = False
    ) -> None:
        symbol = rng.choice(sorted(SYMBOLS))
        step = SYMBOLS[symbol]
        lots = rng.randint(20_000, 60_000) if oversized else rng.randint(10, 300)
        body: dict[str, Any] = {
            "symbol": symbol,
            "side": rng.choice(["buy", "sell"]),
            "type": kind,
            "amount": str(step * lots),
        }
        if kind == "limit":
            current = (await self.prices())[symbol]
            move = Decimal(rng.randint(-300, 200)) / 10_000  # -3% .. +2%: rests or crosses
            body["price"] = str((current * (1 + move)).quantize(Decimal("0.01")))
        answer = await self._twice_sometimes(rng, trader.api.http, "/v1/orders", body, "order_id")
        self.stats[f"{kind} orders {answer.status if answer else 'unanswered'}"] += 1
        if answer is not None and answer.status == 202:
            trader.orders.append(answer.body["order_id"])

    async def _cancel(
        self, trader: Trader, order_id: str, rng: random.Random | None = None
    ) -> None:
        path = f"/v1/orders/{order_id}/cancel"
        if rng is None:
            answer = await send(trader.api.http, path, {}, str(uuid.uuid4()))
        else:
            answer = await self._twice_sometimes(rng, trader.api.http, path, {}, "order_id")
        self.stats[f"cancels {answer.status if answer else 'unanswered'}"] += 1

    async def deposit(
        self, user_id: str, asset: str, amount: Decimal, rng: random.Random | None = None
    ) -> None:
        body = {"user_id": user_id, "asset": asset, "amount": str(amount)}
        body["reference"] = f"chaos-{uuid.uuid4()}"
        if rng is None:
            answer = await send(self.admin.http, "/v1/admin/deposits", body, str(uuid.uuid4()))
        else:
            http = self.admin.http
            answer = await self._twice_sometimes(
                rng, http, "/v1/admin/deposits", body, "deposit_id"
            )
        assert answer is not None and answer.status == 202, answer
        self.stats["deposits"] += 1

    async def _withdraw(self, rng: random.Random, trader: Trader) -> None:
        code = trader.next_code()
        if code is None:
            self.stats["withdrawals skipped (no unused 2FA code yet)"] += 1
            return
        asset, amount = rng.choice([("USDT", str(rng.randint(10, 500))), ("BTC", "0.001")])
        body = {"asset": asset, "amount": amount, "address": f"chaos-wallet-{rng.randint(1, 9)}"}
        answer = await self._confirmed(rng, trader, "/v1/withdrawals", body, "withdrawal_id", code)
        self.stats[f"withdrawals {answer.status if answer else 'unanswered'}"] += 1

    async def _confirmed(
        self,
        rng: random.Random,
        trader: Trader,
        path: str,
        body: Mapping[str, Any],
        id_field: str,
        code: str,
    ) -> Answer | None:
        """A money request with the trader's 2FA code (`_twice_sometimes`, the longer resend
        window a code needs)."""
        return await self._twice_sometimes(
            rng,
            trader.api.http,
            path,
            body,
            id_field,
            headers={"X-TOTP-Code": code},
            resend_for=TOTP_RESEND_FOR,
        )

    async def _twice_sometimes(
        self,
        rng: random.Random,
        http: httpx.AsyncClient,
        path: str,
        body: Mapping[str, Any],
        id_field: str,
        *,
        headers: Mapping[str, str] | None = None,
        resend_for: float = RESEND_FOR,
    ) -> Answer | None:
        """Send once, or (~10%) twice with the same key; both answers must agree."""
        key = str(uuid.uuid4())
        roll = rng.random()
        if roll >= DUPLICATE_SHARE:
            return await send(http, path, body, key, headers=headers, resend_for=resend_for)
        if roll < DUPLICATE_SHARE / 2:
            self.stats["sent twice, one after the other"] += 1
            first = await send(http, path, body, key, headers=headers, resend_for=resend_for)
            second = await send(http, path, body, key, headers=headers, resend_for=resend_for)
        else:
            self.stats["sent twice at the same moment"] += 1
            first, second = await asyncio.gather(
                send(http, path, body, key, headers=headers, resend_for=resend_for),
                send(http, path, body, key, headers=headers, resend_for=resend_for),
            )
        if first is not None and second is not None:
            same = (first.status, first.body.get(id_field)) == (
                second.status,
                second.body.get(id_field),
            )
            if not same or (first.status < 300 and not (first.replayed or second.replayed)):
                self.idempotency_violations.append(f"{path} key {key}: {first} then {second}")
        return first

    async def close(self) -> None:
        for trader in self.traders:
            await trader.api.close()
