"""What an embedded Kafka node is told: its JVM options, its `server.properties` (one node
alone, or a member of a KRaft quorum of several), and the settings that differ between one
node and a cluster (replication, failover timings). Pure: no process is started here
(`shared.infra.kafka` starts nodes).
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

NODE_ID = 1
JVM_OPTIONS = [
    "-Xms128m",
    "-Xmx512m",
    "-XX:+UseSerialGC",  # a small heap on 2 cores: no concurrent GC threads
    "-XX:+ExitOnOutOfMemoryError",
    "-XX:-UsePerfData",
    "-Djava.awt.headless=true",
    "-Dorg.slf4j.simpleLogger.showDateTime=true",
    "-Dorg.slf4j.simpleLogger.dateTimeFormat=yyyy-MM-dd'T'HH:mm:ss.SSS",
    "-Dorg.slf4j.simpleLogger.log.org.apache.kafka.common.config=warn",  # no config dumps
]
BROKER_SETTINGS = {
    "auto.create.topics.enable": "false",  # topics only as the contract has them
    "num.partitions": "1",
    "default.replication.factor": "1",
    "min.insync.replicas": "1",
    "offsets.topic.replication.factor": "1",
    "offsets.topic.num.partitions": "4",
    "transaction.state.log.replication.factor": "1",
    "transaction.state.log.min.isr": "1",
    "transaction.state.log.num.partitions": "1",
    "share.coordinator.state.topic.replication.factor": "1",
    "share.coordinator.state.topic.min.isr": "1",
    "share.coordinator.state.topic.num.partitions": "1",
    "group.initial.rebalance.delay.ms": "0",  # a lone consumer starts at once
    "group.min.session.timeout.ms": "1000",  # tests use 3 s sessions (default minimum: 6 s)
    "broker.heartbeat.interval.ms": "500",
    "broker.session.timeout.ms": "3000",  # a restart after kill -9 waits for the old session
    "controller.quorum.election.timeout.ms": "300",  # one voter: nobody else to wait for
    "log.retention.ms": "-1",  # the topics are the event log: kept (deploy/topics.py)
    "log.cleaner.threads": "1",
    "log.cleaner.dedupe.buffer.size": str(16 * 1024 * 1024),  # default 128 MiB, on a 512 MiB heap
    "num.network.threads": "2",
    "num.io.threads": "2",
    "num.recovery.threads.per.data.dir": "1",
}
"""One node: internal topics with one replica, few partitions, no waiting for more members."""

FAILOVER_SETTINGS = {
    # A follower that stops fetching leaves the ISR after 5 s (default 30 s): an `acks=all`
    # produce waits at most that long for a hung (not dead) replica.
    "replica.lag.time.max.ms": "5000",
    # A dead broker (no heartbeat for 3 s, default 9 s) is fenced: the controller moves the
    # leadership of its partitions to an in-sync replica and drops it from every ISR.
    "broker.heartbeat.interval.ms": "500",
    "broker.session.timeout.ms": "3000",
    # A dead active controller: the other voters notice after 1.5 s without an answer
    # (default 2 s) and elect one of them within ~0.5 s (default 1 s).
    "controller.quorum.fetch.timeout.ms": "1500",
    "controller.quorum.election.timeout.ms": "500",
    "controller.quorum.election.backoff.max.ms": "500",
    "unclean.leader.election.enable": "false",  # (the default) never elect a replica that is behind
}
"""Several nodes: failover in seconds on loopback, without fencing a busy-but-alive node."""


def broker_settings(nodes: int) -> dict[str, str]:
    """The settings of a node of a cluster of `nodes`: one node as `BROKER_SETTINGS`; more
    keep every partition (ours and the broker's own topics) on up to 3 replicas, of which 2
    must have a write before it is acknowledged, so one node can die without losing or
    refusing anything."""
    if nodes <= 1:
        return dict(BROKER_SETTINGS)
    replicas = min(3, nodes)
    in_sync = max(1, replicas - 1)
    return {
        **BROKER_SETTINGS,
        "default.replication.factor": str(replicas),
        "min.insync.replicas": str(in_sync),
        "offsets.topic.replication.factor": str(replicas),
        "transaction.state.log.replication.factor": str(replicas),
        "transaction.state.log.min.isr": str(in_sync),
        "share.coordinator.state.topic.replication.factor": str(replicas),
        "share.coordinator.state.topic.min.isr": str(in_sync),
        **FAILOVER_SETTINGS,
    }


@dataclass(frozen=True)
class Quorum:
    """The KRaft quorum a node is a member of: one cluster id and every voter (node id →
    controller port on loopback). Every node of a cluster gets the same one."""

    cluster_id: str
    voters: Mapping[int, int]

    @property
    def voters_text(self) -> str:
        """`controller.quorum.voters`: `1@127.0.0.1:9093,2@...`."""
        return ",".join(f"{node}@127.0.0.1:{port}" for node, port in sorted(self.voters.items()))


def new_cluster_id() -> str:
    """A Kafka cluster id: 16 random bytes, URL-safe base64 without padding, never starting
    with "-" (a command line would read it as an option; Kafka's own `random-uuid` skips those
    too)."""
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id


def server_properties(
    folder: Path,
    port: int,
    controller_port: int,
    extra: Mapping[str, str] | None = None,
    *,
    node_id: int = NODE_ID,
    quorum: Quorum | None = None,
) -> str:
    """The `server.properties` of a node: one node alone (its own quorum) or, with `quorum`,
    a member of a cluster. `extra` is laid over everything (more listeners, security...)."""
    voters = quorum.voters_text if quorum else f"{node_id}@127.0.0.1:{controller_port}"
    settings = {
        "process.roles": "broker,controller",
        "node.id": str(node_id),
        "controller.quorum.voters": voters,
        "listeners": f"PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}",
        "advertised.listeners": f"PLAINTEXT://127.0.0.1:{port}",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "log.dirs": str(folder / "log"),
        **broker_settings(len(quorum.voters) if quorum else 1),
        **(extra or {}),
    }
    return "".join(f"{key}={value}\n" for key, value in settings.items())
