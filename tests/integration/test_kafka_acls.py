"""Only our services may write our topics: a broker with SASL/SCRAM and the access table's ACLs.

One secured broker for the module (its own folder: the shared test broker stays PLAINTEXT),
topics made by the admin principal, ACLs from `shared.contracts.access`.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.errors import (
    GroupAuthorizationFailedError,
    KafkaConnectionError,
    TopicAuthorizationFailedError,
)

from shared.contracts import Topic
from shared.infra.kafka import EmbeddedKafka
from shared.infra.kafka_acls import acl_bindings, create_acls
from shared.infra.kafka_security import ADMIN, BrokerSecurity
from shared.infra.resolve import Infrastructure
from shared.kafka import ensure_topics, make_producer, wait_for_broker
from shared.kafka_access import KafkaAccess
from tests.support.client import ApiUser, balances_of, create_admin
from tests.support.system import SERVICES, System, system_env
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration
PREFIX = "acl"
DEADLINE = 30.0


class SecureBroker:
    def __init__(self, kafka: EmbeddedKafka, security: BrokerSecurity) -> None:
        self.kafka = kafka
        self.security = security

    def access(self, principal: str) -> KafkaAccess:
        return self.security.access(self.kafka.bootstrap_servers, principal)

    async def allow(self, db_prefix: str) -> None:
        await create_acls(self.access(ADMIN), acl_bindings(db_prefix))


@pytest.fixture(scope="module")
def broker() -> Iterator[SecureBroker]:
    with tempfile.TemporaryDirectory(prefix="cryptoorch-acl-") as folder:
        security = BrokerSecurity.generate()
        kafka = EmbeddedKafka.start(Path(folder), security=security)
        secure = SecureBroker(kafka, security)
        try:

            async def prepare() -> None:
                await wait_for_broker(secure.access(ADMIN))
                await ensure_topics(secure.access(ADMIN))
                await secure.allow(PREFIX)

            asyncio.run(prepare())
            yield secure
        finally:
            kafka.stop()


async def produce(access: KafkaAccess, topic: str) -> None:
    producer = make_producer(access)
    async with asyncio.timeout(DEADLINE):
        await producer.start()
        try:
            await producer.send_and_wait(topic, b"{}", key=b"acc-1")
        finally:
            await producer.stop()


async def test_the_gateway_writes_its_commands_but_not_the_ledgers_events(
    broker: SecureBroker,
) -> None:
    gateway = broker.access("gateway")
    await produce(gateway, Topic.ORDER_COMMANDS.value)
    with pytest.raises(TopicAuthorizationFailedError):
        await produce(gateway, Topic.LEDGER_EVENTS.value)
    await produce(broker.access("ledger"), Topic.LEDGER_EVENTS.value)


async def test_a_client_without_credentials_reads_nothing(broker: SecureBroker) -> None:
    for topic in (Topic.LEDGER_EVENTS.value, Topic.ACCOUNT_EVENTS.value + ".dlq"):
        consumer = AIOKafkaConsumer(
            topic,
            **KafkaAccess(broker.kafka.bootstrap_servers).client_options(),
            auto_offset_reset="earliest",
            request_timeout_ms=5000,
        )
        async with asyncio.timeout(DEADLINE):
            with pytest.raises(KafkaConnectionError):  # the SASL listener drops it
                await consumer.start()
        await consumer.stop()


async def test_a_wrong_password_is_refused(broker: SecureBroker) -> None:
    impostor = broker.access("ledger").as_user("ledger", "not-the-password")
    with pytest.raises(KafkaConnectionError):
        await produce(impostor, Topic.LEDGER_EVENTS.value)
    stranger = broker.access("ledger").as_user("mallory", "whatever")
    with pytest.raises(KafkaConnectionError):
        await produce(stranger, Topic.LEDGER_EVENTS.value)


async def test_the_ledger_consumes_its_topics_in_its_own_group_only(
    broker: SecureBroker,
) -> None:
    await produce(broker.access("safety"), Topic.SAFETY_DECISIONS.value)
    ledger = broker.access("ledger")
    consumer = AIOKafkaConsumer(
        Topic.SAFETY_DECISIONS.value,
        **ledger.client_options(),
        group_id=f"{PREFIX}.ledger",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    async with asyncio.timeout(DEADLINE):
        await consumer.start()
        try:
            records: list[bytes] = []
            while not records:
                batch = await consumer.getmany(timeout_ms=500)
                records += [r.value or b"" for rs in batch.values() for r in rs]
            await consumer.commit()
        finally:
            await consumer.stop()
    assert records[0] == b"{}"

    for topic, group in (
        (Topic.SAFETY_DECISIONS.value, f"{PREFIX}.gateway"),  # another service's group
        (Topic.ACCOUNT_EVENTS.value, f"{PREFIX}.ledger"),  # a topic it does not consume
    ):
        stray = AIOKafkaConsumer(
            topic, **ledger.client_options(), group_id=group, auto_offset_reset="earliest"
        )
        try:
            async with asyncio.timeout(DEADLINE):
                with pytest.raises((GroupAuthorizationFailedError, TopicAuthorizationFailedError)):
                    await stray.start()
                    while True:
                        await stray.getmany(timeout_ms=500)
        finally:
            await stray.stop()


async def test_an_idempotent_producer_of_an_unknown_principal_is_not_a_super_user(
    broker: SecureBroker,
) -> None:
    """The audit service owns no command topic: the broker refuses it there too."""
    producer = AIOKafkaProducer(**broker.access("audit").client_options(), acks="all")
    async with asyncio.timeout(DEADLINE):
        await producer.start()
        try:
            with pytest.raises(TopicAuthorizationFailedError):
                await producer.send_and_wait(Topic.ORDER_COMMANDS.value, b"{}")
        finally:
            await producer.stop()


@pytest.mark.e2e
async def test_the_five_services_fill_an_order_with_only_the_rights_the_table_gives(
    broker: SecureBroker, infra: Infrastructure, db_prefix: str, tmp_path: Path
) -> None:
    """Each service connects as its own principal: if the access table missed a right, a
    service would fail to start, a message would not be published, and the order would not
    fill. The console's System view reads every group's lag with the gateway's rights."""
    await broker.allow(db_prefix)
    base = {
        "KAFKA_BOOTSTRAP_SERVERS": broker.kafka.bootstrap_servers,
        "DATABASE_URL": infra.database_url,
        "CRYPTOORCH_DB_PREFIX": db_prefix,
        "CRYPTOORCH_RELAY_POLL_SECONDS": "0.2",
        "CRYPTOORCH_CONSUMER_SESSION_TIMEOUT_MS": "3000",
        "CRYPTOORCH_CONSUMER_HEARTBEAT_MS": "300",
        "CRYPTOORCH_CONSUMER_REBALANCE_TIMEOUT_MS": "2000",
    }
    env = system_env(base, tmp_path)
    running = System(
        env,
        tmp_path / "logs",
        f"http://127.0.0.1:{env['CRYPTOORCH_GATEWAY_PORT']}",
        per_service_env={name: broker.security.client_env(name) for name in SERVICES},
    )
    try:
        for name in SERVICES:
            running.start(name)
        running.wait_healthy()
        create_admin(env, "ops@example.com", "correct horse battery staple")
        admin = await ApiUser(
            running.gateway_url, "ops@example.com", "correct horse battery staple"
        ).login()
        alice = await ApiUser(
            running.gateway_url, "alice@example.com", "alice's long password"
        ).register()
        try:
            assert (await admin.deposit(alice.user_id, "USDT", "10000")).status_code == 202
            await eventually(
                alice.balances,
                until=lambda b: balances_of(b, "USDT")[0] == Decimal("10000"),
                what="deposit credited",
            )
            placed = await alice.place_order(
                symbol="BTC/USDT", side="buy", type="market", amount="0.01"
            )
            assert placed.status_code == 202, placed.text
            order = await eventually(
                lambda: alice.order(placed.json()["order_id"]),
                until=lambda o: o["status"] in {"filled", "rejected", "cancelled", "failed"},
                timeout=60,
                what="order terminal",
            )
            assert order["status"] == "filled", order

            async def system_view() -> httpx.Response:
                return await admin.http.get("/v1/admin/system")

            view = await eventually(
                system_view,
                until=lambda r: r.status_code == 200 and r.json()["broker_error"] is None,
                what="the console's System view reads the broker",
            )
            states = {s["name"]: s["state"] for s in view.json()["services"]}
            assert states == dict.fromkeys(SERVICES, "up")
            letters = await admin.http.get("/v1/admin/dead-letters")
            assert letters.status_code == 200, letters.text
        finally:
            await admin.close()
            await alice.close()
        assert not running.exited(), running.logs(*running.exited())
    except BaseException:
        print(running.logs(*SERVICES))
        raise
    finally:
        running.stop()
