"""Readiness probes for the local infrastructure, used by infra.sh.

Standard library only, so that `infra.sh up` works before the repo's .venv exists. When PyMongo is
importable (the .venv), the MongoDB probe also does a real insert, find and count with it, since
PyMongo is the client the services use.

    probe.py kafka 127.0.0.1:9092        ApiVersions + Metadata: a broker and a controller are up
    probe.py mongo mongodb://127.0.0.1:27017   ping (and an insert/find/count with PyMongo)

Exit status 0 when ready, 1 otherwise (the reason on stderr).
"""

from __future__ import annotations

import socket
import struct
import sys
from urllib.parse import urlparse

TIMEOUT_S = 3.0
CLIENT_ID = b"crm-infra-probe"


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("connection closed by the server")
        buf += chunk
    return buf


class _Reader:
    """Reads big-endian Kafka protocol fields from a response body."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, fmt: str) -> int:
        (value,) = struct.unpack_from(fmt, self.data, self.pos)
        self.pos += struct.calcsize(fmt)
        return int(value)

    def string(self) -> str | None:
        length = self.take(">h")
        if length < 0:
            return None
        raw = self.data[self.pos : self.pos + length]
        self.pos += length
        return raw.decode()


def _kafka_call(sock: socket.socket, api_key: int, version: int, corr: int, body: bytes) -> _Reader:
    # Request header v1 (non-flexible versions only): key, version, correlation id, client id.
    header = struct.pack(">hhih", api_key, version, corr, len(CLIENT_ID)) + CLIENT_ID
    payload = header + body
    sock.sendall(struct.pack(">i", len(payload)) + payload)
    size = struct.unpack(">i", _recv_exact(sock, 4))[0]
    reader = _Reader(_recv_exact(sock, size))
    if reader.take(">i") != corr:
        raise ConnectionError("correlation id mismatch")
    return reader


def probe_kafka(address: str) -> str:
    """Asks the broker for its API versions, then for cluster metadata (Metadata v4)."""
    host, _, port = address.rpartition(":")
    with socket.create_connection((host, int(port)), timeout=TIMEOUT_S) as sock:
        sock.settimeout(TIMEOUT_S)
        versions = _kafka_call(sock, api_key=18, version=0, corr=1, body=b"")
        error = versions.take(">h")
        if error != 0:
            raise RuntimeError(f"ApiVersions error code {error}")
        ranges = {}
        for _ in range(versions.take(">i")):
            key, low, high = versions.take(">h"), versions.take(">h"), versions.take(">h")
            ranges[key] = (low, high)
        low, high = ranges.get(3, (0, -1))
        if not low <= 4 <= high:
            raise RuntimeError(f"Metadata v4 not supported (broker offers v{low}..v{high})")
        # Metadata v4: an empty topic list (we only want brokers), no auto-creation.
        meta = _kafka_call(sock, api_key=3, version=4, corr=2, body=struct.pack(">ib", 0, 0))
        meta.take(">i")  # throttle time
        brokers = []
        for _ in range(meta.take(">i")):
            node_id = meta.take(">i")
            broker_host = meta.string()
            broker_port = meta.take(">i")
            meta.string()  # rack
            brokers.append(f"{node_id}@{broker_host}:{broker_port}")
        cluster_id = meta.string()
        controller = meta.take(">i")
    if not brokers or controller < 0:
        raise RuntimeError(f"not ready yet: brokers={brokers} controller={controller}")
    return f"cluster {cluster_id}, brokers {', '.join(brokers)}, controller {controller}"


def _bson_ping() -> bytes:
    # {"ping": 1, "$db": "admin"} encoded by hand: an int32 element and a string element.
    elements = b"\x10ping\x00" + struct.pack("<i", 1)
    db = b"admin\x00"
    elements += b"\x02$db\x00" + struct.pack("<i", len(db)) + db
    return struct.pack("<i", 4 + len(elements) + 1) + elements + b"\x00"


def _raw_mongo_ping(host: str, port: int) -> str:
    """OP_MSG ping, for machines where PyMongo is not installed yet."""
    body = struct.pack("<I", 0) + b"\x00" + _bson_ping()
    header = struct.pack("<iiii", 16 + len(body), 1, 0, 2013)
    with socket.create_connection((host, port), timeout=TIMEOUT_S) as sock:
        sock.settimeout(TIMEOUT_S)
        sock.sendall(header + body)
        length = struct.unpack("<i", _recv_exact(sock, 4))[0]
        reply = _recv_exact(sock, length - 4)
    marker = b"\x01ok\x00"
    at = reply.find(marker)
    if at < 0 or struct.unpack_from("<d", reply, at + len(marker))[0] != 1.0:
        raise RuntimeError("ping did not answer ok: 1")
    return "ping ok (raw OP_MSG; PyMongo not importable)"


def probe_mongo(url: str) -> str:
    """Pings the server; with PyMongo available, also inserts, finds and counts a document."""
    parsed = urlparse(url)
    host, port = parsed.hostname or "127.0.0.1", parsed.port or 27017
    try:
        from pymongo import MongoClient  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        return _raw_mongo_ping(host, port)
    client: MongoClient[dict[str, object]] = MongoClient(
        url, serverSelectionTimeoutMS=int(TIMEOUT_S * 1000)
    )
    try:
        client.admin.command("ping")
        hello = client.admin.command("hello")
        collection = client["crm_infra_probe"]["probe"]
        collection.insert_one({"probe": 1})
        found = collection.find_one({"probe": 1})
        count = collection.count_documents({})
        client.drop_database("crm_infra_probe")
        if found is None or count < 1:
            raise RuntimeError("inserted document not found")
        return f"insert/find/count ok with PyMongo, maxWireVersion {hello.get('maxWireVersion')}"
    finally:
        client.close()


def main(argv: list[str]) -> int:
    if len(argv) != 3 or argv[1] not in {"kafka", "mongo"}:
        sys.stderr.write(__doc__ or "")
        return 2
    try:
        detail = probe_kafka(argv[2]) if argv[1] == "kafka" else probe_mongo(argv[2])
    except Exception as exc:  # any failure means "not ready"; infra.sh retries until its deadline
        sys.stderr.write(f"{argv[1]} not ready: {type(exc).__name__}: {exc}\n")
        return 1
    sys.stdout.write(detail + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
