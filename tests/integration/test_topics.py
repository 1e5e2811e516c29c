"""Topics exist only as the contract says: no client makes the broker create one, and
`ensure_topics` creates the missing ones with their partitions and refuses other ones."""

from __future__ import annotations

import uuid

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError

from shared.contracts.topics import PARTITIONS
from shared.infra.resolve import Infrastructure
from shared.kafka import TopicsMismatch, ensure_topics
from shared.kafka_access import KafkaAccess

pytestmark = pytest.mark.integration


def fresh_topic() -> str:
    return f"probe-{uuid.uuid4().hex[:8]}.v1"


async def partitions(bootstrap: str, topics: list[str]) -> dict[str, int]:
    """The partitions of those of `topics` the broker has (asking creates none of them)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        described = await admin.describe_topics(topics)
        existing = set(await admin.list_topics())
    finally:
        await admin.close()
    return {t["topic"]: len(t["partitions"]) for t in described if t["topic"] in existing}


async def test_a_producer_sending_to_a_missing_topic_does_not_create_it(
    infra: Infrastructure,
) -> None:
    bootstrap, topic = infra.kafka_bootstrap_servers, fresh_topic()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, request_timeout_ms=1500)
    await producer.start()
    try:
        with pytest.raises(KafkaError):
            await producer.send_and_wait(topic, b"lost?", key=b"account-1")
    finally:
        await producer.stop()

    assert await partitions(bootstrap, [topic]) == {}


async def test_ensure_topics_creates_main_topics_with_their_partitions_and_dlqs_with_one(
    infra: Infrastructure,
) -> None:
    bootstrap, topic = infra.kafka_bootstrap_servers, fresh_topic()

    await ensure_topics(KafkaAccess(bootstrap), [topic, topic + ".dlq"])
    await ensure_topics(KafkaAccess(bootstrap), [topic, topic + ".dlq"])  # idempotent

    assert await partitions(bootstrap, [topic, topic + ".dlq"]) == {
        topic: PARTITIONS,
        topic + ".dlq": 1,
    }


async def test_ensure_topics_refuses_a_topic_with_other_partitions(
    infra: Infrastructure,
) -> None:
    bootstrap, topic = infra.kafka_bootstrap_servers, fresh_topic()
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, 4, 1)])  # what a broker's default made
    finally:
        await admin.close()

    with pytest.raises(TopicsMismatch, match=f"{topic} has 4, wants {PARTITIONS}"):
        await ensure_topics(KafkaAccess(bootstrap), [topic])
