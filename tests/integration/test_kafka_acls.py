"""Only our services may write our topics: a broker with SASL/SCRAM and the access table's ACLs.

One secured broker for the module (its own folder: the shared test broker stays PLAINTEXT),
topics made by the admin principal, ACLs from `shared.contracts.access`.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Iterator
from pathlib import Path

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
from shared.kafka import ensure_topics, make_producer, wait_for_broker
from shared.kafka_access import KafkaAccess

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
