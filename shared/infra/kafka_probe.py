"""Is a Kafka listener ready? A raw ApiVersions v0 request keeps the probe synchronous and
independent of any client (a broker opens its port only once it is ready to serve; a SASL
listener answers ApiVersions before authentication too)."""

from __future__ import annotations

import socket
import struct

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
