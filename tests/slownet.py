"""A slow network between a browser and a server, for tests: a TCP relay on loopback that passes
bytes on at a phone network's rate and delay (3G: 750 kbit/s up, 1.6 Mbit/s down, 150 ms each
way, as Chromium's "3G" preset). It throttles every connection through it, whoever opens it:
the page, its service worker and their uploads alike, which the browser's own emulation does not.
"""

import socket
import threading
import time
from dataclasses import dataclass


@dataclass(frozen=True)
class Link:
    up_bytes_per_s: float
    down_bytes_per_s: float
    delay_s: float


THREE_G = Link(up_bytes_per_s=750_000 / 8, down_bytes_per_s=1_600_000 / 8, delay_s=0.15)
_CHUNK_S = 0.05  # bytes are passed on in slices of this many seconds' worth


class SlowRelay:
    """Listens on 127.0.0.1:<port> and relays each connection to `target` over `link`."""

    def __init__(self, target: tuple[str, int], link: Link = THREE_G) -> None:
        self.target = target
        self.link = link
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.sent_up = 0  # bytes relayed from the clients to the server
        self._lock = threading.Lock()
        self._closing = False
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _accept(self) -> None:
        while not self._closing:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(self.target, timeout=10)
            except OSError:
                client.close()
                continue
            server.settimeout(None)
            up, down = self.link.up_bytes_per_s, self.link.down_bytes_per_s
            threading.Thread(
                target=self._pump, args=(client, server, up, True), daemon=True
            ).start()
            threading.Thread(
                target=self._pump, args=(server, client, down, False), daemon=True
            ).start()

    def _pump(self, source: socket.socket, sink: socket.socket, rate: float, up: bool) -> None:
        slice_bytes = max(1, int(rate * _CHUNK_S))
        last = 0.0
        try:
            while True:
                data = source.recv(slice_bytes)
                if not data:
                    break
                if time.monotonic() - last > self.link.delay_s:
                    time.sleep(self.link.delay_s)  # the first bytes of a burst: the delay
                sink.sendall(data)
                if up:
                    with self._lock:
                        self.sent_up += len(data)
                time.sleep(len(data) / rate)
                last = time.monotonic()
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                sock.close()

    def close(self) -> None:
        self._closing = True
        self.listener.close()
