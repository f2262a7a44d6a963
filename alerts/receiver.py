"""The HJ 212 receiver: an asyncio TCP server that takes packets from monitoring stations.

Per connection: cut the stream into frames, parse each (strictly, or leniently for a station set
so), authenticate MN and PW on every packet (a data collector may forward several stations on one
connection), join split packets, hand data packets (DATA_CNS) to `store` and, when the packet's A
bit asks, answer with a data reply (9014) once the store succeeded.

A refused packet gets no answer: 2017 has no negative data reply, and the station will resend it
as its retry count allows. Every refused packet is logged with the peer, the reason and its first
200 bytes, and counted in `stats.refused` by reason code. Garbage, slow senders and full buffers
close a connection, never the server.

What the receiver is handed, so that a packet costs the event loop little and never blocks it:

- `recall(mn, pw)` (optional) answers from memory, without blocking: the station, None for a
  wrong MN or PW, or MISS when it would have to ask the database. It runs on the event loop.
- `authenticate(mn, pw)` may block (a query): it runs on a small thread pool, only when there is
  no `recall` or it said MISS, so that one slow query never holds up another connection.
- `store(key, packet)` must not block: it hands the packet on and returns a
  `concurrent.futures.Future` that completes once the packet is stored (committed, for the app)
  or fails. The connection awaits it (at most `store_timeout`), then replies; no thread waits.
  The receiver cancels the future when it gives up (the timeout, the server closing): a store
  that cannot take the packet back sets it running first (`set_running_or_notify_cancel`).

Standard library only.
"""

import asyncio
import enum
import logging
import signal
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Final, Literal, Protocol, TypeVar

from alerts import hj212
from alerts.hj212 import Packet, PacketError

T = TypeVar("T")
READ_SIZE = 4096


class Station(Protocol):
    """What `authenticate` returns for a known MN with the right PW."""

    @property
    def key(self) -> Any: ...  # handed back to `store`

    @property
    def lenient(self) -> bool: ...  # accept a MODBUS CRC and over-long segments


class Miss(enum.Enum):
    """The one value of `MISS`."""

    MISS = "miss"


MISS: Final = Miss.MISS  # what `recall` says when only `authenticate` can tell

Authenticate = Callable[[str, str], Station | None]  # may block: runs on the thread pool
Recall = Callable[[str, str], Station | None | Literal[Miss.MISS]]  # on the event loop
Store = Callable[[Any, Packet], "Future[None]"]  # on the event loop: must not block


@dataclass(frozen=True)
class Limits:
    """What one connection, and the server, may use."""

    max_connections: int = 1000  # open at once; more are closed as soon as accepted
    idle_timeout: float = 300.0  # seconds without a byte before a connection is closed
    frame_timeout: float = 30.0  # seconds a started frame may take to complete (slow senders)
    max_buffer: int = 4096 + 12  # bytes held without a complete frame (a lenient long segment)
    max_refused_per_connection: int = 20  # refused packets (and garbage runs) before closing
    reassembly_timeout: float = 120.0  # seconds a split message may wait for its missing parts
    worker_threads: int = 16  # threads for `authenticate` (a station `recall` does not know)
    write_timeout: float = 10.0  # seconds a reply may wait for a peer that does not read
    store_timeout: float = 60.0  # seconds a packet may wait to be stored; no reply after


@dataclass
class Stats:
    """Counters since start; read them from any thread."""

    connections: int = 0  # accepted and served
    active: int = 0
    rejected_connections: int = 0  # over max_connections
    frames: int = 0
    stored: int = 0
    replied: int = 0
    ignored: Counter[str] = field(default_factory=Counter)  # accepted non-data packets, by CN
    refused: Counter[str] = field(default_factory=Counter)  # by PacketError code or "auth"...
    closed: Counter[str] = field(default_factory=Counter)  # connections closed, by reason


class _Close(Exception):
    """Ends one connection, with the reason for the log and the stats."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Receiver:
    """The server core: `await start(host, port)` inside a running loop, or `serve_forever`."""

    def __init__(
        self,
        authenticate: Authenticate,
        store: Store,
        limits: Limits | None = None,
        log: logging.Logger | None = None,
        recall: Recall | None = None,
    ) -> None:
        self.authenticate = authenticate
        self.store = store
        self.recall = recall
        self.limits = limits or Limits()
        self.log = log or logging.getLogger("gridpatrol.hj212")
        self.stats = Stats()
        self.reassembler = hj212.Reassembler(timeout=self.limits.reassembly_timeout)
        self._server: asyncio.Server | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._connections: set[asyncio.Task[None]] = set()

    async def start(self, host: str, port: int) -> asyncio.Server:
        """Listen on host:port (port 0: any free port, see the server's sockets)."""
        self._executor = ThreadPoolExecutor(
            max_workers=self.limits.worker_threads, thread_name_prefix="hj212"
        )
        self._server = await asyncio.start_server(self._connection, host, port)
        self.log.info("HJ 212 receiver listening on %s", _addresses(self._server))
        return self._server

    def serve_forever(
        self, host: str, port: int, stop_signals: tuple[int, ...] = (signal.SIGINT, signal.SIGTERM)
    ) -> None:
        """Listen and serve until one of `stop_signals` arrives (for the CLI), then close as
        `close` does and return. The signals are taken on the event loop, between two steps of
        the connections, never inside one: a connection ends as "server closing", not with an
        interrupt raised in the middle of a read or a store."""

        async def serve() -> None:
            loop = asyncio.get_running_loop()
            stop = asyncio.Event()
            for number in stop_signals:
                loop.add_signal_handler(number, stop.set)
            try:
                await self.start(host, port)
                await stop.wait()
                self.log.info("HJ 212 receiver stopping: %d connections open", self.stats.active)
            finally:
                for number in stop_signals:
                    loop.remove_signal_handler(number)
                await self.close()

        asyncio.run(serve())

    async def close(self) -> None:
        """Stop listening, end every connection, release the threads."""
        if self._server is not None:
            self._server.close()
        for task in list(self._connections):
            task.cancel()
        await asyncio.gather(*self._connections, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None

    # --- one connection --------------------------------------------------------------------

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = _peer(writer)
        if self.stats.active >= self.limits.max_connections:
            self.stats.rejected_connections += 1
            self.log.warning("connection from %s refused: %d open", peer, self.stats.active)
            writer.close()
            return
        task = asyncio.current_task()
        if task is not None:  # always: start_server runs each connection in a task
            self._connections.add(task)
        self.stats.connections += 1
        self.stats.active += 1
        reason = "peer closed"
        try:
            await self._serve(peer, reader, writer)
        except _Close as close:
            reason = close.reason
        except (ConnectionError, TimeoutError) as error:
            reason = f"connection error: {error!r}"
        except asyncio.CancelledError:
            # `close` cancelled this connection's task. It ends here, so the cancellation is not
            # passed on: Python 3.11's start_server calls task.exception() on the finished task,
            # which raises for a cancelled one and logs a traceback per open connection.
            reason = "server closing"
        except Exception:  # a bug here must end this connection only, and be seen
            reason = "error"
            self.log.exception("connection from %s failed", peer)
        finally:
            self.stats.active -= 1
            self.stats.closed[reason.split(":")[0]] += 1
            if task is not None:
                self._connections.discard(task)
            self.log.info("connection from %s closed: %s", peer, reason)
            writer.close()

    async def _serve(
        self, peer: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        limits = self.limits
        splitter = hj212.FrameSplitter()
        refused = 0
        frame_started: float | None = None  # when the frame now in the buffer began
        while True:
            wait = limits.idle_timeout
            frame_bound = False  # the wait ends at the frame's deadline, not the idle one
            if frame_started is not None:
                frame_left = frame_started + limits.frame_timeout - time.monotonic()
                frame_bound = frame_left < wait
                wait = min(wait, frame_left)
            try:
                async with asyncio.timeout(max(wait, 0)):
                    data = await reader.read(READ_SIZE)
            except TimeoutError:
                if frame_bound:
                    partial = splitter.pending_bytes()
                    self._refuse(peer, "frame_timeout", "frame not complete in time", partial)
                    raise _Close(f"frame_timeout: {limits.frame_timeout}s") from None
                raise _Close(f"idle: {limits.idle_timeout}s") from None
            if not data:
                if splitter.in_frame:  # hung up mid-packet: the bytes are dropped, say so
                    partial = splitter.pending_bytes()
                    reason = f"connection closed {len(partial)} bytes into a frame"
                    self._refuse(peer, "truncated", reason, partial)
                return
            items = splitter.feed(data)
            for item in items:
                if isinstance(item, PacketError):
                    self._refuse(peer, item.code, item.reason, item.data)
                    refused += 1
                elif not await self._frame(peer, item, writer):
                    refused += 1
                if refused >= limits.max_refused_per_connection:
                    raise _Close(f"refused: {refused} bad packets")
            if splitter.buffered > limits.max_buffer:
                self._refuse(peer, "buffer", f"{splitter.buffered} bytes without a frame", b"")
                raise _Close(f"buffer: over {limits.max_buffer} bytes")
            if not splitter.in_frame:
                frame_started = None
            elif frame_started is None or items:
                frame_started = time.monotonic()

    async def _frame(self, peer: str, frame: bytes, writer: asyncio.StreamWriter) -> bool:
        """Parse, authenticate, store and reply to one frame; False if the station was at fault."""
        self.stats.frames += 1
        try:
            packet, station = await self._accept(peer, frame)
        except PacketError as error:
            self._refuse(peer, error.code, error.reason, frame)
            return error.code == "auth_error"  # the server's trouble, not the station's

        try:
            message = self.reassembler.add(packet)
        except PacketError as error:
            return self._refuse(peer, error.code, error.reason, frame)
        if message is None:  # a part of a split message: acknowledge it, store the whole later
            await self._reply(packet, writer)
            return True
        if message.cn not in hj212.DATA_CNS:
            self.stats.ignored[message.cn] += 1
            self.log.info("packet CN=%s from %s MN=%s not stored", message.cn, peer, message.mn)
            return True
        try:
            stored = self.store(station.key, message)
            async with asyncio.timeout(self.limits.store_timeout):
                await asyncio.wrap_future(stored)
        except PacketError as error:  # its CP's values cannot be read: the station's fault
            return self._refuse(peer, error.code, error.reason, frame)
        except TimeoutError:
            self.stats.refused["store"] += 1
            timeout = self.limits.store_timeout
            self.log.error(
                "store failed for MN=%s QN=%s from %s: not stored in %ss",
                message.mn,
                message.qn,
                peer,
                timeout,
            )
            return True
        except Exception:
            self.stats.refused["store"] += 1
            self.log.exception("store failed for MN=%s QN=%s from %s", message.mn, message.qn, peer)
            return True  # not the station's fault: it does not count towards closing
        self.stats.stored += 1
        await self._reply(packet, writer)
        return True

    async def _accept(self, peer: str, frame: bytes) -> tuple[Packet, Station]:
        """The packet and the station that sent it, or PacketError (code "auth" for a wrong MN or
        PW). Parsed strictly; leniently only when the station it names is set lenient."""
        try:
            packet = hj212.parse(frame)
        except PacketError as strict_error:
            if strict_error.code not in hj212.LENIENT_CODES:
                raise
            # Only a lenient station may send this: find out whose packet it claims to be.
            try:
                packet = hj212.parse(frame, lenient=True)
            except PacketError:
                raise strict_error from None
            station = await self._authenticate(peer, packet)
            if station is None:
                raise strict_error from None
            if not station.lenient:
                reason = f"{strict_error.reason} (MN={packet.mn} is not set lenient)"
                raise PacketError(reason, strict_error.code) from None
            self.log.info("lenient packet from %s MN=%s: %s", peer, packet.mn, packet.tolerated)
            return packet, station
        station = await self._authenticate(peer, packet)
        if station is None:
            raise PacketError(f"unknown MN or wrong PW (MN={packet.mn})", "auth")
        return packet, station

    async def _authenticate(self, peer: str, packet: Packet) -> Station | None:
        """The station that sent `packet`, None for a wrong MN or PW; PacketError (code
        "auth_error") when authenticate itself failed (a database down, say). From `recall`
        when it knows the station (no thread), else from `authenticate` on the thread pool."""
        try:
            if self.recall is not None:
                known = self.recall(packet.mn, packet.pw)
                if known is not MISS:
                    return known
            return await self._run(self.authenticate, packet.mn, packet.pw)
        except Exception:
            self.log.exception("authenticate failed for MN=%s from %s", packet.mn, peer)
            raise PacketError("authentication failed on the server", "auth_error") from None

    async def _reply(self, packet: Packet, writer: asyncio.StreamWriter) -> None:
        if not packet.needs_reply:
            return
        self.stats.replied += 1
        writer.write(hj212.data_reply(packet))
        try:
            async with asyncio.timeout(self.limits.write_timeout):
                await writer.drain()
        except TimeoutError:
            raise _Close("write: peer does not read its replies") from None

    def _refuse(self, peer: str, code: str, reason: str, data: bytes) -> bool:
        self.stats.refused[code] += 1
        self.log.warning("refused from %s [%s]: %s; first bytes %r", peer, code, reason, data[:200])
        return False

    async def _run(self, function: Callable[..., T], *arguments: Any) -> T:
        """A blocking call on the thread pool."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, function, *arguments)


def _peer(writer: asyncio.StreamWriter) -> str:
    address = writer.get_extra_info("peername")
    if isinstance(address, tuple) and len(address) >= 2:
        return f"{address[0]}:{address[1]}"
    return str(address)


def _addresses(server: asyncio.Server) -> str:
    return ", ".join(str(sock.getsockname()) for sock in server.sockets)
