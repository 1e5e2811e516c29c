"""A seeded real-money load against the simulated Binance, run in the test's own event loop.

Each trader has 2FA and a validated Binance key (an account at the simulator) and places
real-money market and limit orders, cancels some, and withdraws once in a while. Every money
request needs an unused TOTP code, one per 30 s step (the current or the next one), so a trader
places a few orders a minute: the load has more traders rather than faster ones. The
simulator's prices wander (seeded) so resting limit orders fill while they are looked up.

`venue_records` turns what the simulator holds into what `check_system` compares the system's
books with.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import asyncpg
import pyotp

from cryptoorch.check_venues import (
    VenueOrderRecord,
    VenueRecords,
    VenueTradeRecord,
    VenueWithdrawalRecord,
)
from services.execution.venues.ccxt_parse import trade_key
from tests.support.client import ApiUser, balances_of
from tests.support.load import TOTP_STEP, Load, Trader
from tests.support.simbinance import SimBinance
from tests.support.simbinance.faults import Scheduled
from tests.support.waiting import eventually

VENUE = "binance"
MARKETS = {"BTC/USDT": Decimal("65000"), "ETH/USDT": Decimal("3500")}
STEPS = {"BTC/USDT": Decimal("0.00001"), "ETH/USDT": Decimal("0.0001")}
"""Symbol → the simulator's lot size (an amount finer than it is refused before sending)."""
LOTS = {"BTC/USDT": (20, 1500), "ETH/USDT": (200, 5000)}
"""Symbol → the range of an order's size in lots (about $13 to $1000)."""
FUNDING = {"USDT": Decimal(50_000), "BTC": Decimal(1), "ETH": Decimal(10)}
"""What each trader deposits with us (credited by the ledger)."""
AT_THE_VENUE = {asset: 10 * amount for asset, amount in FUNDING.items()}
"""What each trader's account at the venue holds: more than with us, so the venue never
refuses for want of balance (that is a unit test's business)."""
Note = Callable[[str], None]


class VenueLoad(Load):
    def __init__(
        self,
        gateway_url: str,
        admin: ApiUser,
        sim: SimBinance,
        seed: int,
        *,
        gateway_db: str,
        safety_db: str,
    ) -> None:
        super().__init__(gateway_url, admin, self._prices, seed)
        self.sim = sim
        self.safety_db = safety_db
        self.gateway_db = gateway_db
        self.withdrawals: list[str] = []

    async def _prices(self) -> dict[str, Decimal]:
        return {f"{m.base}/{m.quote}": m.price for m in self.sim.book.markets.values()}

    async def add_traders(self, count: int) -> None:
        """Register, turn on 2FA, open an account at the venue, add and validate its key, fund."""
        began = time.monotonic()
        self.traders += await asyncio.gather(*(self._add_trader(n) for n in range(count)))
        self.stats["seconds to register traders"] = round(time.monotonic() - began)
        for trader in self.traders:
            await eventually(
                trader.api.balances,
                until=lambda b: all(balances_of(b, a)[0] >= v for a, v in FUNDING.items()),
                timeout=60,
                what="funding credited",
            )
        await eventually(
            self._validated_keys,
            until=lambda n: n == len(self.traders),
            timeout=60,
            what="every exchange key validated by execution",
        )
        self.stats["seconds to set traders up"] = round(time.monotonic() - began)

    async def _add_trader(self, n: int) -> Trader:
        tag = f"{self.seed}-{uuid.uuid4().hex[:6]}"
        api = await ApiUser(
            self.gateway_url, f"venue-trader{n}-{tag}@example.com", f"long password {tag}"
        ).register()
        enrolled = await api.http.post("/v1/auth/2fa/enroll")
        assert enrolled.status_code == 200, enrolled.text
        totp = pyotp.TOTP(enrolled.json()["secret"])
        for back in (1, 0):  # the previous step's code leaves two for now; unless it just expired
            step = int(time.time()) // TOTP_STEP - back
            confirmed = await api.http.post(
                "/v1/auth/2fa/confirm", json={"code": totp.at(step * TOTP_STEP)}
            )
            if confirmed.status_code == 200:
                break
        assert confirmed.status_code == 200, confirmed.text
        api_key, secret = f"key-{n}-{tag}", f"secret-{n}-{tag}"
        self.sim.add_account(api_key, secret, {a: str(v) for a, v in AT_THE_VENUE.items()})
        added = await api.http.post(
            "/v1/exchange-keys", json={"exchange": VENUE, "api_key": api_key, "secret": secret}
        )
        assert added.status_code == 201, added.text
        for asset, amount in FUNDING.items():
            await self.deposit(api.user_id, asset, amount)
        return Trader(api, totp, last_step=step)

    async def unsent_orders(self) -> int:
        """Orders accepted but not yet at the venue (or ended): execution's backlog."""
        conn = await asyncpg.connect(self.gateway_db)
        try:
            return int(
                await conn.fetchval(
                    "SELECT count(*) FROM orders WHERE status IN ('requested', 'approved', "
                    "'funds_held')"
                )
            )
        finally:
            await conn.close()

    async def _validated_keys(self) -> int:
        conn = await asyncpg.connect(self.safety_db)
        try:
            users = [t.api.user_id for t in self.traders]
            return int(
                await conn.fetchval(
                    "SELECT count(*) FROM exchange_keys WHERE valid AND account_id = ANY($1)",
                    users,
                )
            )
        finally:
            await conn.close()

    async def run(self, seconds: float, workers: int = 0, pause: float = 4.0) -> None:
        """One client per trader, each drawing its operations from its own seeded RNG."""
        stop_at = time.monotonic() + seconds
        await asyncio.gather(
            *(self._trade(n, t, stop_at, pause) for n, t in enumerate(self.traders))
        )

    async def _trade(self, number: int, trader: Trader, stop_at: float, pause: float) -> None:
        rng = random.Random(f"{self.seed}:venue:{number}")
        while time.monotonic() < stop_at:
            roll = rng.random()
            if roll < 0.12 and trader.orders:
                await self._cancel(trader, rng.choice(trader.orders[-4:]), rng)
            else:
                code = trader.next_code()
                if code is None:
                    self.stats["waits for an unused 2FA code"] += 1
                elif roll < 0.5:
                    await self._real_order(rng, trader, "market", code)
                elif roll < 0.92:
                    await self._real_order(rng, trader, "limit", code)
                else:
                    await self._real_withdrawal(rng, trader, code)
            left = stop_at - time.monotonic()
            await asyncio.sleep(max(0.0, min(left, rng.uniform(pause / 2, 3 * pause / 2))))

    async def _real_order(self, rng: random.Random, trader: Trader, kind: str, code: str) -> None:
        symbol = rng.choice(sorted(MARKETS))
        low, high = LOTS[symbol]
        body: dict[str, Any] = {
            "symbol": symbol,
            "side": rng.choice(["buy", "sell"]),
            "type": kind,
            "amount": str(STEPS[symbol] * rng.randint(low, high)),
            "mode": "real",
            "exchange": VENUE,
        }
        if kind == "limit":
            current = (await self._prices())[symbol]
            move = Decimal(rng.randint(-150, 100)) / 10_000  # -1.5% .. +1%: rests or crosses
            body["price"] = str((current * (1 + move)).quantize(Decimal("0.01")))
        answer = await self._confirmed(rng, trader, "/v1/orders", body, "order_id", code)
        self.stats[f"real {kind} orders {answer.status if answer else 'unanswered'}"] += 1
        if answer is not None and answer.status == 202:
            trader.orders.append(answer.body["order_id"])

    async def _real_withdrawal(self, rng: random.Random, trader: Trader, code: str) -> None:
        body = {
            "asset": "USDT",
            "amount": str(rng.randint(10, 200)),
            "address": f"venue-chaos-wallet-{rng.randint(1, 9)}",
            "exchange": VENUE,
        }
        answer = await self._confirmed(rng, trader, "/v1/withdrawals", body, "withdrawal_id", code)
        self.stats[f"real withdrawals {answer.status if answer else 'unanswered'}"] += 1
        if answer is not None and answer.status == 202:
            self.withdrawals.append(answer.body["withdrawal_id"])


async def wander_prices(
    sim: SimBinance, rng: random.Random, seconds: float, note: Note, every: float = 2.0
) -> None:
    """Move each market by up to 0.5% now and then, within 2% of where it started; a move
    fills the resting limit orders it crosses."""
    stop_at = time.monotonic() + seconds
    while time.monotonic() < stop_at:
        await asyncio.sleep(rng.uniform(every / 2, 3 * every / 2))
        for symbol, start in MARKETS.items():
            market = sim.book.markets[symbol.replace("/", "")]
            moved = market.price * (1 + Decimal(rng.randint(-50, 50)) / 10_000)
            price = min(max(moved, start * Decimal("0.98")), start * Decimal("1.02"))
            sim.book.set_price(market.symbol_id, price.quantize(Decimal("0.01")))
    note("prices: " + ", ".join(f"{m.symbol_id} {m.price}" for m in sim.book.markets.values()))


async def arm_faults(sim: SimBinance, plan: list[Scheduled], note: Note) -> None:
    """Arm each fault at its moment (it hits the next request it matches)."""
    started = time.monotonic()
    for scheduled in plan:
        await asyncio.sleep(max(0.0, started + scheduled.at - time.monotonic()))
        sim.inject(scheduled.fault)
        fault = scheduled.fault
        extra = " applied" if fault.applied and fault.kind.value == "server_error" else ""
        note(f"fault armed: {fault.kind.value}{extra} on {fault.method} {fault.path}")


def venue_records(sim: SimBinance) -> VenueRecords:
    """The simulator's books in the checker's terms (trade ids as execution reports them)."""
    symbols = {m.symbol_id: f"{m.base}/{m.quote}" for m in sim.book.markets.values()}
    orders = {o.order_id: o for o in sim.book.orders}
    return VenueRecords(
        venue=VENUE,
        orders=[
            VenueOrderRecord(
                client_order_id=o.client_order_id,
                venue_order_id=str(o.order_id),
                symbol=symbols[o.symbol_id],
                side=o.side.lower(),
                open=o.is_open,
            )
            for o in sim.book.orders
        ],
        trades=[
            VenueTradeRecord(
                trade_id=trade_key(symbols[t.symbol_id], str(t.order_id), str(t.trade_id)),
                client_order_id=orders[t.order_id].client_order_id,
                amount=t.qty,
                price=t.price,
                fee=t.commission,
                fee_asset=t.commission_asset,
            )
            for t in sim.book.trades
        ],
        withdrawals=[
            VenueWithdrawalRecord(
                client_id=w.withdraw_order_id or w.withdrawal_id, asset=w.coin, amount=w.amount
            )
            for w in sim.book.withdrawals
        ],
    )
