"""A synchronous "is this broker serving?" check speaking the Kafka wire protocol.

A KRaft broker binds its port early but answers requests only once it has caught
up with the metadata log and been unfenced, so an answered Metadata request that
lists at least one broker means clients can use it. Plain sockets keep this
usable from sync code (CLI, pytest fixtures) without an event loop.
"""
from __future__ import annotations

import socket
import struct

_API_VERSIONS = 18
_METADATA = 3
_CLIENT_ID = b"firmtext-probe"


def _request(api_key: int, version: int, correlation_id: int, body: bytes) -> bytes:
    header = struct.pack(">hhih", api_key, version, correlation_id, len(_CLIENT_ID)) + _CLIENT_ID
    payload = header + body
    return struct.pack(">i", len(payload)) + payload


def _read_exact(sock: socket.socket, size: int) -> bytes:
    chunks, remaining = [], size
    while remaining:
        chunk = sock.recv(remaining)
        if not chunk:
            raise ConnectionError("broker closed the connection")
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def _call(sock: socket.socket, api_key: int, version: int, correlation_id: int, body: bytes) -> bytes:
    sock.sendall(_request(api_key, version, correlation_id, body))
    (size,) = struct.unpack(">i", _read_exact(sock, 4))
    response = _read_exact(sock, size)
    (got_id,) = struct.unpack_from(">i", response)
    if got_id != correlation_id:
        raise ConnectionError("broker answered out of order")
    return response[4:]


def _metadata_versions(sock: socket.socket) -> tuple[int, int] | None:
    # ApiVersions v0 is the one request every broker version must accept.
    body = _call(sock, _API_VERSIONS, 0, 1, b"")
    error, count = struct.unpack_from(">hi", body)
    if error:
        raise ConnectionError(f"ApiVersions error code {error}")
    for index in range(count):
        key, low, high = struct.unpack_from(">hhh", body, 6 + index * 6)
        if key == _METADATA:
            return low, high
    return None


def broker_ready(host: str, port: int, timeout: float = 2.0) -> bool:
    """True if the broker at ``host:port`` answers a Metadata request listing a broker."""
    return brokers_listed(host, port, timeout) > 0


def brokers_listed(host: str, port: int, timeout: float = 2.0) -> int:
    """How many brokers the broker at ``host:port`` lists as serving (0: it does not answer).

    A cluster is complete once one node lists them all (topics can then get all replicas).
    """
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.settimeout(timeout)
            versions = _metadata_versions(sock)
            if versions is None:
                return 0
            # v4..v8 share one non-flexible layout; pick the lowest the broker accepts.
            version = max(4, versions[0])
            if version > min(8, versions[1]):
                return 1  # a future broker: ApiVersions answered, good enough
            body = struct.pack(">i?", 0, False)  # no topics, no auto-creation
            if version >= 8:
                body += struct.pack(">??", False, False)
            reply = _call(sock, _METADATA, version, 2, body)
            _throttle, brokers = struct.unpack_from(">ii", reply)
            return brokers
    except (OSError, ConnectionError, struct.error):
        return 0
