"""etcd v3 through its documented JSON gateway (`POST /v3/kv/txn`, `/v3/lease/*`, ...), over plain
HTTP/1.1 on a socket.

Why not a library: every etcd v3 client for Python speaks gRPC, and importing grpc and protobuf costs a
`cronsync exec` tens of milliseconds before its first request (bench/fleet_claim.py measures both);
http.client alone costs ~35 ms (it imports email). The gateway is etcd's own, part of every etcd since
3.3; what is needed of HTTP here is small: one request at a time, Content-Length or chunked answers.

Every request is bounded (`timeout` seconds for connecting, and for the whole answer); an endpoint that
fails is left for the next one in the list; the one that answered is tried first next time.
`cronsync exec` imports this only for a `run_on: "one"` job.
"""

from __future__ import annotations

import binascii
import time

from cronsync import CronsyncError
from cronsync.userspace import fastjson

TYPE_CHECKING = False  # typing costs milliseconds on exec's path: only mypy reads these
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import Any

_MAX_ANSWER_BYTES = 16 * 1024 * 1024


class EtcdError(CronsyncError):
    """etcd could not be reached, or refused a request: the message says which endpoints and why."""


def b64(data: bytes | str) -> str:
    raw = data.encode() if isinstance(data, str) else data
    return binascii.b2a_base64(raw, newline=False).decode()


def unb64(text: str) -> bytes:
    return binascii.a2b_base64(text)


# --- the operations of a transaction, as the gateway spells them ---


def absent(key: str) -> dict[str, Any]:
    """A compare that holds when `key` does not exist (it was never created, or it was deleted)."""
    return {"key": b64(key), "target": "CREATE", "result": "EQUAL", "create_revision": "0"}


def put_op(key: str, value: bytes, lease: int = 0) -> dict[str, Any]:
    put: dict[str, Any] = {"key": b64(key), "value": b64(value)}
    if lease:
        put["lease"] = str(lease)
    return {"request_put": put}


def range_op(key: str, range_end: str | bytes | None = None) -> dict[str, Any]:
    request = {"key": b64(key)}
    if range_end is not None:
        request["range_end"] = b64(range_end)
    return {"request_range": request}


def delete_range_op(key: str, range_end: str | bytes) -> dict[str, Any]:
    return {"request_delete_range": {"key": b64(key), "range_end": b64(range_end)}}


def prefix_end(prefix: str) -> bytes:
    """The range end that covers every key starting with `prefix` (etcd's `--prefix`)."""
    raw = bytearray(prefix.encode())
    while raw and raw[-1] == 0xFF:
        raw.pop()
    if not raw:
        return b"\0"
    raw[-1] += 1
    return bytes(raw)


def range_values(response: Mapping[str, Any]) -> list[tuple[str, bytes]]:
    """The (key, value) pairs of one range answer (in a txn's responses, or a /v3/kv/range answer)."""
    answer = response.get("response_range", response)
    return [
        (unb64(kv["key"]).decode(errors="replace"), unb64(kv.get("value", "")))
        for kv in answer.get("kvs") or []
    ]


class Client:
    """etcd's endpoints (http:// or https:// URLs); TLS and user/password as etcdctl takes them."""

    def __init__(
        self,
        endpoints: list[str],
        timeout: float,
        *,
        cacert: str | None = None,
        cert: str | None = None,
        key: str | None = None,
        user: str | None = None,
        password: str | None = None,
    ) -> None:
        self.endpoints = list(endpoints)
        self.timeout = timeout
        self._tls = (cacert, cert, key)
        self._credentials = (user, password) if user is not None else None
        self._token: str | None = None
        self._connections: dict[str, Any] = {}
        self._answered: str | None = None
        self.last_date: str | None = None

    def copy(self) -> Client:
        """A client of the same cluster with connections of its own (for another thread)."""
        twin = Client(self.endpoints, self.timeout)
        twin._tls, twin._credentials, twin._token = self._tls, self._credentials, self._token
        return twin

    # --- the requests cronsync makes ---

    def txn(
        self, compare: list[dict[str, Any]], success: list[dict[str, Any]], failure: list[dict[str, Any]]
    ) -> tuple[bool, list[dict[str, Any]]]:
        answer = self.call("/v3/kv/txn", {"compare": compare, "success": success, "failure": failure})
        return bool(answer.get("succeeded")), list(answer.get("responses") or [])

    def get(self, key: str) -> bytes | None:
        values = range_values(self.call("/v3/kv/range", {"key": b64(key)}))
        return values[0][1] if values else None

    def range_prefix(self, prefix: str, limit: int = 0) -> list[tuple[str, bytes]]:
        request: dict[str, Any] = {"key": b64(prefix), "range_end": b64(prefix_end(prefix))}
        if limit:  # the newest `limit` keys (keys sort by name: slots and hosts sort as wanted)
            request.update(limit=str(limit), sort_order="DESCEND", sort_target="KEY")
        values = range_values(self.call("/v3/kv/range", request))
        return sorted(values)

    def put(self, key: str, value: bytes, lease: int = 0) -> None:
        self.call("/v3/kv/put", put_op(key, value, lease)["request_put"])

    def create(self, key: str, value: bytes, lease: int = 0) -> bytes | None:
        """Put `value` at `key` unless it exists: None when created, else the value already there."""
        created, responses = self.txn([absent(key)], [put_op(key, value, lease)], [range_op(key)])
        if created:
            return None
        values = range_values(responses[0]) if responses else []
        return values[0][1] if values else b""

    def grant(self, ttl: int) -> int:
        return int(self.call("/v3/lease/grant", {"TTL": str(ttl)})["ID"])

    def keepalive(self, lease: int) -> int:
        """The lease's seconds left after renewing it; 0 when it has expired or was revoked."""
        answer = self.call("/v3/lease/keepalive", {"ID": str(lease)})
        return int((answer.get("result") or answer).get("TTL") or 0)

    def revoke(self, lease: int) -> None:
        try:
            self.call("/v3/lease/revoke", {"ID": str(lease)})
        except EtcdError as exc:
            if "not found" not in str(exc):
                raise

    def status(self) -> dict[str, Any]:
        return self.call("/v3/maintenance/status", {})

    def server_time(self) -> float | None:
        """The etcd server's clock, from the HTTP Date of its last answer (to the second); None if unknown."""
        if self.last_date is None:
            return None
        from email.utils import parsedate_to_datetime

        try:
            return parsedate_to_datetime(self.last_date).timestamp()
        except (TypeError, ValueError):
            return None

    def close(self) -> None:
        for connection in self._connections.values():
            connection.close()
        self._connections.clear()

    # --- HTTP ---

    def call(self, path: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """POST one request to the first endpoint that answers; EtcdError naming every failure."""
        payload = fastjson.dumps(body).encode()
        failures = []
        order = sorted(self.endpoints, key=lambda url: url != self._answered)
        for endpoint in order:
            try:
                status, answer = self._post(endpoint, path, payload)
                if status == 401 and self._credentials is not None:
                    self._token = None
                    status, answer = self._post(endpoint, path, payload)
            except (OSError, ValueError) as exc:
                self._drop(endpoint)
                failures.append(f"{endpoint}: {_reason(exc)}")
                continue
            if status == 200:
                self._answered = endpoint
                return answer
            message = str(answer.get("error") or answer.get("message") or f"HTTP {status}")
            if status >= 500 or status == 429:  # no leader, shutting down, too many requests: try another
                failures.append(f"{endpoint}: {message}")
                continue
            raise EtcdError(f"etcd at {endpoint} refused {path}: {message}")
        raise EtcdError("etcd unreachable (" + "; ".join(failures) + ")")

    def _post(self, endpoint: str, path: str, payload: bytes) -> tuple[int, dict[str, Any]]:
        headers = ""
        if self._credentials is not None and path != "/v3/auth/authenticate":
            headers = f"Authorization: {self._authenticate(endpoint)}\r\n"
        connection = self._connections.get(endpoint)
        if connection is None:
            connection = self._connections[endpoint] = _Connection(endpoint, self.timeout, self._tls)
        status, date, data = connection.post(path, payload, headers)
        self.last_date = date or self.last_date
        answer = fastjson.loads(data) if data.strip() else {}
        if not isinstance(answer, dict):
            raise ValueError(f"not a JSON object from {path}")
        return status, answer

    def _authenticate(self, endpoint: str) -> str:
        if self._token is None:
            assert self._credentials is not None
            name, password = self._credentials
            body = fastjson.dumps({"name": name, "password": password}).encode()
            status, answer = self._post(endpoint, "/v3/auth/authenticate", body)
            if status != 200 or not answer.get("token"):
                message = answer.get("error") or answer.get("message") or f"HTTP {status}"
                raise EtcdError(f"etcd at {endpoint} refused user {name!r}: {message}")
            self._token = str(answer["token"])
        return self._token

    def _drop(self, endpoint: str) -> None:
        connection = self._connections.pop(endpoint, None)
        if connection is not None:
            connection.close()


def _reason(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError) or type(exc).__name__ == "timeout":
        return "timed out"
    return getattr(exc, "strerror", None) or str(exc) or type(exc).__name__


class _Connection:
    """One kept-alive HTTP/1.1 connection to one endpoint."""

    def __init__(self, endpoint: str, timeout: float, tls: tuple[str | None, str | None, str | None]) -> None:
        scheme, _, rest = endpoint.partition("://")
        hostport = rest.split("/", 1)[0]
        host, port = _split_host_port(hostport, 443 if scheme == "https" else 2379)
        self.host, self.port, self.hostport = host, port, hostport
        self.https, self.tls, self.timeout = scheme == "https", tls, timeout
        self.sock: Any = None

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    def post(self, path: str, payload: bytes, headers: str) -> tuple[int, str | None, bytes]:
        request = (
            f"POST {path} HTTP/1.1\r\nHost: {self.hostport}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(payload)}\r\n{headers}\r\n"
        ).encode() + payload
        deadline = time.monotonic() + self.timeout
        reused = self.sock is not None
        try:
            return self._exchange(request, deadline)
        except (OSError, ValueError):
            self.close()
            if not reused:
                raise
        return self._exchange(request, deadline)  # the kept connection had gone stale: once more

    def _exchange(self, request: bytes, deadline: float) -> tuple[int, str | None, bytes]:
        if self.sock is None:
            self.sock = self._connect()
        self.sock.settimeout(max(deadline - time.monotonic(), 0.001))
        self.sock.sendall(request)
        reader = _Reader(self.sock, deadline)
        status, headers = reader.head()
        if headers.get("transfer-encoding", "").lower() == "chunked":
            body = reader.chunked()
        else:
            body = reader.exactly(int(headers.get("content-length", "0")))
        if headers.get("connection", "").lower() == "close":
            self.close()
        return status, headers.get("date"), body

    def _connect(self) -> Any:
        import _socket

        last: OSError | None = None
        host = self.host.encode() if self.host.isascii() else self.host  # str: the idna codec, an import
        for family, kind, proto, _, address in _socket.getaddrinfo(host, self.port, 0, _socket.SOCK_STREAM):
            sock = _socket.socket(family, kind, proto)
            sock.settimeout(self.timeout)
            try:
                sock.connect(address)
            except OSError as exc:
                sock.close()
                last = exc
                continue
            sock.setsockopt(_socket.IPPROTO_TCP, _socket.TCP_NODELAY, 1)
            return self._wrap(sock) if self.https else sock
        raise last or OSError(f"no address for {self.host}")

    def _wrap(self, raw: Any) -> Any:
        import socket
        import ssl

        cacert, cert, key = self.tls
        context = ssl.create_default_context(cafile=cacert)
        if cert is not None:
            context.load_cert_chain(cert, key)
        sock = socket.socket(raw.family, raw.type, raw.proto, fileno=raw.detach())
        sock.settimeout(self.timeout)
        return context.wrap_socket(sock, server_hostname=self.host)


def _split_host_port(hostport: str, default: int) -> tuple[str, int]:
    if hostport.startswith("["):  # [::1]:2379
        host, _, rest = hostport[1:].partition("]")
        return host, int(rest[1:]) if rest.startswith(":") else default
    host, _, port = hostport.partition(":")
    return host, int(port) if port else default


class _Reader:
    """An HTTP answer read from a socket, within a deadline."""

    def __init__(self, sock: Any, deadline: float) -> None:
        self.sock, self.deadline, self.buffer = sock, deadline, b""

    def _more(self) -> None:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("timed out")
        self.sock.settimeout(left)
        data = self.sock.recv(65536)
        if not data:
            raise ValueError("the connection closed before the answer ended")
        self.buffer += data
        if len(self.buffer) > _MAX_ANSWER_BYTES:
            raise ValueError("the answer is too large")

    def line(self) -> bytes:
        while b"\r\n" not in self.buffer:
            self._more()
        line, _, self.buffer = self.buffer.partition(b"\r\n")
        return line

    def head(self) -> tuple[int, dict[str, str]]:
        status_line = self.line().decode("latin-1")
        parts = status_line.split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
            raise ValueError(f"not an HTTP answer: {status_line[:80]!r}")
        headers = {}
        while line := self.line():
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        return int(parts[1]), headers

    def exactly(self, size: int) -> bytes:
        if size > _MAX_ANSWER_BYTES:
            raise ValueError("the answer is too large")
        while len(self.buffer) < size:
            self._more()
        body, self.buffer = self.buffer[:size], self.buffer[size:]
        return body

    def chunked(self) -> bytes:
        body = b""
        while True:
            size = int(self.line().split(b";", 1)[0].strip() or b"0", 16)
            if size == 0:
                while self.line():  # trailers, then the blank line
                    pass
                return body
            body += self.exactly(size)
            self.line()
            if len(body) > _MAX_ANSWER_BYTES:
                raise ValueError("the answer is too large")


def client_from_fleet(fleet: Mapping[str, Any], secret: Callable[[str], str | None]) -> Client:
    """The client settings.json's "fleet" describes; `secret` looks the password up (the environment,
    then secrets.env)."""
    password = None
    if fleet.get("password_env"):
        password = secret(fleet["password_env"])
        if password is None:
            raise EtcdError(
                f"fleet.password_env names {fleet['password_env']!r}, which neither secrets.env nor the "
                "environment defines"
            )
    return Client(
        list(fleet["etcd"]),
        float(fleet.get("timeout") or 2),
        cacert=fleet.get("cacert"),
        cert=fleet.get("cert"),
        key=fleet.get("key"),
        user=fleet.get("user"),
        password=password,
    )
