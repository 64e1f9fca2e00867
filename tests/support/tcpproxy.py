"""A loopback TCP proxy the test can cut: "this host is cut off from etcd" without touching the others.

`TcpProxy(target_port).start()` listens on a free 127.0.0.1 port and forwards each connection to the
target, in threads of the test process. `cut()` closes the listening socket and every forwarded
connection (a client sees its connection reset, then refused), `stall()` keeps accepting but forwards
nothing (a client sees its timeout, as behind a dropped route), `restore()` forwards again on the same
port. `close()` ends it for good.
"""

from __future__ import annotations

import contextlib
import select
import socket
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from tests.support.etcd import free_ports


@dataclass
class TcpProxy:
    target_port: int
    port: int = 0
    mode: str = "closed"  # "forward" | "stall" | "cut" | "closed"
    target_host: str = "127.0.0.1"
    _listener: socket.socket | None = None
    _connections: set[socket.socket] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _threads: list[threading.Thread] = field(default_factory=list)
    accepted: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> TcpProxy:
        if not self.port:
            self.port = free_ports(1)[0]
        self._listen()
        self.mode = "forward"
        return self

    def _listen(self) -> None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        deadline = time.monotonic() + 10
        while True:  # the port of a just-closed listener can take a moment to be free again
            try:
                listener.bind(("127.0.0.1", self.port))
                break
            except OSError:
                if time.monotonic() > deadline:
                    listener.close()
                    raise
                time.sleep(0.05)
        listener.listen(64)
        self._listener = listener
        thread = threading.Thread(target=self._accept_loop, args=(listener,), daemon=True)
        thread.start()
        self._threads.append(thread)

    def _accept_loop(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # closed by cut() or close()
            self.accepted += 1
            if self.mode == "stall":
                self._track(client)
                continue
            try:
                upstream = socket.create_connection((self.target_host, self.target_port), timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            self._track(client, upstream)
            thread = threading.Thread(target=self._pump, args=(client, upstream), daemon=True)
            thread.start()

    def _track(self, *sockets: socket.socket) -> None:
        with self._lock:
            self._connections.update(sockets)

    def _pump(self, client: socket.socket, upstream: socket.socket) -> None:
        pair = {client: upstream, upstream: client}
        try:
            while True:
                readable, _, _ = select.select(list(pair), [], [], 0.5)
                if self.mode != "forward":
                    return
                for sock in readable:
                    data = sock.recv(65536)
                    if not data:
                        return
                    pair[sock].sendall(data)
        except (OSError, ValueError):  # ValueError: a socket another thread closed (cut, close) has fd -1
            return
        finally:
            for sock in pair:
                self._drop(sock)

    def _drop(self, sock: socket.socket) -> None:
        with self._lock:
            self._connections.discard(sock)
        with contextlib.suppress(OSError):
            # RST rather than FIN: what a client sees when the path to its server goes away
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        with contextlib.suppress(OSError):
            sock.close()

    def _drop_all(self) -> None:
        with self._lock:
            connections = list(self._connections)
        for sock in connections:
            self._drop(sock)

    def _close_listener(self) -> None:
        if self._listener is not None:
            with contextlib.suppress(OSError):
                self._listener.shutdown(socket.SHUT_RDWR)
            self._listener.close()
            self._listener = None

    def cut(self) -> None:
        """No more connections: the forwarded ones are reset, new ones refused."""
        self.mode = "cut"
        self._close_listener()
        self._drop_all()

    def stall(self) -> None:
        """Connections are accepted and never answered (the forwarded ones are dropped)."""
        self.mode = "stall"
        self._drop_all()
        if self._listener is None:
            self._listen()

    def restore(self) -> None:
        """Forward again, on the same port."""
        self._drop_all()  # stalled clients
        self.mode = "forward"
        if self._listener is None:
            self._listen()

    def close(self) -> None:
        self.mode = "closed"
        self._close_listener()
        self._drop_all()
        for thread in self._threads:
            thread.join(timeout=2)


def proxies_for(ports: Sequence[int]) -> list[TcpProxy]:
    """One started proxy in front of each port."""
    return [TcpProxy(port).start() for port in ports]
