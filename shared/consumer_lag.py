"""How far each service's consumer group is behind, read from the broker alone.

For every partition a group consumes: the group's committed offset (the next record it will
apply; the beginning of the partition if it never committed, as its consumers start at the
earliest offset) against the partition's end offset. `messages` is the sum of the gaps;
`seconds` is the age of the oldest record not yet consumed, the timestamp of the record at a
committed offset that is behind. Apache Kafka reports each partition's exact end offset.

Used by `cryptoorch status` (which knows each service's topics) and the console's System view
(which does not: it takes the partitions the group has committed offsets for, and whether the
group has members, from the broker).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import datetime

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import (
    CoordinatorLoadInProgressError,
    CoordinatorNotAvailableError,
    KafkaError,
    NotCoordinatorError,
)
from aiokafka.structs import OffsetAndMetadata

from shared.kafka_access import KafkaAccess

READ_SECONDS = 5.0
DESCRIBE_SECONDS = 3.0
COORDINATOR_SECONDS = 10.0
"""How long to wait for a group's coordinator: a broker on which no group was ever used makes
its `__consumer_offsets` topic on the first lookup, and answers "not available" meanwhile."""


@dataclass(frozen=True)
class Lag:
    messages: int
    seconds: float
    """Age of the oldest record not consumed yet; 0 when the group is caught up."""


class LagReader:
    """One consumer (no group: it never joins or commits anything) and one admin client."""

    def __init__(self, access: KafkaAccess) -> None:
        self._consumer = AIOKafkaConsumer(
            **access.client_options(),
            enable_auto_commit=False,
            auto_offset_reset="earliest",
        )
        self._admin = AIOKafkaAdminClient(**access.client_options())

    async def __aenter__(self) -> LagReader:
        try:
            await self._consumer.start()
            await self._admin.start()
        except BaseException:
            await self.__aexit__()
            raise
        return self

    async def __aexit__(self, *_: object) -> None:
        await self._admin.close()
        await self._consumer.stop()

    async def _partitions(self, topics: list[str]) -> list[TopicPartition]:
        """Every partition of those of `topics` that exist, asked of the broker (the consumer,
        subscribed to nothing, knows no topic's partitions: on Kafka its metadata names none)."""
        if not topics:
            return []
        described = await self._admin.describe_topics(topics)
        return [
            TopicPartition(t["topic"], p["partition"])
            for t in sorted(described, key=lambda t: topics.index(t["topic"]))
            if t["error_code"] == 0
            for p in sorted(t["partitions"], key=lambda p: p["partition"])
        ]

    async def _committed(
        self, group_id: str, partitions: list[TopicPartition]
    ) -> dict[TopicPartition, OffsetAndMetadata]:
        """The group's committed offsets on `partitions`, once its coordinator answers (up to
        `COORDINATOR_SECONDS`; then its error)."""
        deadline = time.monotonic() + COORDINATOR_SECONDS
        while True:
            try:
                committed: dict[
                    TopicPartition, OffsetAndMetadata
                ] = await self._admin.list_consumer_group_offsets(group_id, partitions=partitions)
                return committed
            except (
                CoordinatorNotAvailableError,
                CoordinatorLoadInProgressError,
                NotCoordinatorError,
            ):
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.1)

    async def committed_topics(self, group_id: str, candidates: list[str]) -> list[str]:
        """The topics among `candidates` the group has committed an offset on (on any of their
        partitions): the ones it consumes, for a reader that cannot ask the service."""
        partitions = await self._partitions(candidates)
        if not partitions:
            return []
        committed = await self._committed(group_id, partitions)
        return sorted({tp.topic for tp, meta in committed.items() if meta.offset >= 0})

    async def lag(self, group_id: str, topics: list[str], now: datetime) -> Lag:
        partitions = await self._partitions(topics)
        if not partitions:
            return Lag(0, 0.0)
        committed = await self._committed(group_id, partitions)
        starts = await self._consumer.beginning_offsets(partitions)
        ends = await self._consumer.end_offsets(partitions)
        behind: dict[TopicPartition, int] = {}
        for tp in partitions:
            offset = committed[tp].offset if tp in committed else -1
            position = max(starts[tp], offset)
            if ends[tp] > position:
                behind[tp] = position
        messages = sum(ends[tp] - position for tp, position in behind.items())
        oldest = await self._oldest_timestamp(behind)
        seconds = max(0.0, now.timestamp() - oldest / 1000) if oldest is not None else 0.0
        return Lag(messages, round(seconds, 3))

    async def _oldest_timestamp(self, positions: dict[TopicPartition, int]) -> int | None:
        """The smallest timestamp (ms) among the records at `positions`, read one each."""
        if not positions:
            return None
        self._consumer.assign(list(positions))
        for tp, position in positions.items():
            self._consumer.seek(tp, position)
        found: dict[TopicPartition, int] = {}
        deadline = time.monotonic() + READ_SECONDS
        while len(found) < len(positions) and time.monotonic() < deadline:
            waiting = [tp for tp in positions if tp not in found]
            batch = await self._consumer.getmany(*waiting, timeout_ms=500)
            for tp, records in batch.items():
                if records and tp not in found:
                    found[tp] = records[0].timestamp
                    self._consumer.pause(tp)
        self._consumer.unsubscribe()
        return min(found.values()) if found else None


async def group_members(access: KafkaAccess, group_ids: list[str]) -> dict[str, int | None]:
    """How many consumers each group has now (0 when empty); None for every group when the
    broker cannot say (an admin client of its own: a reply the client cannot decode breaks
    its connection)."""
    admin = AIOKafkaAdminClient(**access.client_options())
    found: dict[str, int | None] = dict.fromkeys(group_ids)
    try:
        async with asyncio.timeout(DESCRIBE_SECONDS):
            await admin.start()
            for group_id in group_ids:
                [response] = await admin.describe_consumer_groups([group_id])
                for group in response.groups:
                    error_code, name, _state, _protocol_type, _protocol, members = group[:6]
                    if name == group_id and error_code == 0:
                        found[group_id] = len(members)
    except (KafkaError, OSError, TimeoutError, ValueError):
        return dict.fromkeys(group_ids)
    finally:
        await admin.close()
    return found
