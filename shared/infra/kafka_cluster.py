"""An Apache Kafka cluster of N KRaft nodes on loopback, every node both broker and controller.

One folder holds the cluster: `cluster.json` (the cluster id and every node's client and
controller ports, so a restart is the same cluster where clients already point) and a folder
per node (`node-1/`, `node-2/`...), each an `EmbeddedKafka` folder of its own. The voters are
static (`controller.quorum.voters` names every node). With 3 nodes every partition, the
broker's own topics included, has 3 replicas and `min.insync.replicas=2`: one node can die
without losing an acknowledged write or refusing a new one (`kafka.broker_settings`).

The nodes start in parallel (a JVM start is the cost): their storage is formatted at once,
then they start at once, and each opens its client port once the quorum has a leader and it
has caught up with the metadata.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient

from shared.infra.kafka import EmbeddedKafka, NodeLaunch
from shared.infra.kafka_config import Quorum, new_cluster_id
from shared.infra.kafka_security import ADMIN, BrokerSecurity
from shared.infra.processes import InfraStartError, loopback_port
from shared.kafka_access import KafkaAccess

STATE_FILE = "cluster.json"


@dataclass
class EmbeddedKafkaCluster:
    """N Apache Kafka nodes owned by this process; node ids 1..N."""

    folder: Path
    quorum: Quorum
    ports: dict[int, int]
    """Node id → client port."""
    log_dir: Path
    extra: Mapping[str, str] = field(default_factory=dict)
    format_args: list[str] = field(default_factory=list)
    security: BrokerSecurity | None = None
    """SASL/SCRAM listeners and ACLs on every node (`shared.infra.kafka_security`)."""
    _running: dict[int, EmbeddedKafka] = field(default_factory=dict)

    @classmethod
    def start(
        cls,
        folder: Path,
        nodes: int = 3,
        *,
        log_dir: Path | None = None,
        timeout: float = 120.0,
        wait: bool = True,
        extra: Mapping[str, str] | None = None,
        format_args: Sequence[str] = (),
        security: BrokerSecurity | None = None,
    ) -> EmbeddedKafkaCluster:
        """Start `nodes` nodes on `folder` (a folder used before: the same cluster, on the
        ports it had if they are free) and return once every node speaks the Kafka protocol.

        Node i writes its output to `log_dir/kafka-node-i.log` (default: its own folder).
        `extra` server properties and `format_args` (`StorageTool format`) apply to every node,
        and `security` secures each node's own listeners (its users are made when a folder is
        formatted: give a folder the same one each time).
        """
        folder = folder.resolve()
        folder.mkdir(parents=True, exist_ok=True)
        state_path = folder / STATE_FILE
        state = json.loads(state_path.read_text()) if state_path.exists() else {}
        recorded = {int(k): v for k, v in state.get("nodes", {}).items()}
        if recorded and len(recorded) != nodes:
            raise InfraStartError(
                f"{folder} holds a cluster of {len(recorded)} nodes, not {nodes}: "
                "start it with as many, or use another folder"
            )
        taken: set[int] = set()
        ports: dict[int, int] = {}
        voters: dict[int, int] = {}
        for node_id in range(1, nodes + 1):
            was = recorded.get(node_id, {})
            ports[node_id] = _free(was.get("port"), taken, f"kafka node {node_id}")
            voters[node_id] = _free(was.get("controller_port"), taken, f"controller {node_id}")
        quorum = Quorum(str(state.get("cluster_id") or new_cluster_id()), voters)
        nodes_state = {
            str(n): {"port": ports[n], "controller_port": voters[n]} for n in range(1, nodes + 1)
        }
        state_path.write_text(json.dumps({"cluster_id": quorum.cluster_id, "nodes": nodes_state}))
        cluster = cls(folder, quorum, ports, log_dir or folder, dict(extra or {}))
        cluster.format_args = list(format_args)
        cluster.security = security
        try:
            launches = [cluster._prepare(n) for n in ports]
            formats = [launch.spawn_format() for launch in launches]  # all JVMs at once
            for launch, formatting in zip(launches, formats, strict=True):
                launch.finish_format(formatting, timeout)
            for node_id, launch in zip(ports, launches, strict=True):
                cluster._running[node_id] = launch.spawn_node()
            if wait:
                cluster.wait_until_ready(timeout)
        except BaseException:
            cluster.stop()
            raise
        return cluster

    def _prepare(self, node_id: int) -> NodeLaunch:
        log_path = self.log_dir / f"kafka-node-{node_id}.log"
        if self.log_dir == self.folder:
            log_path = self.folder / f"node-{node_id}" / "kafka.log"
        return EmbeddedKafka.prepare(
            self.folder / f"node-{node_id}",
            self.ports[node_id],
            node_id=node_id,
            quorum=self.quorum,
            log_path=log_path,
            extra=self.extra,
            format_args=self.format_args,
            security=self.security,
        )

    @property
    def node_ids(self) -> list[int]:
        return sorted(self.ports)

    @property
    def cluster_id(self) -> str:
        return self.quorum.cluster_id

    @property
    def bootstrap_servers(self) -> str:
        """Every node (a client tries the next when one is down)."""
        return ",".join(f"127.0.0.1:{self.ports[n]}" for n in self.node_ids)

    def node(self, node_id: int) -> EmbeddedKafka:
        """The running node `node_id`; KeyError if it is down."""
        return self._running[node_id]

    def running(self) -> list[int]:
        return [n for n, node in sorted(self._running.items()) if node.process.is_running()]

    def wait_until_ready(self, timeout: float = 120.0) -> None:
        """Every running node answers (they were started together: one deadline for all)."""
        deadline = time.monotonic() + timeout
        for node in list(self._running.values()):
            node.wait_until_ready(max(1.0, deadline - time.monotonic()))

    def kill(self, node_id: int) -> None:
        """`kill -9` node `node_id`, as a crash: the others carry on, it recovers on restart."""
        self._running.pop(node_id).kill()

    def restart(self, node_id: int, *, wait: bool = True, timeout: float = 90.0) -> EmbeddedKafka:
        """Start node `node_id` again on its folder and ports (stopping it first if it runs);
        with `wait=False` return at once (`await node.until_ready()`)."""
        if node_id in self._running:
            self._running.pop(node_id).stop()
        launch = self._prepare(node_id)
        launch.finish_format(launch.spawn_format(), timeout)
        node = self._running[node_id] = launch.spawn_node()
        if wait:
            node.wait_until_ready(timeout)
        return node

    def stop(self) -> None:
        """Stop every node: all asked at once (one by one, the last ones would wait for a
        quorum that is already gone), SIGKILL for any that hangs."""
        nodes = list(self._running.values())
        self._running.clear()
        for node in nodes:
            with contextlib.suppress(ProcessLookupError):
                os.kill(node.pid, signal.SIGTERM)
        for node in nodes:
            node.stop()

    async def leader_counts(self) -> dict[int, int]:
        """How many partitions (every topic's, the broker's own included) each node leads
        now, as the cluster's metadata says; a node that leads none counts 0."""
        counts = dict.fromkeys(self.node_ids, 0)
        for partition in await self._partitions():
            if partition["leader"] in counts:
                counts[partition["leader"]] += 1
        return counts

    async def under_replicated(self) -> int:
        """Partitions with fewer in-sync replicas than replicas (a node is down or catching
        up); 0 when every replica of every partition is in sync."""
        return sum(len(p["isr"]) < len(p["replicas"]) for p in await self._partitions())

    async def until_fully_replicated(self, seconds: float = 90.0) -> None:
        """Wait until every node runs and every replica is back in sync."""
        deadline = asyncio.get_running_loop().time() + seconds
        while True:
            try:
                behind = await self.under_replicated()
            except Exception:  # a node is still starting: ask again
                behind = -1
            if behind == 0 and len(self.running()) == len(self.ports):
                return
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"{behind} partitions under-replicated after {seconds:.0f} s")
            await asyncio.sleep(0.2)

    async def _partitions(self) -> list[dict[str, Any]]:
        admin = AIOKafkaAdminClient(**self.admin_access(self._running_servers()).client_options())
        await admin.start()
        try:
            topics = await admin.describe_topics()
        finally:
            await admin.close()
        return [p for t in topics for p in t["partitions"]]

    def admin_access(self, bootstrap_servers: str | None = None) -> KafkaAccess:
        """A client of this cluster with every right: `admin` when secured."""
        servers = bootstrap_servers or self.bootstrap_servers
        if self.security is None:
            return KafkaAccess(servers)
        return self.security.access(servers, ADMIN)

    def _running_servers(self) -> str:
        """The nodes that run (an admin client stuck on a dead bootstrap node waits)."""
        return ",".join(f"127.0.0.1:{self.ports[n]}" for n in self.running() or self.node_ids)

    def __enter__(self) -> EmbeddedKafkaCluster:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def _free(recorded: int | None, taken: set[int], name: str) -> int:
    """The recorded port if nobody holds it, else a free one; never one in `taken`."""
    if recorded is not None and recorded not in taken:
        with contextlib.suppress(InfraStartError):
            taken.add(loopback_port(recorded, name))
            return recorded
    while (port := loopback_port(None, name)) in taken:
        pass
    taken.add(port)
    return port
