"""Observability of the running system: one trace per order, metrics that move, JSON logs.

Five real processes on the real broker and PostgreSQL; every process appends its spans
to one JSON-lines file and exposes Prometheus `/metrics` (the gateway on its own port).
"""

from __future__ import annotations

import base64
import json
import secrets
import signal
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from prometheus_client.metrics import MetricWrapperBase
from prometheus_client.parser import text_string_to_metric_families

from shared import metrics
from shared.clock import utc_now
from shared.contracts import decode
from shared.contracts.deadletter import DeadLettered
from shared.contracts.envelope import encode, new_message
from shared.contracts.topics import Topic
from shared.contracts.wallet import RecordDeposit
from shared.infra.processes import free_port, spawn
from shared.infra.resolve import Infrastructure
from shared.settings import database_url_for
from tests.conftest import FAST_GROUPS
from tests.support.client import ApiUser, balances_of, create_admin
from tests.support.system import SERVICES, System, system_env
from tests.support.topics import publish_raw, read_topic
from tests.support.waiting import eventually

pytestmark = pytest.mark.e2e
ADMIN = ("ops@example.com", "the admin's long password")
TERMINAL = {"filled", "rejected", "cancelled", "failed"}
SLOW = 90.0
"""Seconds to wait for an effect: fresh consumer groups first read what earlier tests left on
the shared broker's topics."""
SHARED_METRICS = sorted(
    family.name
    for metric in vars(metrics).values()
    if isinstance(metric, MetricWrapperBase)
    for family in metric.describe()
)
Span = dict[str, Any]


@dataclass(frozen=True)
class Scrape:
    families: set[str]
    samples: list[tuple[str, dict[str, str], float]]

    def total(self, name: str, **labels: str) -> float:
        """The sum of the samples named `name` whose labels include `labels`."""
        return sum(
            value
            for sample, sample_labels, value in self.samples
            if sample == name and all(sample_labels.get(k) == v for k, v in labels.items())
        )


@dataclass
class Observed:
    system: System
    spans_file: Path
    metrics_urls: dict[str, str]

    def spans(self) -> list[Span]:
        lines = self.spans_file.read_text().splitlines() if self.spans_file.exists() else []
        # A line another process is appending right now may be incomplete: skip it.
        return [json.loads(line) for line in lines if line.endswith("}")]

    async def order_spans(self, order_id: str) -> list[Span]:
        return [
            s for s in self.spans() if s["attributes"].get("cryptoorch.correlation_id") == order_id
        ]

    async def scrape(self) -> dict[str, Scrape]:
        scraped: dict[str, Scrape] = {}
        async with httpx.AsyncClient(timeout=5) as http:
            for service, url in self.metrics_urls.items():
                response = await http.get(url)
                assert response.status_code == 200, f"{service} /metrics: {response.status_code}"
                families = list(text_string_to_metric_families(response.text))
                scraped[service] = Scrape(
                    {f.name for f in families},
                    [(s.name, s.labels, s.value) for f in families for s in f.samples],
                )
        return scraped


@pytest.fixture(scope="module")
def observed(infra: Infrastructure, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Observed]:
    folder = tmp_path_factory.mktemp("observability")
    spans_file = folder / "spans.jsonl"
    env = system_env(
        {
            "KAFKA_BOOTSTRAP_SERVERS": infra.kafka_bootstrap_servers,
            "DATABASE_URL": infra.database_url,
            "CRYPTOORCH_DB_PREFIX": "t" + uuid.uuid4().hex[:12],
            "CRYPTOORCH_RELAY_POLL_SECONDS": "0.2",
            **{f"CRYPTOORCH_{k.upper()}": str(v) for k, v in FAST_GROUPS.items()},
            "CRYPTOORCH_TRACE_EXPORTER": "file",
            "CRYPTOORCH_TRACE_FILE": str(spans_file),
            "CRYPTOORCH_LOG_LEVEL": "DEBUG",  # the inbox logs each message it applies
        },
        folder,
    )
    system = System(env, folder / "logs", f"http://127.0.0.1:{env['CRYPTOORCH_GATEWAY_PORT']}")
    ports = {name: free_port() for name in SERVICES if name != "gateway"}
    urls = {name: f"http://127.0.0.1:{port}/metrics" for name, port in ports.items()}
    urls["gateway"] = system.gateway_url + "/metrics"
    try:
        for name in SERVICES:
            own = {"CRYPTOORCH_METRICS_PORT": str(ports[name])} if name in ports else {}
            system.processes[name] = spawn(
                name,
                [sys.executable, "-m", f"services.{name}"],
                log_path=system.log_dir / f"{name}.log",
                death_signal=signal.SIGKILL,
                stop_signal=signal.SIGTERM,
                env={**env, **own},
            )
        system.wait_healthy(timeout=120)
        wait_answering(urls.values())
        create_admin(env, *ADMIN)
        yield Observed(system, spans_file, urls)
    except BaseException:
        print(system.logs(*SERVICES))
        raise
    finally:
        system.stop()


def wait_answering(urls: Iterable[str], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    for url in urls:
        while True:
            try:
                if httpx.get(url, timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, f"{url} does not answer"
            time.sleep(0.1)


@pytest.fixture
async def user(observed: Observed) -> AsyncIterator[ApiUser]:
    """A new user with 10,000 USDT credited."""
    email = f"u{secrets.token_hex(4)}@example.com"
    admin = await ApiUser(observed.system.gateway_url, *ADMIN).login()
    funded = await ApiUser(observed.system.gateway_url, email, f"{email} pass phrase").register()
    try:
        assert (await admin.deposit(funded.user_id, "USDT", "10000")).status_code == 202
        await eventually(
            funded.balances,
            until=lambda b: balances_of(b, "USDT") == (Decimal(10000), Decimal(0)),
            timeout=SLOW,
            what="deposit credited",
        )
        yield funded
    finally:
        await admin.close()
        await funded.close()


async def place_market_buy(user: ApiUser, amount: str, headers: dict[str, str]) -> dict[str, Any]:
    """Place a market buy; wait until the order is terminal (and a fill's hold released)."""
    placed = await user.http.post(
        "/v1/orders",
        json={"symbol": "BTC/USDT", "side": "buy", "type": "market", "amount": amount},
        headers={"Idempotency-Key": str(uuid.uuid4()), **headers},
    )
    assert placed.status_code == 202, placed.text
    order_id = placed.json()["order_id"]
    order = await eventually(
        lambda: user.order(order_id),
        until=lambda o: o["status"] in TERMINAL,
        timeout=SLOW,
        what="order terminal",
    )
    if order["status"] == "filled":
        await eventually(
            user.balances,
            until=lambda b: balances_of(b, "USDT")[1] == 0 and "BTC" in b,
            timeout=SLOW,
            what="hold settled and released",
        )
    return order


async def filled_market_buy(user: ApiUser, headers: dict[str, str] | None = None) -> str:
    order = await place_market_buy(user, "0.01", headers or {})
    assert order["status"] == "filled", order
    return str(order["order_id"])


async def emitted_event_ids(system: System, order_id: str) -> set[str]:
    """Every message any service emitted about this order, from their outboxes."""
    ids: set[str] = set()
    for name in SERVICES:
        url = database_url_for(
            system.env["DATABASE_URL"], f"{system.env['CRYPTOORCH_DB_PREFIX']}_{name}"
        )
        conn = await asyncpg.connect(url)
        try:
            rows = await conn.fetch("SELECT value FROM outbox WHERE topic NOT LIKE '%.dlq'")
        finally:
            await conn.close()
        messages = (decode(bytes(row["value"])) for row in rows)
        ids |= {str(m.event_id) for m in messages if m.correlation_id == order_id}
    return ids


async def complete_order_spans(observed: Observed, order_id: str) -> list[Span]:
    """The order's consumer spans, once audit (which consumes every topic) applied them all."""
    emitted = await emitted_event_ids(observed.system, order_id)
    assert len(emitted) >= 6, emitted  # PlaceOrder, OrderApproved, FundsHeld, OrderSubmitted, ...

    def audited_all(spans: list[Span]) -> bool:
        audited = {s["attributes"]["cryptoorch.event_id"] for s in spans if s["service"] == "audit"}
        return audited >= emitted

    return await eventually(
        lambda: observed.order_spans(order_id),
        until=audited_all,
        timeout=SLOW,
        what="every message applied",
    )


def ancestors(span: Span, spans: list[Span]) -> list[str]:
    """The span ids from `span`'s parent up to its trace's root."""
    parents = {s["span_id"]: s["parent_id"] for s in spans}
    chain: list[str] = []
    parent = span["parent_id"]
    while parent is not None and parent not in chain:
        chain.append(parent)
        parent = parents.get(parent)
    return chain


async def test_a_filled_market_order_is_one_trace_from_the_http_request_through_all_services(
    observed: Observed, user: ApiUser
) -> None:
    order_id = await filled_market_buy(user)

    spans = await complete_order_spans(observed, order_id)
    assert {s["service"] for s in spans} == set(SERVICES)
    trace_ids = {s["trace_id"] for s in spans}
    assert len(trace_ids) == 1, sorted((s["service"], s["name"], s["trace_id"]) for s in spans)
    requests = [
        s
        for s in observed.spans()
        if (s["service"], s["name"]) == ("gateway", "POST /v1/orders")
        and s["trace_id"] in trace_ids
    ]
    assert len(requests) == 1 and requests[0]["parent_id"] is None, requests
    placed = [s for s in spans if s["attributes"]["cryptoorch.message_type"] == "PlaceOrder"]
    assert placed and all(requests[0]["span_id"] in ancestors(s, observed.spans()) for s in placed)
    writers = {
        s["service"]
        for s in observed.spans()
        if s["trace_id"] in trace_ids and s["attributes"].get("db.system") == "postgresql"
    }
    assert writers >= {"gateway", "safety", "ledger", "execution"}, "database spans missing"


async def test_an_order_continues_the_trace_of_the_callers_traceparent(
    observed: Observed, user: ApiUser
) -> None:
    trace_id, caller_span = secrets.token_hex(16), secrets.token_hex(8)
    order_id = await filled_market_buy(user, {"traceparent": f"00-{trace_id}-{caller_span}-01"})

    spans = await complete_order_spans(observed, order_id)
    assert {s["trace_id"] for s in spans} == {trace_id}
    request = [
        s for s in observed.spans() if s["name"] == "POST /v1/orders" and s["trace_id"] == trace_id
    ]
    assert [s["parent_id"] for s in request] == [caller_span]


async def test_every_shared_metric_is_exposed_by_every_service(observed: Observed) -> None:
    for service, scrape in (await observed.scrape()).items():
        missing = [name for name in SHARED_METRICS if name not in scrape.families]
        assert not missing, f"{service} does not expose {missing}"
        assert scrape.total("cryptoorch_outbox_backlog") >= 0
        assert scrape.total("cryptoorch_outbox_oldest_unpublished_age_seconds") >= 0


def grew(
    before: dict[str, Scrape],
    after: dict[str, Scrape],
    services: Iterable[str],
    name: str,
    **labels: str,
) -> bool:
    return all(after[s].total(name, **labels) > before[s].total(name, **labels) for s in services)


def order_flow_moved(before: dict[str, Scrape], after: dict[str, Scrape]) -> list[str]:
    """What did not move after one approved (filled) and one rejected order: [] when all did."""
    consumed = {
        "gateway": [Topic.SAFETY_DECISIONS, Topic.LEDGER_EVENTS, Topic.EXECUTION_EVENTS],
        "safety": [Topic.ORDER_COMMANDS],
        "ledger": [Topic.SAFETY_DECISIONS, Topic.EXECUTION_EVENTS],
        "execution": [Topic.LEDGER_EVENTS],
        "audit": [Topic.ORDER_COMMANDS, Topic.SAFETY_DECISIONS, Topic.LEDGER_EVENTS],
    }
    produced = {
        "gateway": Topic.ORDER_COMMANDS,
        "safety": Topic.SAFETY_DECISIONS,
        "ledger": Topic.LEDGER_EVENTS,
        "execution": Topic.EXECUTION_EVENTS,
    }
    expected: list[tuple[str, str, dict[str, str], float]] = [
        ("safety", "cryptoorch_decisions_total", {"decision": "order_approved"}, 1),
        (
            "safety",
            "cryptoorch_decisions_total",
            {"decision": "order_rejected", "reason": "AMOUNT_BELOW_MIN"},
            1,
        ),
        ("ledger", "cryptoorch_decisions_total", {"decision": "funds_held"}, 1),
        ("gateway", "cryptoorch_http_request_seconds_count", {"route": "/v1/orders"}, 2),
    ]
    for service, topics in consumed.items():
        expected += [
            (service, "cryptoorch_messages_consumed_total", {"topic": t}, 1) for t in topics
        ]
    for service, topic in produced.items():
        expected.append((service, "cryptoorch_messages_produced_total", {"topic": topic}, 1))
    return [
        f"{service} {name}{labels} moved by {moved} (< {least})"
        for service, name, labels, least in expected
        if (moved := after[service].total(name, **labels) - before[service].total(name, **labels))
        < least
    ]


async def test_an_approved_and_a_rejected_order_move_their_metrics(
    observed: Observed, user: ApiUser
) -> None:
    before = await observed.scrape()

    await filled_market_buy(user)
    tiny = await place_market_buy(user, "0.00000001", {})  # about $0.001: below the minimum
    assert (tiny["status"], tiny["reject_reason"]) == ("rejected", "AMOUNT_BELOW_MIN")

    after = await eventually(
        observed.scrape,
        until=lambda now: not order_flow_moved(before, now),
        timeout=SLOW,
        what="metrics",
    )
    for service, scrape in after.items():
        lag = [value for name, _, value in scrape.samples if name == "cryptoorch_consumer_lag"]
        assert lag and min(lag) >= 0, f"{service} reports no consumer lag: {lag}"


async def test_a_redelivered_message_is_applied_once_and_counted_as_a_duplicate(
    observed: Observed, user: ApiUser
) -> None:
    deposit_id = str(uuid.uuid4())
    deposit = new_message(
        RecordDeposit(deposit_id=deposit_id, asset="USDC", amount=Decimal(5), reference=deposit_id),
        producer="test",
        account_id=user.user_id,
        correlation_id=deposit_id,
        now=utc_now(),
    )
    before = await observed.scrape()

    bootstrap = observed.system.env["KAFKA_BOOTSTRAP_SERVERS"]
    await publish_raw(
        bootstrap, Topic.WALLET_COMMANDS, user.user_id, encode(deposit), encode(deposit)
    )

    await eventually(
        observed.scrape,
        until=lambda after: (
            grew(
                before,
                after,
                ("ledger", "audit"),  # every consumer of the topic that acts on deposits
                "cryptoorch_inbox_duplicates_skipped_total",
                topic=Topic.WALLET_COMMANDS,
            )
            and grew(  # safety reads the topic but not deposits: both copies skipped undecoded
                before,
                after,
                ("safety",),
                "cryptoorch_messages_ignored_total",
                topic=Topic.WALLET_COMMANDS,
                type="RecordDeposit",
            )
        ),
        timeout=SLOW,
        what="the duplicate skipped by every consumer that acts on it, ignored by safety",
    )
    balances = await eventually(
        user.balances, until=lambda b: "USDC" in b, timeout=SLOW, what="credited"
    )
    assert balances_of(balances, "USDC") == (Decimal(5), Decimal(0))


async def test_a_malformed_message_is_dead_lettered_and_counted(observed: Observed) -> None:
    consumers = {
        Topic.ORDER_COMMANDS: ("safety", "execution", "audit"),
        Topic.SAFETY_DECISIONS: ("gateway", "ledger", "audit"),
    }
    key = f"poison-{uuid.uuid4()}"
    before = await observed.scrape()

    for topic in consumers:
        await publish_raw(observed.system.env["KAFKA_BOOTSTRAP_SERVERS"], topic, key, b"{not json")

    await eventually(
        observed.scrape,
        until=lambda after: all(
            grew(before, after, services, "cryptoorch_dead_lettered_total", topic=topic)
            for topic, services in consumers.items()
        ),
        timeout=SLOW,
        what="every consumer dead-letters",
    )
    records = await read_topic(
        observed.system.env["KAFKA_BOOTSTRAP_SERVERS"], Topic.ORDER_COMMANDS.dlq
    )
    letters = [decode(r.value or b"").body(DeadLettered) for r in records]
    ours = [d for d in letters if d.original_key == key]
    assert {d.consumer.rsplit(".", 1)[1] for d in ours} == set(consumers[Topic.ORDER_COMMANDS])
    assert {base64.b64decode(d.original_value_b64) for d in ours} == {b"{not json"}


async def test_log_lines_are_json_with_the_orders_trace_id_and_no_secrets(
    observed: Observed, user: ApiUser
) -> None:
    order_id = await filled_market_buy(user)
    (trace_id,) = {s["trace_id"] for s in await complete_order_spans(observed, order_id)}

    lines = [
        line
        for log in sorted(observed.system.log_dir.glob("*.log"))
        for line in log.read_text(errors="replace").splitlines()
        if line.strip()
    ]
    records = [json.loads(line) for line in lines]
    assert all({"ts", "level", "service", "msg"} <= record.keys() for record in records)
    assert any(record.get("trace_id") == trace_id for record in records), "no line of the order"
    assert all(len(r["span_id"]) == 16 for r in records if "trace_id" in r)
    token = str(user.http.headers["Authorization"]).removeprefix("Bearer ")
    for secret in (user.password, token, ADMIN[1]):
        assert not [line for line in lines if secret in line], "a secret was logged"
