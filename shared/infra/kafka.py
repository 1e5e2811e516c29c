"""The embedded Kafka broker: Apache Kafka (KRaft, one node with both roles) as our child.

The jars come from Maven Central (`shared.infra.kafka_dist`, pinned by deploy/kafka/pom.xml).
Everything the broker keeps is in one folder: `server.properties`, `broker.json` (cluster id
and ports, so a restart is the same cluster where clients already point) and `log/` (topics,
committed offsets, the metadata log). Started again on the same folder it has every topic,
message and offset it had: `make run` keeps it under `.data/kafka`, tests in a temporary folder.

The broker opens its client port only once it is ready to serve, so answering ApiVersions is
the readiness check.

A node may also be a member of a cluster (`Quorum`: every voter's controller port, one
cluster id): `shared.infra.kafka_cluster` prepares its nodes with `EmbeddedKafka.prepare` and
starts them together; `broker_settings` gives one node and a cluster their settings.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import psutil

from shared.infra.kafka_config import (
    JVM_OPTIONS,
    NODE_ID,
    Quorum,
    new_cluster_id,
    server_properties,
)
from shared.infra.kafka_dist import class_archive, ensure_libs, java_binary
from shared.infra.kafka_probe import answers_kafka
from shared.infra.kafka_security import BrokerSecurity
from shared.infra.processes import ChildProcess, InfraStartError, log_tail, loopback_port, spawn


def _port(wanted: int | None, recorded: int | None, name: str) -> int:
    """`wanted` (must be free), else the recorded port if still free, else a free one."""
    if wanted is not None:
        return loopback_port(wanted, name)
    if recorded is not None:
        try:
            return loopback_port(recorded, name)
        except InfraStartError:
            pass
    return loopback_port(None, name)


def _stop_leftovers(properties: Path) -> None:
    """Stop a broker a killed run left on this folder (it holds the log's lock)."""
    leftovers = []
    for process in psutil.process_iter():
        with contextlib.suppress(psutil.Error):
            argv = process.cmdline()
            if "kafka.Kafka" in argv and str(properties) in argv:
                leftovers.append(process)
    for process in leftovers:
        with contextlib.suppress(psutil.Error):
            process.terminate()
    _, alive = psutil.wait_procs(leftovers, timeout=30)
    for process in alive:
        with contextlib.suppress(psutil.Error):
            process.kill()
    psutil.wait_procs(alive, timeout=5)


@dataclass
class NodeLaunch:
    """A node about to start: its folder prepared (`server.properties`, `broker.json`), its
    command lines built. `EmbeddedKafka.start` runs one; a cluster formats and starts all its
    nodes' launches at once (`shared.infra.kafka_cluster`): each JVM start is the cost."""

    folder: Path
    port: int
    controller_port: int
    cluster_id: str
    log_path: Path
    java: str
    classpath: list[str]
    broker_classpath: list[str]
    format_args: list[str]
    security: BrokerSecurity | None = None

    @property
    def properties(self) -> Path:
        return self.folder / "server.properties"

    def spawn_format(self) -> ChildProcess | None:
        """Start `StorageTool format` if the log was never formatted (else None)."""
        if (self.folder / "log" / "meta.properties").exists():
            return None
        storage = [self.java, "-Xmx256m", *self.classpath, "kafka.tools.StorageTool", "format"]
        storage += [f"--cluster-id={self.cluster_id}", "-c", str(self.properties)]
        storage += ["--ignore-formatted", *self.format_args]
        return spawn(
            "kafka-storage",
            storage,
            log_path=self.log_path,
            death_signal=signal.SIGKILL,
            stop_signal=signal.SIGKILL,
        )

    def finish_format(self, formatting: ChildProcess | None, timeout: float = 90.0) -> None:
        if formatting is not None and formatting.wait(timeout=timeout) != 0:
            raise InfraStartError(
                f"kafka storage format failed on {self.folder}; log {self.log_path}:\n"
                + log_tail(self.log_path)
            )

    def spawn_node(self) -> EmbeddedKafka:
        """Start the broker (formatted before); it is ready once `ready()` holds."""
        process = spawn(
            "kafka",
            [self.java, *JVM_OPTIONS, *self.broker_classpath, "kafka.Kafka", str(self.properties)],
            log_path=self.log_path,
            death_signal=signal.SIGTERM,  # a clean shutdown: no log recovery on the next start
            stop_signal=signal.SIGTERM,
        )
        return EmbeddedKafka(
            process, self.port, self.controller_port, self.folder, self.cluster_id, self.security
        )


@dataclass
class EmbeddedKafka:
    """An Apache Kafka broker owned by this process, on a loopback port."""

    process: ChildProcess
    port: int
    controller_port: int
    folder: Path
    cluster_id: str
    security: BrokerSecurity | None = None

    @classmethod
    def start(
        cls,
        folder: Path,
        port: int | None = None,
        *,
        log_path: Path | None = None,
        timeout: float = 90.0,
        wait: bool = True,
        record_classes_to: Path | None = None,
        extra: Mapping[str, str] | None = None,
        format_args: Sequence[str] = (),
        security: BrokerSecurity | None = None,
    ) -> EmbeddedKafka:
        """Start the broker on `folder` and return once it speaks the Kafka protocol (with
        `wait=False` at once: then `await until_ready()`, the event loop keeps running).

        A folder used before is the same cluster (id and log), on the ports it had if they
        are free; `port` forces the client port. The broker's output goes to `log_path`
        (default `folder/kafka.log`). `record_classes_to`: write a class-data archive there
        when the broker exits (`kafka_dist.record_class_archive`); otherwise the recorded one,
        if any, is used. `extra` server properties are laid over ours; `format_args` go to
        `StorageTool format` (the first start on a folder). `security`: SASL/SCRAM listeners
        and ACLs (`kafka_security`); its users are made when the folder is formatted, so give a
        folder the same one each time.
        """
        launch = cls.prepare(
            folder,
            port,
            log_path=log_path,
            record_classes_to=record_classes_to,
            extra=extra,
            format_args=format_args,
            security=security,
        )
        launch.finish_format(launch.spawn_format(), timeout)
        kafka = launch.spawn_node()
        if wait:
            kafka.wait_until_ready(timeout)
        return kafka

    @classmethod
    def prepare(
        cls,
        folder: Path,
        port: int | None = None,
        *,
        controller_port: int | None = None,
        node_id: int = NODE_ID,
        quorum: Quorum | None = None,
        log_path: Path | None = None,
        record_classes_to: Path | None = None,
        extra: Mapping[str, str] | None = None,
        format_args: Sequence[str] = (),
        security: BrokerSecurity | None = None,
    ) -> NodeLaunch:
        """Write the node's folder and build its command lines (nothing started yet).

        Alone (no `quorum`) the node is its own cluster, with the id and ports `broker.json`
        recorded. A member of `quorum` takes the cluster id and its controller port from it
        and must be given its client `port`: the cluster keeps every node's ports.
        """
        folder = folder.resolve()
        folder.mkdir(parents=True, exist_ok=True)
        log_path = log_path or folder / "kafka.log"
        java, libs = java_binary(), ensure_libs()
        properties = folder / "server.properties"
        _stop_leftovers(properties)
        state_path = folder / "broker.json"
        state = json.loads(state_path.read_text()) if state_path.exists() else {}
        if quorum is not None:
            controller_port = quorum.voters[node_id]
        port = _port(port, state.get("port"), "kafka")
        controller_port = _port(controller_port, state.get("controller_port"), "kafka controller")
        if controller_port == port:
            controller_port = loopback_port(None, "kafka controller")
        cluster_id = (
            quorum.cluster_id if quorum else str(state.get("cluster_id") or new_cluster_id())
        )
        if security is not None:  # this node's own listeners, secured
            extra = {**security.server_properties(port, controller_port), **(extra or {})}
            format_args = [*format_args, *security.format_args()]
        properties.touch(mode=0o600)  # with security: the broker's password
        properties.write_text(
            server_properties(folder, port, controller_port, extra, node_id=node_id, quorum=quorum)
        )
        state = {"cluster_id": cluster_id, "port": port, "controller_port": controller_port}
        state_path.write_text(json.dumps(state | {"node_id": node_id}))
        classpath = ["-cp", f"{libs}/*"]
        archive = class_archive(java)
        if archive.exists() and record_classes_to is None:
            classpath = [f"-XX:SharedArchiveFile={archive}", "-Xlog:cds=off", *classpath]
        broker_classpath = classpath
        if record_classes_to is not None:  # the broker's classes, not the storage tool's
            broker_classpath = [f"-XX:ArchiveClassesAtExit={record_classes_to}", *classpath]
        return NodeLaunch(
            folder,
            port,
            controller_port,
            cluster_id,
            log_path,
            java,
            classpath,
            broker_classpath,
            list(format_args),
            security,
        )

    def wait_until_ready(self, timeout: float = 90.0) -> None:
        try:
            self.process.wait_until(self.ready, timeout=timeout, what="answering Kafka")
        except BaseException:
            self.process.stop(grace=5.0)
            raise

    def ready(self) -> bool:
        return answers_kafka("127.0.0.1", self.port)

    async def until_ready(self, seconds: float = 90.0) -> None:
        """`wait_until_ready` without blocking the event loop."""
        await asyncio.to_thread(self.wait_until_ready, seconds)

    @property
    def bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        return self.process.pid

    def stop(self) -> None:
        """Controlled shutdown (SIGTERM: flush and close the log), SIGKILL if it hangs."""
        self.process.stop(grace=30.0)

    def kill(self) -> None:
        """SIGKILL, as a crash: the next start recovers the log."""
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGKILL)
        self.process.stop(grace=0)

    def __enter__(self) -> EmbeddedKafka:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
