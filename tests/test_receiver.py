"""The HJ 212 receiver on real sockets: the server runs its own event loop in a thread, the tests
are plain socket clients. The limits are fractions of a second, so the file runs in seconds."""

import asyncio
import logging
import socket
import threading
import time
from collections import Counter
from concurrent.futures import Future
from dataclasses import replace
from types import SimpleNamespace

import pytest

from alerts import hj212
from alerts.receiver import MISS, Limits, Receiver

PASSWORD = "123456"
FAST = Limits(
    max_connections=50,
    idle_timeout=2.0,
    frame_timeout=1.0,
    max_buffer=4096 + 12,
    max_refused_per_connection=5,
    reassembly_timeout=2.0,
    worker_threads=8,
    write_timeout=1.0,
)


def packet(qn="20240105140001001", mn="AQ0001", pw=PASSWORD, flag=5, value=35, **extra):
    """A minute data packet (CN=2051) as a station sends it."""
    cp = f"DataTime=20240105140000;a34004-Avg={value},a34004-Flag=N"
    return hj212.build("22", "2051", pw, mn, cp, qn=qn, flag=flag, **extra)


class Collector:
    """The store callback: what the database would receive, safe across threads. It returns a
    future at once, as the receiver asks; a `held` station's is completed by a thread of its
    own once the gate opens, every other one before it is returned."""

    def __init__(self, held=(), fail_for=()):
        self.lock = threading.Lock()
        self.items = []
        self.held, self.fail_for = set(held), set(fail_for)
        self.gate = threading.Event()  # what `held` stations store waits until it opens

    def __call__(self, station_key, message):
        done = Future()
        done.set_running_or_notify_cancel()  # taken: the receiver's giving up cannot cancel it
        if station_key in self.held:
            threading.Thread(target=self._store, args=(station_key, message, done)).start()
        else:
            self._store(station_key, message, done)
        return done

    def _store(self, station_key, message, done):
        if station_key in self.held:
            self.gate.wait(timeout=10)
        if station_key in self.fail_for:
            done.set_exception(RuntimeError("database down"))
            return
        with self.lock:
            self.items.append((station_key, message))
        done.set_result(None)

    def qns(self):
        with self.lock:
            return Counter(message.qn for _, message in self.items)


def authenticate(mn, pw):
    """Any MN starting AQ with the right password; MNs starting LN are lenient."""
    if mn.startswith(("AQ", "LN")) and pw == PASSWORD:
        return SimpleNamespace(key=mn, lenient=mn.startswith("LN"))
    return None


def eventually(predicate, timeout=3.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()


@pytest.fixture
def serve():
    """start(limits=..., store=...) -> (receiver, store, port); everything stops at the end."""
    running = []

    def start(limits=FAST, store=None):
        store = store or Collector()
        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=loop.run_forever, daemon=True)
        thread.start()
        receiver = Receiver(authenticate, store, limits)
        running.append((loop, thread, receiver))
        future = asyncio.run_coroutine_threadsafe(receiver.start("127.0.0.1", 0), loop)
        server = future.result(5)
        return receiver, store, server.sockets[0].getsockname()[1]

    yield start
    for loop, thread, receiver in running:
        asyncio.run_coroutine_threadsafe(receiver.close(), loop).result(5)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        loop.close()


class Client:
    """A station: a plain socket that sends bytes and reads reply frames."""

    def __init__(self, port, timeout=3.0):
        self.socket = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buffer = b""

    def send(self, data):
        self.socket.sendall(data)

    def reply(self, timeout=3.0):
        """The next reply frame, parsed; None if the server closed the connection."""
        self.socket.settimeout(timeout)
        while b"\r\n" not in self.buffer:
            chunk = self.socket.recv(4096)
            if not chunk:
                return None
            self.buffer += chunk
        frame, self.buffer = self.buffer.split(b"\r\n", 1)
        return hj212.parse(frame + b"\r\n")

    def silent(self, wait=0.3):
        """True if nothing arrives for `wait` seconds (and the connection stays open)."""
        self.socket.settimeout(wait)
        try:
            self.buffer += self.socket.recv(4096)  # a reply, or b"": closed
            return False
        except TimeoutError:
            return True

    def closed_by_server(self, timeout=3.0):
        self.socket.settimeout(timeout)
        try:
            while data := self.socket.recv(4096):
                self.buffer += data
            return True
        except ConnectionResetError:
            return True
        except TimeoutError:
            return False

    def close(self):
        self.socket.close()


@pytest.fixture
def clients():
    opened = []

    def connect(port):
        client = Client(port)
        opened.append(client)
        return client

    yield connect
    for client in opened:
        client.close()


def test_a_good_packet_is_stored_and_answered(serve, clients):
    receiver, store, port = serve()
    client = clients(port)
    client.send(packet(qn="20240105140001001"))
    reply = client.reply()
    assert (reply.cn, reply.st, reply.qn, reply.mn, reply.flag) == (
        "9014",
        "91",
        "20240105140001001",
        "AQ0001",
        4,
    )
    [(key, message)] = store.items
    assert key == "AQ0001"
    assert [(r.code, r.value) for r in hj212.readings(message)] == [("a34004", 35.0)]
    assert (receiver.stats.frames, receiver.stats.stored, receiver.stats.replied) == (1, 1, 1)


def test_a_packet_without_the_a_bit_is_stored_without_an_answer(serve, clients):
    _, store, port = serve()
    client = clients(port)
    client.send(packet(qn="1", flag=4) + packet(qn="2", flag=5))
    assert client.reply().qn == "2"  # the first reply to come answers the second packet
    assert store.qns() == Counter({"1": 1, "2": 1})


def test_a_wrong_password_is_refused_logged_and_not_answered(serve, clients, caplog):
    caplog.set_level(logging.WARNING, logger="gridpatrol.hj212")
    receiver, store, port = serve()
    client = clients(port)
    client.send(packet(pw="999999"))
    assert client.silent()
    assert store.items == []
    assert receiver.stats.refused["auth"] == 1
    [record] = [r for r in caplog.records if "refused" in r.getMessage()]
    assert "[auth]" in record.getMessage() and "MN=AQ0001" in record.getMessage()
    assert "127.0.0.1:" in record.getMessage()
    assert "##0" in record.getMessage()  # the first bytes of the packet


def test_garbage_then_a_good_packet_on_one_connection(serve, clients, caplog):
    receiver, store, port = serve()
    client = clients(port)
    client.send(b"\x00\xffGET / HTTP/1.1\r\n\r\n")
    client.send(packet())
    assert client.reply().cn == "9014"
    assert len(store.items) == 1
    assert receiver.stats.refused["framing"] == 1
    assert any("garbage before ##" in r.getMessage() for r in caplog.records)


def test_a_packet_split_across_writes_with_pauses(serve, clients):
    _, store, port = serve()
    client = clients(port)
    data = packet()
    for start in range(0, len(data), 17):
        client.send(data[start : start + 17])
        time.sleep(0.03)
    assert client.reply().qn == "20240105140001001"
    assert len(store.items) == 1


def test_interleaved_packets_from_concurrent_connections_are_stored_once(serve, clients):
    _, store, port = serve()
    stations = [clients(port) for _ in range(5)]
    sent = {
        index: b"".join(packet(qn=f"{index}{number:03d}", mn=f"AQ{index}") for number in range(10))
        for index in range(len(stations))
    }
    # Round robin, in pieces that cut through the frames.
    for start in range(0, max(len(data) for data in sent.values()), 50):
        for index, client in enumerate(stations):
            client.send(sent[index][start : start + 50])
    for index, client in enumerate(stations):
        assert [client.reply().qn for _ in range(10)] == [f"{index}{n:03d}" for n in range(10)]
    assert store.qns() == Counter({f"{i}{n:03d}": 1 for i in range(5) for n in range(10)})
    assert {key for key, _ in store.items} == {f"AQ{index}" for index in range(5)}


def test_a_slow_sender_is_cut_while_another_is_served(serve, clients):
    receiver, _, port = serve(Limits(frame_timeout=0.4, idle_timeout=5.0))
    slow = clients(port)
    slow.send(b"##0101QN=")
    started = time.monotonic()
    prompt = clients(port)
    for number in range(3):
        prompt.send(packet(qn=str(number)))
        assert prompt.reply().qn == str(number)
        time.sleep(0.05)
    assert slow.closed_by_server()
    assert time.monotonic() - started > 0.35  # not before its frame timeout
    assert eventually(lambda: receiver.stats.closed["frame_timeout"] == 1)
    assert receiver.stats.refused["frame_timeout"] == 1
    assert prompt.silent(0.05)  # still open


def test_a_silent_connection_is_closed_after_the_idle_timeout(serve, clients):
    receiver, _, port = serve(Limits(idle_timeout=0.3))
    client = clients(port)
    assert client.closed_by_server()
    assert eventually(lambda: receiver.stats.closed["idle"] == 1)


def test_max_connections_is_enforced(serve, clients):
    receiver, store, port = serve(Limits(max_connections=2))
    first, second = clients(port), clients(port)
    for client in (first, second):  # both served, so both counted
        client.send(packet())
        assert client.reply() is not None
    third = clients(port)
    assert third.closed_by_server(1.0)
    assert receiver.stats.rejected_connections == 1
    first.close()
    assert eventually(lambda: receiver.stats.active == 1)
    fourth = clients(port)
    fourth.send(packet(qn="4"))
    assert fourth.reply().qn == "4"


def test_a_slow_store_does_not_block_another_connection(serve, clients):
    store = Collector(held={"AQSLOW"})
    _, _, port = serve(store=store)
    slow, quick = clients(port), clients(port)
    slow.send(packet(qn="1", mn="AQSLOW"))
    time.sleep(0.05)
    quick.send(packet(qn="2"))
    assert quick.reply().qn == "2"  # answered while the slow store is still held
    assert store.qns() == Counter({"2": 1})
    store.gate.set()
    assert slow.reply().qn == "1"  # once its store is done
    assert store.qns() == Counter({"1": 1, "2": 1})


def test_a_failed_store_is_logged_not_answered_and_the_connection_kept(serve, clients, caplog):
    store = Collector(fail_for={"AQBROKEN"})
    receiver, _, port = serve(store=store)
    client = clients(port)
    client.send(packet(qn="1", mn="AQBROKEN") + packet(qn="2"))
    assert client.reply().qn == "2"
    assert receiver.stats.refused["store"] == 1
    assert any("store failed" in r.getMessage() for r in caplog.records)


def test_a_lenient_station_may_send_a_modbus_crc_a_strict_one_may_not(serve, clients):
    receiver, store, port = serve()

    def with_modbus_crc(mn):
        good = packet(mn=mn)
        segment = good[6:-6]
        crc = hj212.crc16_modbus(segment)
        return good[:-6] + b"%02X%02X\r\n" % (crc & 0xFF, crc >> 8)

    client = clients(port)
    client.send(with_modbus_crc("AQ0001"))
    client.send(with_modbus_crc("LN0001"))
    assert client.reply().mn == "LN0001"
    assert [key for key, _ in store.items] == ["LN0001"]
    assert store.items[0][1].tolerated[0].startswith("CRC-16/MODBUS written low byte first")
    assert receiver.stats.refused["crc"] == 1


def test_too_many_bad_packets_close_the_connection(serve, clients):
    receiver, _, port = serve(Limits(max_refused_per_connection=3))
    client = clients(port)
    for _ in range(3):
        client.send(packet().replace(b"CP=&&", b"CP=&"))
    assert client.closed_by_server()
    assert receiver.stats.refused["length"] == 3
    assert eventually(lambda: receiver.stats.closed["refused"] == 1)


def test_a_full_buffer_closes_the_connection(serve, clients):
    receiver, _, port = serve(Limits(max_buffer=1000))
    client = clients(port)
    client.send(b"##9999" + b"x" * 2000)
    assert client.closed_by_server()
    assert receiver.stats.refused["buffer"] == 1


def test_a_split_message_is_stored_once_whole_and_each_part_answered(serve, clients):
    _, store, port = serve()
    client = clients(port)
    for pno in (1, 2):
        client.send(packet(qn="77", value=pno, flag=7, pnum=2, pno=pno))
        assert client.reply().qn == "77"
    assert eventually(lambda: len(store.items) == 1)
    message = store.items[0][1]
    assert [r.value for r in hj212.readings(message)] == [1.0, 2.0]


def test_a_2025_packet_is_refused_clearly(serve, clients, caplog):
    receiver, store, port = serve()
    client = clients(port)
    client.send(packet(flag=9))
    assert client.silent()
    assert receiver.stats.refused["version"] == 1
    assert any("2025" in r.getMessage() for r in caplog.records)


def test_a_2005_style_packet_is_stored_and_not_answered(serve, clients):
    _, store, port = serve()
    client = clients(port)
    client.send(packet(qn=None, flag=None) + packet(qn="2"))
    assert client.reply().qn == "2"
    assert [message.qn for _, message in store.items] == [None, "2"]
    assert "no QN (HJ/T 212-2005 style)" in store.items[0][1].tolerated


def test_a_packet_that_is_not_data_is_counted_not_stored(serve, clients):
    receiver, store, port = serve()
    client = clients(port)
    example = hj212.build("32", "1062", PASSWORD, "AQ0001", "RtdInterval=30", qn="1", flag=5)
    client.send(example + packet(qn="2"))
    assert client.reply().qn == "2"
    assert [message.qn for _, message in store.items] == ["2"]
    assert receiver.stats.ignored == Counter({"1062": 1})


def test_a_failing_authenticate_is_logged_and_does_not_close(serve, clients, caplog):
    receiver, store, port = serve()
    receiver.authenticate = lambda mn, pw: 1 / 0 if mn == "AQDOWN" else authenticate(mn, pw)
    client = clients(port)
    client.send(
        b"".join(packet(qn=str(n), mn="AQDOWN") for n in range(FAST.max_refused_per_connection))
    )
    client.send(packet(qn="99"))
    assert client.reply().qn == "99"
    assert receiver.stats.refused["auth_error"] == FAST.max_refused_per_connection
    assert any("authenticate failed" in r.getMessage() for r in caplog.records)


def test_a_strict_station_is_told_why_its_modbus_crc_is_refused(serve, clients, caplog):
    receiver, _, port = serve()
    good = packet()
    crc = hj212.crc16_modbus(good[6:-6])
    client = clients(port)
    client.send(good[:-6] + b"%02X%02X\r\n" % (crc & 0xFF, crc >> 8))
    assert client.silent()
    [record] = [r for r in caplog.records if "refused" in r.getMessage()]
    assert "CRC mismatch" in record.getMessage()
    assert "MN=AQ0001 is not set lenient" in record.getMessage()


def test_a_station_recalled_from_memory_needs_no_thread_and_a_wrong_password_is_refused(
    serve, clients
):
    """`recall` answers on the event loop; `authenticate` (a thread) only for what it misses."""
    receiver, store, port = serve()
    asked = []

    def counted(mn, pw):
        asked.append(mn)
        return authenticate(mn, pw)

    def recall(mn, pw):
        return MISS if mn == "AQNEW" else authenticate(mn, pw)

    receiver.authenticate, receiver.recall = counted, recall
    client = clients(port)
    client.send(packet(qn="1") + packet(qn="2", pw="654321") + packet(qn="3", mn="AQNEW"))
    assert client.reply().qn == "1"
    assert client.reply().qn == "3"
    assert asked == ["AQNEW"]
    assert receiver.stats.refused["auth"] == 1
    assert store.qns() == Counter({"1": 1, "3": 1})


def test_a_store_that_never_completes_gets_no_reply_and_the_connection_is_kept(
    serve, clients, caplog
):
    store = Collector(held={"AQSLOW"})
    receiver, _, port = serve(limits=replace(FAST, store_timeout=0.3), store=store)
    client = clients(port)
    client.send(packet(qn="1", mn="AQSLOW") + packet(qn="2"))
    assert client.reply().qn == "2"  # after the first one's wait ran out, unanswered
    assert receiver.stats.refused["store"] == 1
    assert any("not stored in 0.3s" in r.getMessage() for r in caplog.records)
    store.gate.set()
