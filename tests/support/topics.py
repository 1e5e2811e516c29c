"""Put messages on their topics, and read what is on a topic from the beginning without
joining a consumer group.

`publish` and `publish_batched` send on a producer the test started; `publish_to` and
`publish_raw` open a producer of their own for the messages they are given."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord

from shared.contracts import Envelope, encode
from shared.kafka import make_producer, topic_partitions
from shared.kafka_access import KafkaAccess


@asynccontextmanager
async def producing(kafka: KafkaAccess | str) -> AsyncIterator[AIOKafkaProducer]:
    """A started producer (as the services make one), stopped afterwards; `kafka` is the
    broker's access or its bootstrap address."""
    producer = make_producer(kafka if isinstance(kafka, KafkaAccess) else KafkaAccess(kafka))
    await producer.start()
    try:
        yield producer
    finally:
        await producer.stop()


async def publish(producer: AIOKafkaProducer, *messages: Envelope) -> None:
    """Each message on its contract's topic, keyed by account, in order, acknowledged."""
    for message in messages:
        await producer.send_and_wait(
            message.topic.value, encode(message), key=message.account_id.encode()
        )


async def publish_batched(producer: AIOKafkaProducer, messages: Sequence[Envelope]) -> None:
    """Every message sent before any acknowledgement is awaited, as a relay sends: one broker
    batch can hold several of them."""
    sent = [
        await producer.send(m.topic.value, encode(m), key=m.account_id.encode()) for m in messages
    ]
    await asyncio.gather(*sent)


async def publish_to(kafka: KafkaAccess | str, *messages: Envelope, batched: bool = False) -> None:
    """`publish` (or `publish_batched`) on a producer opened for these messages alone."""
    async with producing(kafka) as producer:
        if batched:
            await publish_batched(producer, messages)
        else:
            await publish(producer, *messages)


async def publish_raw(
    kafka: KafkaAccess | str, topic: str, key: str, *values: bytes, partition: int | None = None
) -> None:
    """Bytes as they are (poison, a foreign writer's record) on `topic`, in order, acknowledged."""
    async with producing(kafka) as producer:
        for value in values:
            await producer.send_and_wait(topic, value, key=key.encode(), partition=partition)


async def read_topic(broker: KafkaAccess | str, topic: str) -> list[ConsumerRecord[bytes, bytes]]:
    """Every record of `topic` up to its end now (`broker`: an address, or who to be on a
    secured cluster)."""
    access = broker if isinstance(broker, KafkaAccess) else KafkaAccess(broker)
    tps = await topic_partitions(access, [topic])
    if not tps:
        return []
    consumer = AIOKafkaConsumer(
        **access.client_options(), enable_auto_commit=False, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        records: list[ConsumerRecord[bytes, bytes]] = []
        # To the ends seen at the start (never "until nothing comes": a topic still being
        # written would never end).
        while [tp for tp in tps if await consumer.position(tp) < ends[tp]]:
            batch = await consumer.getmany(timeout_ms=500)
            for tp_records in batch.values():
                records.extend(tp_records)
        return sorted(records, key=lambda r: (r.partition, r.offset))
    finally:
        await consumer.stop()
