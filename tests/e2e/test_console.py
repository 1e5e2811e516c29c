"""The operator console against the five services as real processes (issue 17).

Over HTTP: an order placed through the API reaches the console's live stream within 2 s, and
its timeline runs from `PlaceOrder` to the ledger settling it; the System view reads every
service's outbox; the audit chain verifies. In a real browser (Debian's chromium, driven by
Playwright; skipped with the reason when it is not installed): sign-in is refused to a user
who is not an admin and to a wrong password; the admin sees a new order in Orders within 2 s
without a reload, opens its timeline; the chain is verified from the Audit view; a global
switch waits for a confirmation; an account switch engaged from the page rejects the
account's next order `KILL_SWITCH`, and released from the page lets the next one fill; a
poison message parked in a DLQ is listed with its error and re-driven from the page after its
cause is fixed, taking effect once; the Audit view finds an order by its correlation id; the
page never asks anything of another origin; a screenshot of each view is written to the
test's folder.

The poison message. No service of the five parks a message for a cause an operator can fix
and then re-drive: each parks what is wrong in itself (undecodable, an unknown switch scope, a
deposit past the column's bound), and re-driving it would fail again. What an operator does
fix is a consumer of their own (here an order-journal exporter of the operator's, in its own
group, reading the gateway's order commands like any downstream system) whose handler fails
until its cause is fixed. The poison is a real message (the first order's `PlaceOrder`; the
console re-drives only topics the gateway writes: `redrive_not_owned` otherwise),
so the test writes nothing to any topic and declares no `expects_dead_letters`: the five never
park it, and its re-drives reach them as duplicates their inboxes skip (`cryptoorch check`
then finds every message of the order in the trail exactly once).
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from shared.contracts import Envelope
from shared.contracts.orders import PlaceOrder
from shared.contracts.topics import Topic
from shared.db import Connection
from shared.inbox import InboxConsumer, InboxSettings
from shared.infra.resolve import Infrastructure
from shared.kafka import make_producer
from shared.outbox import OutboxRelay
from shared.settings import database_url_for
from tests.support.client import ApiUser, balances_of, create_admin
from tests.support.console import (
    console_session,
    effects_database,
    next_event_where,
    server_events,
)
from tests.support.system import System
from tests.support.waiting import eventually

pytestmark = pytest.mark.e2e
PASSWORD = "correct horse battery staple"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TERMINAL = {"filled", "rejected", "cancelled", "failed"}
VIEWS = ["Orders", "Accounts", "Kill switches", "Restrictions", "Dead letters", "System", "Audit"]


@dataclass
class Desk:
    system: System
    admin_email: str
    admin: ApiUser
    trader: ApiUser

    async def buy(self) -> str:
        placed = await self.trader.place_order(
            symbol="BTC/USDT", side="buy", type="market", amount="0.001"
        )
        assert placed.status_code == 202, placed.text
        order_id: str = placed.json()["order_id"]
        return order_id

    async def outcome(self, order_id: str) -> dict[str, Any]:
        return await eventually(
            lambda: self.trader.order(order_id),
            until=lambda o: o["status"] in TERMINAL,
            timeout=30,
            what=f"order {order_id} ending",
        )

    async def safety_halts(self, engaged: bool) -> None:
        """Wait until safety applied the trader's account switch (it learns it from Kafka)."""
        env = self.system.env
        url = database_url_for(env["DATABASE_URL"], f"{env['CRYPTOORCH_DB_PREFIX']}_safety")

        async def state() -> bool:
            conn = await asyncpg.connect(url)
            try:
                found = await conn.fetchval(
                    "SELECT engaged FROM kill_switches WHERE scope = 'account' AND target = $1",
                    self.trader.user_id,
                )
            finally:
                await conn.close()
            return bool(found) == engaged

        await eventually(state, timeout=30, what=f"safety seeing engaged={engaged}")


@pytest.fixture
async def desk(system: System) -> AsyncIterator[Desk]:
    email = f"ops-{uuid.uuid4().hex[:8]}@example.com"
    create_admin(system.env, email, PASSWORD)
    admin = await ApiUser(system.gateway_url, email, PASSWORD).login()
    trader = await ApiUser(
        system.gateway_url, f"trader-{uuid.uuid4().hex[:8]}@example.com", PASSWORD
    ).register()
    try:
        assert (await admin.deposit(trader.user_id, "USDT", "10000")).status_code == 202
        await eventually(
            trader.balances,
            until=lambda b: balances_of(b, "USDT")[0] == Decimal("10000"),
            what="the trader's deposit credited",
        )
        yield Desk(system, email, admin, trader)
    finally:
        await admin.close()
        await trader.close()


async def test_an_order_reaches_the_console_within_two_seconds_with_its_whole_timeline(
    desk: Desk,
) -> None:
    console = await console_session(desk.system.gateway_url, desk.admin_email, PASSWORD)
    try:
        async with console.stream("GET", "/v1/admin/orders/stream?max_seconds=120") as stream:
            events = server_events(stream)
            await next_event_where(events, lambda e: e.name == "ready", timeout=5, what="ready")
            order_id = await desk.buy()
            shown = await next_event_where(
                events,
                lambda e: e.name == "order" and e.json()["order_id"] == order_id,
                timeout=2,
                what=f"order {order_id} on the console's stream",
            )
            assert shown.json()["account_id"] == desk.trader.user_id
            # on a quiet machine the order is often filled before the stream's first look
            ended = shown
            if shown.json()["status"] not in TERMINAL:
                ended = await next_event_where(
                    events,
                    lambda e: (
                        e.name == "order"
                        and e.json()["order_id"] == order_id
                        and e.json()["status"] in TERMINAL
                    ),
                    timeout=110,
                    what="the order's end on the stream",
                )
            assert ended.json()["status"] == "filled", ended.data

        async def timeline() -> list[dict[str, Any]]:
            response = await console.get(f"/v1/admin/orders/{order_id}/timeline")
            items: list[dict[str, Any]] = response.json().get("items", [])
            return items

        entries = await eventually(
            timeline,
            until=lambda items: any(i["type"] == "HoldSettled" for i in items),
            timeout=30,
            what="the ledger's settlement in the timeline",
        )
        paper = (await console.get(f"/v1/admin/orders/{order_id}/timeline")).json()
        assert (paper["sends"], paper["outcome_unknown"]) == (None, False), "paper: never sent"
        await system_and_audit_views(console, len(entries))
    finally:
        await console.aclose()
    kinds = [entry["type"] for entry in entries]
    assert kinds[0] == "PlaceOrder" and entries[0]["producer"] == "gateway"
    for expected in ("OrderApproved", "FundsHeld", "OrderFilled", "HoldSettled"):
        assert expected in kinds, kinds
    approved = entries[kinds.index("OrderApproved")]
    assert (approved["producer"], approved["decision"]) == ("safety", "approved")
    assert kinds.index("OrderFilled") < kinds.index("HoldSettled")


async def system_and_audit_views(console: Any, order_rows: int) -> None:
    """Every service's outbox is read from its own database; the chain verifies from the page."""
    system = (await console.get("/v1/admin/system")).json()
    outboxes = {s["name"]: (s["outbox_backlog"], s["outbox_error"]) for s in system["services"]}
    assert set(outboxes) == {"gateway", "safety", "execution", "ledger", "audit"}
    assert all(backlog >= 0 and error is None for backlog, error in outboxes.values()), outboxes
    verified = await console.post("/v1/admin/audit/verify", headers={"X-Requested-By": "console"})
    assert verified.status_code == 200, verified.text
    assert verified.json()["ok"] is True and verified.json()["first_bad_seq"] is None
    assert verified.json()["rows_checked"] >= order_rows
    last = (await console.get("/v1/admin/system")).json()["audit"]["last_verification"]
    assert last["verified_at"] == verified.json()["verified_at"] and last["ok"] is True


@dataclass
class Statements:
    """The operator's own order-journal exporter: a consumer of the order commands in a group
    of its own, whose handler fails on the `PlaceOrder` of `order_id` while `broken` (its fee
    schedule lacks the symbol) and counts what it applied in `effects`."""

    infra: Infrastructure
    pool: asyncpg.Pool
    order_id: str
    broken: bool = True
    group: str = field(default_factory=lambda: f"statements-{uuid.uuid4().hex[:8]}")
    consumer: InboxConsumer | None = None

    async def export(self, conn: Connection, message: Envelope) -> None:
        if message.correlation_id != self.order_id or message.type != PlaceOrder.TYPE:
            return
        if self.broken:
            raise LookupError("the statements' fee schedule has no row for BTC/USDT")
        await conn.execute(
            "INSERT INTO effects VALUES ($1, 1) ON CONFLICT (correlation_id) "
            "DO UPDATE SET applied = effects.applied + 1",
            message.correlation_id,
        )

    async def applied(self) -> dict[str, int]:
        rows = await self.pool.fetch("SELECT correlation_id, applied FROM effects")
        return {r["correlation_id"]: r["applied"] for r in rows}

    def duplicates(self) -> int:
        assert self.consumer is not None
        return self.consumer.stats.duplicates

    async def run_until_parked(self, stop: asyncio.Event) -> asyncio.Task[None]:
        """Start consuming; return once its dead letter is on the broker (its outbox relayed)."""
        self.consumer = InboxConsumer(
            pool=self.pool,
            kafka=self.infra.kafka_access,
            settings=InboxSettings(
                group_id=self.group,
                topics=[Topic.ORDER_COMMANDS.value],
                max_attempts=1,
                backoff_seconds=0.01,
                session_timeout_ms=3000,
                heartbeat_interval_ms=300,
                rebalance_timeout_ms=2000,
            ),
            handler=self.export,
        )
        running = asyncio.create_task(self.consumer.run(stop))
        producer = make_producer(self.infra.kafka_access)
        await producer.start()
        relay = OutboxRelay("statements", producer)
        try:

            async def relayed() -> int:
                async with self.pool.acquire() as conn:
                    while await relay.publish_pending(conn):
                        pass
                assert self.consumer is not None and not running.done()
                return self.consumer.stats.dead_lettered

            await eventually(
                relayed, until=lambda n: n >= 1, timeout=30, what="the PlaceOrder parked"
            )
            async with self.pool.acquire() as conn:
                while await relay.publish_pending(conn):
                    pass
        finally:
            await producer.stop()
        return running


@pytest.fixture
async def statements_db(infra: Infrastructure, tmp_path: Path) -> AsyncIterator[asyncpg.Pool]:
    async with effects_database(infra.database_url, tmp_path / "statements") as pool:
        yield pool


@pytest.mark.skipif(
    not CHROMIUM.exists(), reason="no /usr/bin/chromium: `make install` as root installs it"
)
async def test_the_operator_watches_an_order_arrive_in_the_browser(
    desk: Desk, tmp_path: Path, infra: Infrastructure, statements_db: asyncpg.Pool
) -> None:
    playwright_api = pytest.importorskip("playwright.async_api")
    base = desk.system.gateway_url
    requested: list[str] = []
    script_errors: list[str] = []
    async with playwright_api.async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            page = await browser.new_page(viewport={"width": 1400, "height": 900})
            page.on("request", lambda request: requested.append(request.url))
            page.on("pageerror", lambda error: script_errors.append(str(error)))
            expect = playwright_api.expect
            await page.goto(f"{base}/console")

            async def sign_in(email: str, password: str) -> None:
                await page.get_by_label("Email").fill(email)
                await page.get_by_label("Password").fill(password)
                await page.get_by_role("button", name="Sign in").click()

            await sign_in(desk.trader.email, PASSWORD)
            await expect(page.get_by_role("alert")).to_have_text(
                "This account is not an administrator."
            )
            await sign_in(desk.admin_email, "not the password")
            await expect(page.get_by_role("alert")).to_have_text("Wrong email or password.")
            await expect(page.get_by_label("TOTP code")).to_be_visible()
            await sign_in(desk.admin_email, PASSWORD)

            await expect(page.get_by_role("heading", name="Orders")).to_be_visible()
            await expect(page.get_by_role("status")).to_have_text("live")
            order_id = await desk.buy()
            placed_at = time.monotonic()
            row = page.get_by_role("button", name=order_id)
            await expect(row).to_be_visible(timeout=2000)
            assert time.monotonic() - placed_at < 2.5
            line = page.locator(f'tr[data-order-id="{order_id}"]')
            await expect(line).to_contain_text(desk.trader.user_id)
            await expect(line).to_contain_text("filled", timeout=30_000)

            timeline = page.locator("#timeline")

            async def settled_in_timeline() -> bool:
                await row.click()
                try:
                    await expect(timeline).to_contain_text("HoldSettled", timeout=2000)
                except AssertionError:
                    return False
                return True

            await eventually(settled_in_timeline, timeout=30, what="the timeline to the ledger")
            await expect(timeline).to_contain_text("PlaceOrder")
            await expect(timeline).to_contain_text("approved")
            await page.screenshot(path=tmp_path / "console-orders.png", full_page=True)

            navigation = page.get_by_role("navigation")
            await navigation.get_by_role("link", name="Kill switches").click()
            form = page.locator("#switch-form")
            await form.get_by_label("Scope").select_option("global")
            await form.get_by_label("Reason").fill("a drill that is cancelled")
            await form.get_by_role("button", name="Engage").click()
            await expect(form).to_contain_text("Every account's trading stops")
            await form.get_by_role("button", name="Cancel").click()
            switches = page.locator("#switches-table")
            await expect(switches).to_contain_text("No switch has been set.")

            await form.get_by_label("Scope").select_option("account")
            await form.get_by_label("Target").fill(desk.trader.user_id)
            await form.get_by_label("Reason").fill("on-call drill")
            await form.get_by_role("button", name="Engage").click()
            await expect(switches).to_contain_text("engaged")
            await expect(switches).to_contain_text("on-call drill")
            await desk.safety_halts(True)
            halted = await desk.outcome(await desk.buy())
            assert (halted["status"], halted["reject_reason"]) == ("rejected", "KILL_SWITCH")
            await page.screenshot(path=tmp_path / "console-kill-switches.png", full_page=True)
            await switches.get_by_role(
                "button", name=f"Release account {desk.trader.user_id}"
            ).click()
            await form.get_by_label("Reason").fill("drill over")
            await form.get_by_role("button", name="Release").click()
            await expect(switches).to_contain_text("released")
            await desk.safety_halts(False)
            assert (await desk.outcome(await desk.buy()))["status"] == "filled"

            statements = Statements(infra, statements_db, order_id)
            await redrive_from_the_page(page, expect, statements, tmp_path)

            for view in VIEWS[1:]:
                await navigation.get_by_role("link", name=view).click()
                await expect(page.get_by_role("heading", name=view, exact=True)).to_be_visible()
                await check_view(page, expect, view, order_id)
                shot = tmp_path / f"console-{view.lower().replace(' ', '-')}.png"
                if not shot.exists():
                    await page.screenshot(path=shot, full_page=True)
            await expect(page.locator("#accounts-table")).to_be_hidden()
        finally:
            await browser.close()
    outside = [url for url in requested if not url.startswith(base + "/")]
    assert outside == [], "the page asked another origin"
    assert script_errors == [], "the page's script failed"
    print(f"screenshots: {tmp_path}")


async def redrive_from_the_page(
    page: Any, expect: Any, statements: Statements, tmp_path: Path
) -> None:
    """The journal exporter parks the order's `PlaceOrder`; the Dead letters view lists it
    with its error; the cause fixed, Re-drive and its confirmation re-drive it; the page shows
    the count and the exporter applied it once; a second (impatient) re-drive changes nothing."""
    stop = asyncio.Event()
    running = await statements.run_until_parked(stop)
    try:
        await page.get_by_role("navigation").get_by_role("link", name="Dead letters").click()
        topics = page.locator("#dead-letters-topics")
        await expect(topics).to_contain_text(Topic.ORDER_COMMANDS.dlq, timeout=15_000)
        letter = topics.locator("tbody tr", has_text="fee schedule has no row for BTC/USDT")
        await expect(letter).to_contain_text("LookupError")
        await expect(letter).to_contain_text(statements.order_id)  # the original message
        await expect(letter).to_contain_text("0 / 3")
        await expect(letter).to_contain_text(statements.group)  # the consumer that parked it
        redrive = letter.get_by_role("button", name=re.compile(r"^Re-drive \d+@\d+$"))
        confirm = page.locator("#dead-letters-confirm")

        await redrive.click()  # asked before the cause is fixed: the operator cancels
        await expect(confirm).to_contain_text(f"Re-drive {Topic.ORDER_COMMANDS.value} message")
        await confirm.get_by_role("button", name="Cancel").click()
        await expect(confirm).to_be_hidden()
        await expect(letter).to_contain_text("0 / 3")

        statements.broken = False  # the operator fixes the cause
        await redrive.click()
        await confirm.get_by_role("button", name="Confirm re-drive").click()
        await expect(letter).to_contain_text("1 / 3")
        assert await eventually(
            statements.applied, until=bool, what="the re-driven PlaceOrder applied"
        ) == {statements.order_id: 1}
        await page.screenshot(path=tmp_path / "console-dead-letters.png", full_page=True)

        skipped = statements.duplicates()
        await redrive.click()
        await confirm.get_by_role("button", name="Confirm re-drive").click()
        await expect(letter).to_contain_text("2 / 3")
        await eventually(
            lambda: asyncio.sleep(0, statements.duplicates()),
            until=lambda n: n > skipped,
            what="the second re-drive skipped by the exporter's inbox",
        )
        assert await statements.applied() == {statements.order_id: 1}, "taken effect once"
    finally:
        stop.set()
        await running


async def check_view(page: Any, expect: Any, view: str, order_id: str) -> None:
    """What each of the later views shows with the five services running."""
    if view == "Accounts":
        rows = page.locator("#accounts-table tbody tr")
        await expect(rows.first.get_by_role("button", name="kill switch")).to_be_visible()
    elif view == "Restrictions":
        form = page.locator("#restriction-form")
        await form.get_by_label("Restriction scope").select_option("symbol")
        await form.get_by_label("Restriction target").fill("DOGE/USDT")
        await form.get_by_label("Restriction reason").fill("a drill")
        await form.get_by_role("button", name="Restrict").click()
        listed = page.locator("#restrictions-table")
        await expect(listed).to_contain_text("DOGE/USDT")
        await listed.get_by_role("button", name="Lift symbol DOGE/USDT").click()
        await form.get_by_label("Restriction reason").fill("drill over")
        await form.get_by_role("button", name="Lift").click()
        await expect(listed).to_contain_text("Nothing is restricted.")
    elif view == "Dead letters":
        await expect(page.locator("#dead-letters-topics")).to_contain_text(
            "orders.commands.v1.dlq", timeout=15_000
        )
    elif view == "System":
        services = page.locator("#services-table")
        for name in ("gateway", "safety", "execution", "ledger", "audit"):
            await expect(services.locator("tr", has_text=name).first).to_contain_text("up")
        await expect(services).not_to_contain_text("cannot be read")  # every outbox read
    elif view == "Audit":
        await page.get_by_role("button", name="Verify the chain").click()
        await expect(page.locator("#audit-verify-result")).to_contain_text("ok: ", timeout=15_000)
        await expect(page.locator("#audit-facts")).to_contain_text("rows checked")
        search = page.locator("#audit-search")
        await search.get_by_label("Correlation id").fill(order_id)
        await search.get_by_role("button", name="Search").click()
        timeline = page.locator("#timeline")
        await expect(timeline).to_contain_text(f"Timeline of {order_id}")
        for kind in ("PlaceOrder", "HoldSettled", "DeadLettered"):  # and where it was parked
            await expect(timeline).to_contain_text(kind, timeout=15_000)
