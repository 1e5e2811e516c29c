"""Shared pieces of `make bench`: the infrastructure, a stopwatch, and the printed table."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from statistics import quantiles

from aiokafka import AIOKafkaConsumer, TopicPartition

from shared.contracts import Envelope, encode
from shared.kafka import make_producer, topic_partitions
from shared.kafka_access import KafkaAccess


def p50_p99(values: list[float]) -> tuple[float, float]:
    """The median and the 99th percentile (one value: itself; none: zeros)."""
    if len(values) < 2:
        return (values[0], values[0]) if values else (0.0, 0.0)
    cuts = quantiles(values, n=100, method="inclusive")
    return cuts[49], cuts[98]


@dataclass
class Figure:
    name: str
    rate: float
    unit: str
    baseline: str | None = None
    listed: bool = True
    """In the table of rates; a latency or CPU per order is kept for the targets only."""


@dataclass
class Report:
    figures: dict[str, Figure] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def add(
        self,
        key: str,
        name: str,
        count: int,
        seconds: float,
        unit: str,
        baseline: str | None = None,
    ) -> Figure:
        figure = Figure(name, count / seconds, unit, baseline)
        self.figures[key] = figure
        print(f"  {name:<58} {figure.rate:>12,.0f} {unit}", flush=True)
        return figure

    def figures_add_rate(
        self, key: str, name: str, rate: float, unit: str, baseline: str | None = None
    ) -> Figure:
        """A figure measured as a rate already (e.g. after excluding a warm-up)."""
        return self.add(key, name, int(rate * 1000), 1000.0, unit, baseline)

    def measured(self, key: str, name: str, value: float, unit: str) -> None:
        """A figure that is not a rate (a latency, CPU per order): kept for the targets table,
        printed by the suite that measured it."""
        self.figures[key] = Figure(name, value, unit, listed=False)

    def table(self) -> str:
        lines = [f"{'measure':<58} {'rate':>12}  {'unit':<10} {'ratio to raw limit'}"]
        for figure in self.figures.values():
            if not figure.listed:
                continue
            ratio = ""
            if figure.baseline and figure.baseline in self.figures:
                base = self.figures[figure.baseline]
                ratio = f"{figure.rate / base.rate:6.1%} of {base.name}"
            lines.append(f"{figure.name:<58} {figure.rate:>12,.0f}  {figure.unit:<10} {ratio}")
        return "\n".join([*lines, "", *self.notes])


@contextmanager
def stopwatch() -> Iterator[list[float]]:
    """`with stopwatch() as t: ...` then `t[0]` is the elapsed seconds."""
    elapsed = [0.0]
    start = time.perf_counter()
    try:
        yield elapsed
    finally:
        elapsed[0] = time.perf_counter() - start


async def read_to_end(
    consumer: AIOKafkaConsumer, bootstrap: str, topics: Sequence[str]
) -> list[TopicPartition]:
    """Assign every partition of `topics` to `consumer`, positioned after what is on them now."""
    partitions = await topic_partitions(KafkaAccess(bootstrap), list(topics))
    consumer.assign(partitions)
    await consumer.seek_to_end(*partitions)
    for tp in partitions:
        await consumer.position(tp)  # resolved now, not at the first fetch
    return partitions


async def skip_backlog(bootstrap: str, group: str, topics: Sequence[str]) -> None:
    """Commit `group` after what is on `topics`: a benchmark's service applies what the
    benchmark publishes, not what other suites left there."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=group, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        partitions = await read_to_end(consumer, bootstrap, topics)
        await consumer.commit({tp: await consumer.position(tp) for tp in partitions})
    finally:
        await consumer.stop()


async def publish(bootstrap: str, messages: list[Envelope]) -> None:
    """Send `messages` (keyed by account, as services do) and wait for every acknowledgement."""
    producer = make_producer(KafkaAccess(bootstrap))
    await producer.start()
    try:
        sent = [
            await producer.send(m.topic.value, encode(m), key=m.account_id.encode())
            for m in messages
        ]
        await asyncio.gather(*sent)
    finally:
        await producer.stop()
