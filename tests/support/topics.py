"""Put messages on their topics, and read what is on a topic from the beginning without
joining a consumer group."""

from __future__ import annotations

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord

from shared.contracts import Envelope, encode
from shared.kafka import topic_partitions
from shared.kafka_access import KafkaAccess


async def publish(producer: AIOKafkaProducer, *messages: Envelope) -> None:
    """Each message on its contract's topic, keyed by account, in order, acknowledged."""
    for message in messages:
        await producer.send_and_wait(
            message.topic.value, encode(message), key=message.account_id.encode()
        )


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
