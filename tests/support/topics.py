"""Put messages on their topics, and read what is on a topic from the beginning without
joining a consumer group."""

from __future__ import annotations

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition

from shared.contracts import Envelope, encode


async def publish(producer: AIOKafkaProducer, *messages: Envelope) -> None:
    """Each message on its contract's topic, keyed by account, in order, acknowledged."""
    for message in messages:
        await producer.send_and_wait(
            message.topic.value, encode(message), key=message.account_id.encode()
        )


async def read_topic(bootstrap: str, topic: str) -> list[ConsumerRecord[bytes, bytes]]:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        if topic not in await consumer.topics():
            return []
        partitions = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        if not tps:
            return []
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        records: list[ConsumerRecord[bytes, bytes]] = []
        # The embedded broker reports a partition's end as its last batch's first offset + 1:
        # read to the ends seen at the start, then one more poll for the rest of that batch.
        # (Never "until nothing comes": a topic still being written would never end.)
        while [tp for tp in tps if await consumer.position(tp) < ends[tp]]:
            batch = await consumer.getmany(timeout_ms=500)
            for tp_records in batch.values():
                records.extend(tp_records)
        for tp_records in (await consumer.getmany(timeout_ms=300)).values():
            records.extend(tp_records)
        return records
    finally:
        await consumer.stop()
