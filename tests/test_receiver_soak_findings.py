"""What the HJ 212 soak (bench/soak_hj212.py) found, one test each, on a real socket.

Half a packet, then the client hangs up: the receiver dropped the bytes and logged the close as
"peer closed", like any station that says goodbye after its last reply, so a device losing
its line mid-packet left no trace. The receiver's own rule is that every refused packet is
logged with the peer, the reason and its first bytes, and counted."""

import asyncio
import logging
import socket
import threading
from concurrent.futures import Future
from types import SimpleNamespace

import pytest

from alerts import hj212
from alerts.receiver import Limits, Receiver

PASSWORD = "123456"
LIMITS = Limits(idle_timeout=5.0, frame_timeout=5.0, worker_threads=2, write_timeout=1.0)


def packet(qn="20240105140001001"):
    cp = "DataTime=20240105140000;a34004-Avg=35,a34004-Flag=N"
    return hj212.build("22", "2051", PASSWORD, "AQ0001", cp, qn=qn, flag=5)


def authenticate(mn, pw):
    return SimpleNamespace(key=mn, lenient=False) if pw == PASSWORD else None


def store(_key, _message):
    done = Future()
    done.set_running_or_notify_cancel()
    done.set_result(None)
    return done


@pytest.fixture
def receiver():
    """(receiver, port) of a receiver on its own event loop in a thread; stopped at the end."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    served = Receiver(authenticate, store, LIMITS)
    server = asyncio.run_coroutine_threadsafe(served.start("127.0.0.1", 0), loop).result(5)
    yield served, server.sockets[0].getsockname()[1]
    asyncio.run_coroutine_threadsafe(served.close(), loop).result(5)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)
    loop.close()


def send_and_hang_up(port, data):
    """Send `data`, read the replies until the receiver has seen it, then close."""
    with socket.create_connection(("127.0.0.1", port), timeout=3) as sock:
        sock.sendall(data)
        if data.endswith(b"\r\n"):
            assert b"CN=9014" in sock.recv(4096)  # the whole packet was answered first
        return f"127.0.0.1:{sock.getsockname()[1]}"


def closed(receiver, count=1):
    for _ in range(300):
        if sum(receiver.stats.closed.values()) >= count:
            return True
        threading.Event().wait(0.01)
    return False


def test_half_a_packet_then_a_hang_up_is_logged_and_counted(receiver, caplog):
    served, port = receiver
    frame = packet()
    with caplog.at_level(logging.INFO, logger="gridpatrol.hj212"):
        peer = send_and_hang_up(port, frame[: len(frame) // 2])
        assert closed(served)
    refused = [r.getMessage() for r in caplog.records if "refused from" in r.getMessage()]
    assert len(refused) == 1
    assert f"refused from {peer} [truncated]" in refused[0]
    assert f"{len(frame) // 2} bytes" in refused[0]
    assert repr(frame[:20])[2:-1] in refused[0]  # the first bytes, for the operator
    assert served.stats.refused == {"truncated": 1}
    assert served.stats.closed == {"peer closed": 1}


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(packet(), id="a whole packet"),
        pytest.param(b"", id="nothing"),
        pytest.param(packet() + b"#", id="a lone # after a packet"),
    ],
)
def test_a_hang_up_between_packets_refuses_nothing(receiver, caplog, data):
    served, port = receiver
    with caplog.at_level(logging.INFO, logger="gridpatrol.hj212"):
        send_and_hang_up(port, data)
        assert closed(served)
    assert not [r for r in caplog.records if "refused from" in r.getMessage()]
    assert served.stats.refused == {}
