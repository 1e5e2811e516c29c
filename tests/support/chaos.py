"""Chaos for the whole system: `kill -9` services at seeded random moments and restart them;
`kill -9` the broker once and start it again.

The chaos test owns its broker (not the session's, which other tests share). Apache Kafka
keeps its log: killed and started again on its folder and port (where every client already
points) it has every topic, message and committed offset, so nobody re-publishes anything.
(`cryptoorch outbox republish` is for a broker that really lost its log:
tests/chaos/test_broker_restart.py.)
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from shared.contracts import all_topics
from shared.infra.kafka import EmbeddedKafka
from shared.kafka import topic_partitions
from shared.kafka_access import KafkaAccess
from tests.support.system import System


@dataclass(frozen=True)
class Kill:
    at: float
    """Seconds after the chaos starts."""
    key: str
    down_for: float


def plan_kills(
    rng: random.Random, keys: list[str], *, times_each: int, within: float, min_gap: float = 6.0
) -> list[Kill]:
    """`times_each` kills of every key at random moments of `within` seconds, in time order.

    Each key gets one kill per slot of `within / times_each` seconds; two kills of one key
    are at least `min_gap / 2` apart and a killed process is down for at most `min_gap / 3`,
    so it is running again (often still starting) before it is killed again.
    """
    plan: list[Kill] = []
    slot = (within - 2.0) / times_each
    if slot < min_gap:
        raise ValueError(f"{times_each} kills each do not fit in {within:.0f}s")
    for key in keys:
        for n in range(times_each):
            at = 1.0 + n * slot + rng.uniform(0, slot - min_gap / 2)
            plan.append(Kill(at, key, rng.uniform(0.2, min_gap / 3)))
    return sorted(plan, key=lambda kill: kill.at)


class Broker:
    """The chaos test's own embedded broker, killed and started again on its folder and port."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.kafka = EmbeddedKafka.start(folder)

    @property
    def bootstrap_servers(self) -> str:
        return self.kafka.bootstrap_servers

    async def restart(self, down_for: float, note: Callable[[str], None]) -> None:
        """`kill -9` it, start it again on its folder and port, and check that it kept every
        message it had acknowledged (its topics' end offsets did not go back)."""
        before = await end_offsets(self.bootstrap_servers)
        self.kafka.kill()
        note(f"broker killed (kill -9); {sum(before.values())} messages on its topics")
        await asyncio.sleep(down_for)
        self.kafka = EmbeddedKafka.start(self.folder, self.kafka.port, wait=False)
        await self.kafka.until_ready()
        note("broker started again")
        after = await end_offsets(self.bootstrap_servers)
        lost = {tp: n for tp, n in before.items() if after.get(tp, 0) < n}
        assert not lost, f"the broker lost acknowledged messages: {lost}"

    def stop(self) -> None:
        self.kafka.stop()


async def end_offsets(broker: KafkaAccess | str) -> dict[TopicPartition, int]:
    """The end offset of every partition of every contract topic the broker has."""
    access = broker if isinstance(broker, KafkaAccess) else KafkaAccess(broker)
    partitions = await topic_partitions(access, all_topics())
    consumer = AIOKafkaConsumer(**access.client_options())
    await consumer.start()
    try:
        ends: dict[TopicPartition, int] = await consumer.end_offsets(partitions)
        return ends
    finally:
        await consumer.stop()


def poison(marker: str) -> list[bytes]:
    """Messages no consumer can apply (not JSON; an unknown version), each carrying `marker`."""
    return [
        f"{marker}: this is not JSON {{".encode(),
        (
            '{"type": "PlaceOrder", "version": 99, "event_id": "00000000-0000-0000-0000-'
            f'000000000099", "payload": {{"note": "{marker}"}}}}'
        ).encode(),
    ]


async def inject_poison(bootstrap_servers: str, topic: str, marker: str) -> int:
    """Publish `poison(marker)` on `topic`; how many messages."""
    messages = poison(marker)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap_servers, acks="all")
    await producer.start()
    try:
        for value in messages:
            await producer.send_and_wait(topic, value, key=marker.encode())
    finally:
        await producer.stop()
    return len(messages)


CHECKPOINT_OFTEN = {"CRYPTOORCH_AUDIT_CHECKPOINT_EVERY": "100"}
"""A chaos run is shorter than the default 1,000 appends or 60 s: with these, the audit takes
checkpoints through the kills, and `cryptoorch check` holds the chain to them."""

KNOWN_CRASHES = {
    "Unable to bootstrap from": "started while the broker was down: `ServiceRuntime.start` "
    "creates the topics first and exits when it cannot (shared/service.py)",
}
"""Crashes already reported: the monkey restarts the process, as `cryptoorch up` does, and
lists them; any other crash fails the run. Remove an entry once its cause is fixed."""


@dataclass
class Monkey:
    """Carries out a kill plan against `system` (keys → service modules) and, like a
    supervisor, restarts a process that died by itself, noting why (`KNOWN_CRASHES`)."""

    system: System
    instances: Mapping[str, str]
    events: list[str] = field(default_factory=list)
    kills: dict[str, int] = field(default_factory=dict)
    unexpected_exits: list[str] = field(default_factory=list)
    known_crashes: list[str] = field(default_factory=list)
    _down: set[str] = field(default_factory=set)
    _log_from: dict[str, int] = field(default_factory=dict)
    _started: float = field(default_factory=time.monotonic)

    def note(self, text: str) -> None:
        utc = datetime.now(UTC).strftime("%H:%M:%S.%f")[:-3]
        self.events.append(f"{time.monotonic() - self._started:7.1f}s {utc} {text}")

    async def run(self, plan: list[Kill]) -> None:
        self._started = time.monotonic()
        restarts: list[asyncio.Task[None]] = []
        for kill in plan:
            while time.monotonic() - self._started < kill.at:
                self.restart_the_dead()
                await asyncio.sleep(0.2)
            if kill.key in self._down:
                continue
            try:
                self.system.kill(kill.key)
            except ProcessLookupError:  # it died by itself a moment ago
                self.note(f"{kill.key} was already gone")
            self._down.add(kill.key)
            self.kills[kill.key] = self.kills.get(kill.key, 0) + 1
            self.note(f"kill -9 {kill.key}; back in {kill.down_for:.1f}s")
            restarts.append(asyncio.create_task(self._restart_after(kill.key, kill.down_for)))
        await asyncio.gather(*restarts)

    async def _restart_after(self, key: str, seconds: float) -> None:
        await asyncio.sleep(seconds)
        self.start(key)
        self._down.discard(key)
        self.note(f"restarted {key}")

    def start(self, key: str) -> None:
        log = self.system.log_dir / f"{key}.log"
        self._log_from[key] = log.stat().st_size if log.exists() else 0
        self.system.start(key, self.instances[key])

    def last_words(self, key: str, lines: int = 15) -> str:
        """The end of what this incarnation of `key` wrote (earlier ones wrote above it)."""
        with (self.system.log_dir / f"{key}.log").open("rb") as log:
            log.seek(self._log_from.get(key, 0))
            text = log.read().decode(errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    def restart_the_dead(self) -> None:
        for key in self.system.exited():
            if key in self._down:
                continue
            process = self.system.processes.pop(key)
            process.stop(grace=0)
            tail = self.last_words(key)
            known = next((why for sign, why in KNOWN_CRASHES.items() if sign in tail), None)
            if known is not None:
                self.known_crashes.append(f"{key}: {known}")
                self.note(f"{key} exited (known: {known[:60]}...); restarting it")
            else:
                self.unexpected_exits.append(f"{key} exited by itself:\n{tail}")
                self.note(f"{key} EXITED BY ITSELF; restarting it")
            self.start(key)

    async def watch(self, stop: asyncio.Event) -> None:
        """Keep every process up until `stop` (between the plan's kills and after them)."""
        while not stop.is_set():
            self.restart_the_dead()
            try:
                await asyncio.wait_for(stop.wait(), timeout=0.5)
            except TimeoutError:
                pass
