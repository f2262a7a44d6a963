"""The HJ 212 receiver under 1,000 concurrent connections, slow senders and garbage (issue 14):
`python -m bench hj212-soak`.

The real receiver process (`flask alerts hj212-serve`) on a migrated SpatiaLite file with its own
stations; one asyncio client process opens 1,000 connections at once, of the kinds in MIX, and
keeps them coming for GRIDPATROL_HJ212_SOAK_SECONDS (default 600). Well-behaved stations send
minute packets at a steady rate and wait for each reply; slow senders dribble a packet a byte a
second; idle connections never send; garbage is random bytes, oversized frames, bad CRCs, wrong
passwords and half frames followed by a close. A connection the receiver closes is opened again,
so the load stays at about 1,000 connections to the end. The receiver's RSS and open files are
read from /proc every second.

Then the checks: the receiver is alive and answers a good packet; its memory is flat (the median
RSS of the last minute against that of the first minute after the ramp-up, within
RSS_RISE_LIMIT); every packet acknowledged was stored once (its six rows, counted in `reading`),
and nothing else was; every garbage connection was closed with a reason in the receiver's log (a
refused packet or a closing reason of its own).

The results (Markdown, a section for docs/reliability.md) are printed, and written to the file
named by GRIDPATROL_HJ212_SOAK_REPORT when it is set. Exit status 1 when a check fails.

The load generator (`Load`, `attribute`) needs no database: tests/test_receiver_load.py runs it
for a few seconds against a receiver in the test's process.
"""

import asyncio
import contextlib
import os
import random
import re
import resource
import statistics
import subprocess
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from bench.common import PYTHON, ROOT, Context, fmt_int, free_port, machine_markdown, table

SECONDS = 600.0  # default run; GRIDPATROL_HJ212_SOAK_SECONDS overrides
# Connections open at once, by kind (1,000 in all). Garbage is spread over its five forms.
MIX = {
    "good": 400,
    "slow": 150,
    "idle": 150,
    "random": 100,
    "oversized": 50,
    "bad_crc": 50,
    "wrong_pw": 50,
    "half": 50,
}
GARBAGE = ("random", "oversized", "bad_crc", "wrong_pw", "half")
# The receiver's limits for the run. The defaults (idle 300 s, frame 30 s) would close no idle
# connection and few slow ones within three minutes; shorter ones make every kind turn over many
# times, which is what a leak needs to show. The good stations send every GOOD_EVERY seconds,
# well inside the idle timeout, as a station sending every minute is inside the default one.
IDLE_TIMEOUT = 20.0
FRAME_TIMEOUT = 5.0
GOOD_EVERY = 3.0  # seconds between one station's minute packets (one per minute in the field)
DRIBBLE_EVERY = 1.0  # seconds between a slow sender's bytes: a 200-byte packet in 200 s
REPLY_TIMEOUT = 30.0  # seconds a good station waits for its reply
# Room over the bench's 1,000 for a garbage client's next connection while the receiver is
# still closing its previous one: none is refused for being over the limit.
MAX_CONNECTIONS = sum(MIX.values()) + 100
RAMP_UP = 15.0  # seconds after the start before memory is compared
WINDOW = 60.0  # seconds of each window compared
# Flat memory: the last minute's median RSS at most 10% over the first minute's after the
# ramp-up. The receiver holds about 50-100 MB; CPython's allocator keeps freed arenas and the
# kernel counts pages lazily, so a few MB move either way from one minute to the next. A leak
# of what each connection costs (a buffer, a task, a log record: a few KB) over the tens of
# thousands of connections a run turns over is tens of MB, well over 10%.
RSS_RISE_LIMIT = 0.10
PASSWORD = "soak-pw"  # noqa: S105 - the bench's own stations
POLLUTANT_CODES = ("a34004", "a34002", "a21026", "a21004", "a21005", "a05024")  # the six stored
CLOSED = re.compile(r"connection from (\S+) closed: (.*)$")
REFUSED = re.compile(r"refused from (\S+) \[(\w+)\]")
OVER_LIMIT = re.compile(r"connection from (\S+) refused: \d+ open")


# --- packets -----------------------------------------------------------------------------------


def minute_packet(mn: str, minute: datetime, zone: ZoneInfo, pw: str = PASSWORD) -> bytes:
    """A minute packet (CN 2051, Flag 5: 2017 edition, reply asked) of the six pollutants for
    `minute` (naive UTC), DataTime in the station's local time as a station sends it."""
    from alerts import hj212

    local = minute.replace(tzinfo=UTC).astimezone(zone)
    stamp = local.strftime("%Y%m%d%H%M%S")
    cp = [{"DataTime": stamp}]
    cp += [
        {f"{code}-Avg": f"{random.uniform(5, 80):.1f}", f"{code}-Flag": "N"}
        for code in POLLUTANT_CODES
    ]
    return hj212.build("22", "2051", pw, mn, cp, qn=stamp + "000", flag=5)


def station_packets(mn: str, key: object, start: datetime, zone: ZoneInfo) -> Iterator[tuple]:
    """((key, minute), frame) for minutes going back from `start`, each used once."""
    minute = start
    while True:
        yield (key, minute), minute_packet(mn, minute, zone)
        minute -= timedelta(minutes=1)


def bad_crc(frame: bytes) -> bytes:
    """The frame with its CRC changed (and still 4 hex digits)."""
    crc = int(frame[-6:-2], 16)
    return frame[:-6] + b"%04X" % (crc ^ 0x5A5A) + frame[-2:]


def oversized_frame(mn: str) -> bytes:
    """A whole frame, CRC right, of a data segment over the 1024 bytes the standard allows."""
    from alerts import hj212

    segment = f"QN=20240101000000000;ST=22;CN=2051;PW=x;MN={mn};Flag=5;CP=&&{'a' * 1500}&&"
    data = segment.encode()
    return b"##%04d%s%04X\r\n" % (len(data), data, hj212.crc16(data))


# --- the load ----------------------------------------------------------------------------------


@dataclass
class Timing:
    """The client's pace, matched to the receiver's limits."""

    idle_timeout: float = IDLE_TIMEOUT
    frame_timeout: float = FRAME_TIMEOUT
    good_every: float = GOOD_EVERY
    dribble_every: float = DRIBBLE_EVERY
    reply_timeout: float = REPLY_TIMEOUT
    garbage_every: float = 0.5  # seconds between a bad-CRC or wrong-password client's packets
    pause: tuple[float, float] = (0.2, 1.0)  # before a garbage client connects again


@dataclass
class Conn:
    """One connection the client opened."""

    kind: str
    port: int  # the client's port: the receiver logs the peer as 127.0.0.1:<port>
    opened: float
    sent: int = 0  # packets, bytes dribbled or garbage pieces
    replies: int = 0
    closed_by: str = ""  # "receiver", "client" (a half frame's close), "end" (the run's end)
    # From the receiver's log (`attribute`): why it closed the connection, and what it refused.
    reason: str | None = None
    refused: Counter[str] = field(default_factory=Counter)


class Load:
    """Connections of the kinds in `mix` against 127.0.0.1:`port`, each kind's slots opening a
    new connection whenever the receiver closes theirs, until `stop()`.

    `good_packets(slot)` yields (key, frame) for a good station; a key goes to `acked` when its
    reply (CN 9014, QN echoed) arrives. `mns` are known stations' MNs (bad CRC, wrong password).
    """

    def __init__(
        self,
        port: int,
        mix: dict[str, int],
        good_packets: Callable[[int], Iterator[tuple[object, bytes]]],
        mns: list[str],
        zone: ZoneInfo,
        timing: Timing | None = None,
        seed: int = 212,
    ) -> None:
        self.port = port
        self.mix = mix
        self.good_packets = good_packets
        self.mns = mns
        self.zone = zone
        self.timing = timing or Timing()
        self.random = random.Random(seed)
        self.conns: list[Conn] = []
        self.acked: list[object] = []
        self.unanswered = 0  # good packets without a reply in time
        self.good_lost = 0  # good stations' connections the receiver closed
        self.connect_errors: Counter[str] = Counter()
        self.open = 0
        self._stopping = asyncio.Event()

    def stop(self) -> None:
        self._stopping.set()

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    async def run(self) -> None:
        """Every slot at once (1,000 connections opened together), until stop()."""
        workers = {
            "good": self._good,
            "slow": self._slow,
            "idle": self._idle,
            "random": self._random,
            "oversized": self._oversized,
            "bad_crc": self._bad_crc,
            "wrong_pw": self._wrong_pw,
            "half": self._half,
        }
        slots = [workers[kind](slot) for kind, count in self.mix.items() for slot in range(count)]
        await asyncio.gather(*slots)

    # --- one connection ---

    @contextlib.asynccontextmanager
    async def _connect(self, kind: str):
        """A connection and its record; closed at the end (by the client, unless the receiver
        closed it first)."""
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        except OSError as error:
            self.connect_errors[type(error).__name__] += 1
            await asyncio.sleep(1)
            yield None
            return
        conn = Conn(kind, writer.get_extra_info("sockname")[1], time.monotonic())
        self.conns.append(conn)
        self.open += 1
        try:
            yield conn, reader, writer
        except ConnectionError:
            conn.closed_by = conn.closed_by or "receiver"
        finally:
            self.open -= 1
            if not conn.closed_by:
                conn.closed_by = "end" if self.stopping else "client"
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    async def _closed_within(self, reader: asyncio.StreamReader, seconds: float) -> bool:
        """True if the receiver closed the connection within `seconds` (what it sent is
        dropped); False at the timeout or when the run stops."""
        deadline = time.monotonic() + seconds
        while not self.stopping:
            left = min(deadline - time.monotonic(), 0.5)
            if left <= 0:
                return False
            try:
                async with asyncio.timeout(left):
                    if not await reader.read(4096):
                        return True
            except TimeoutError:
                continue
            except ConnectionError:
                return True
        return False

    async def _until_closed(self, conn: Conn, reader: asyncio.StreamReader) -> None:
        if await self._closed_within(reader, float("inf")):
            conn.closed_by = "receiver"

    async def _pause(self) -> None:
        await asyncio.sleep(self.random.uniform(*self.timing.pause))

    async def answered(self, frame: bytes) -> bool:
        """Whether the receiver answers a good `frame` on a new connection (CN 9014, QN
        echoed)."""
        async with self._connect("check") as opened:
            if opened is None:
                return False
            conn, reader, writer = opened
            writer.write(frame)
            try:
                async with asyncio.timeout(10):
                    reply = await reader.readuntil(b"\r\n")
            except (TimeoutError, asyncio.IncompleteReadError, ConnectionError):
                return False
            conn.replies += 1
            return b"CN=9014" in reply and frame[6:26] in reply

    # --- the kinds ---

    async def _good(self, slot: int) -> None:
        """A station: a minute packet every `good_every` seconds, each awaiting its reply."""
        packets = self.good_packets(slot)
        first = True
        while not self.stopping:
            async with self._connect("good") as opened:
                if opened is None:
                    continue
                conn, reader, writer = opened
                if first:  # connected with the others, sending spread over a period
                    await self._sleep(self.random.uniform(0, self.timing.good_every))
                    first = False
                while not self.stopping:
                    key, frame = next(packets)
                    writer.write(frame)
                    conn.sent += 1
                    try:
                        async with asyncio.timeout(self.timing.reply_timeout):
                            reply = await reader.readuntil(b"\r\n")
                    except (TimeoutError, asyncio.IncompleteReadError, ConnectionError):
                        self.unanswered += 1
                        self.good_lost += 1
                        conn.closed_by = "receiver"
                        break
                    if b"CN=9014" in reply and frame[6:26] in reply:  # QN=<echoed>
                        conn.replies += 1
                        self.acked.append(key)
                    else:
                        self.unanswered += 1
                    await self._sleep(self.timing.good_every)

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._stopping.wait()

    async def _slow(self, slot: int) -> None:
        """A packet a byte every `dribble_every` seconds, far slower than the frame timeout."""
        mn = f"SLOW{slot:04d}"  # no such station: had it arrived whole, nothing is stored
        frame = minute_packet(mn, datetime(2024, 1, 1), self.zone)
        while not self.stopping:
            async with self._connect("slow") as opened:
                if opened is None:
                    continue
                conn, reader, writer = opened
                for byte in frame:
                    writer.write(bytes([byte]))
                    conn.sent += 1
                    if await self._closed_within(reader, self.timing.dribble_every):
                        conn.closed_by = "receiver"
                        break
                    if self.stopping:
                        break

    async def _idle(self, slot: int) -> None:
        """Connects and never sends."""
        while not self.stopping:
            async with self._connect("idle") as opened:
                if opened is not None:
                    await self._until_closed(opened[0], opened[1])

    async def _random(self, slot: int) -> None:
        """Bursts of random bytes, then silence until the receiver closes."""
        while not self.stopping:
            async with self._connect("random") as opened:
                if opened is None:
                    continue
                conn, reader, writer = opened
                for _ in range(4):
                    writer.write(self.random.randbytes(self.random.randint(64, 1024)))
                    conn.sent += 1
                    if await self._closed_within(reader, 0.5):
                        conn.closed_by = "receiver"
                        break
                else:
                    await self._until_closed(conn, reader)
            await self._pause()

    async def _oversized(self, slot: int) -> None:
        """A whole frame over 1024 bytes, then a frame whose header says 9999 bytes, sent in
        pieces until the receiver's buffer limit ends it."""
        while not self.stopping:
            async with self._connect("oversized") as opened:
                if opened is None:
                    continue
                conn, reader, writer = opened
                writer.write(oversized_frame(f"BIG{slot:04d}"))
                writer.write(b"##9999QN=")
                conn.sent += 2
                while not self.stopping:  # full within the frame timeout
                    writer.write(b"A" * 1024)
                    conn.sent += 1
                    if await self._closed_within(reader, self.timing.frame_timeout / 10):
                        conn.closed_by = "receiver"
                        break
            await self._pause()

    async def _refused_packets(self, kind: str, frames: Callable[[], bytes]) -> None:
        while not self.stopping:
            async with self._connect(kind) as opened:
                if opened is None:
                    continue
                conn, reader, writer = opened
                while not self.stopping:
                    writer.write(frames())
                    conn.sent += 1
                    if await self._closed_within(reader, self.timing.garbage_every):
                        conn.closed_by = "receiver"
                        break
            await self._pause()

    def _stray_minute(self) -> datetime:
        """A minute no good station sends (a month back): were a refused packet stored, its
        rows would show in the count."""
        now = datetime.now(UTC).replace(tzinfo=None, second=0, microsecond=0)
        return now - timedelta(days=30, minutes=self.random.randint(0, 10_000))

    async def _bad_crc(self, slot: int) -> None:
        """A known station's packets with a wrong CRC."""
        mn = self.mns[slot % len(self.mns)]
        await self._refused_packets(
            "bad_crc", lambda: bad_crc(minute_packet(mn, self._stray_minute(), self.zone))
        )

    async def _wrong_pw(self, slot: int) -> None:
        """A known station's MN with a wrong password (every fifth client: an unknown MN)."""
        mn = self.mns[slot % len(self.mns)] if slot % 5 else f"STRAY{slot:04d}"
        await self._refused_packets(
            "wrong_pw", lambda: minute_packet(mn, self._stray_minute(), self.zone, pw="wrong")
        )

    async def _half(self, slot: int) -> None:
        """The first half of a good packet, then the client closes (before the frame
        timeout)."""
        while not self.stopping:
            async with self._connect("half") as opened:
                if opened is None:
                    continue
                conn, reader, writer = opened
                frame = minute_packet(
                    self.mns[slot % len(self.mns)], self._stray_minute(), self.zone
                )
                writer.write(frame[: len(frame) // 2])
                conn.sent += 1
                hang_up = self.random.uniform(0.1, 0.4) * self.timing.frame_timeout
                if await self._closed_within(reader, hang_up):
                    conn.closed_by = "receiver"
            await self._pause()


# --- the receiver's log, connection by connection ---------------------------------------------


def attribute(lines: Iterable[str], conns: list[Conn]) -> int:
    """Fill each connection's `reason` and `refused` from the receiver's log lines (or log
    messages), matching the peer's port and, a port being used again, the order of connections;
    the number of closed connections in the log that match none of `conns`."""
    records: dict[str, list[tuple[str, Counter[str]]]] = defaultdict(list)
    current: dict[str, Counter[str]] = defaultdict(Counter)
    for line in lines:
        if match := REFUSED.search(line):
            current[match[1]][match[2]] += 1
        elif match := CLOSED.search(line):
            records[match[1]].append((match[2], current.pop(match[1], Counter())))
        elif match := OVER_LIMIT.search(line):
            records[match[1]].append(("over max_connections", current.pop(match[1], Counter())))
    by_peer: dict[str, list[Conn]] = defaultdict(list)
    for conn in sorted(conns, key=lambda c: c.opened):
        by_peer[f"127.0.0.1:{conn.port}"].append(conn)
    unmatched = 0
    for peer, logged in records.items():
        mine = by_peer.get(peer, [])
        unmatched += max(len(logged) - len(mine), 0)
        for conn, (reason, refused) in zip(mine, logged, strict=False):
            conn.reason, conn.refused = reason, refused
    return unmatched


def closed_with_reason(conn: Conn) -> bool:
    """A garbage connection the receiver accounted for: it refused what it sent, or closed it
    for a reason of its own (a timeout, a full buffer)."""
    if conn.reason is None:
        return False
    return bool(conn.refused) or not conn.reason.startswith("peer closed")


# --- the receiver process ---------------------------------------------------------------------


@dataclass
class Sample:
    at: float  # seconds since the load started
    rss_kb: int
    fds: int
    client_open: int


def _rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _fds(pid: int) -> int:
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return 0


def _raise_open_files(needed: int) -> str:
    """The soft limit on open files raised to `needed` if it is lower (the receiver, started
    from here, inherits it); what was done, for the report."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= needed:
        return f"{soft} (enough)"
    if hard != resource.RLIM_INFINITY and hard < needed:
        raise SystemExit(
            f"hj212-soak needs {needed} open files; the hard limit is {hard} (raise it: ulimit -Hn)"
        )
    resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))
    return f"raised from {soft} to {needed}"


def _prepare(ctx: Context) -> tuple[str, list[tuple[int, str]], ZoneInfo]:
    """A migrated SpatiaLite file with the good stations (id, MN), and the stations' zone."""
    url = f"sqlite:///{ctx.tmp / 'soak.db'}"
    done = subprocess.run(
        [PYTHON, "-m", "flask", "db", "upgrade"],
        cwd=ROOT,
        env=ctx.env(url),
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise RuntimeError(f"flask db upgrade failed:\n{done.stdout}\n{done.stderr}")
    app = ctx.app(url)
    from alerts.models import StationKind
    from alerts.services import add_station
    from extensions import db

    made = []
    with app.app_context():
        for n in range(1, MIX["good"] + 1):
            new = add_station(
                code=f"SOAK{n:04d}",
                name=f"soak station {n}",
                kind=StationKind.MICRO,
                lon=121.4 + n / 10_000,
                lat=31.2,
                mn=f"SOAK{n:04d}",
                password=PASSWORD,
            )
            made.append((new.station.id, new.station.mn))
        db.session.commit()
        db.session.remove()
    return url, made, ZoneInfo(app.config["TIMEZONE"])


@contextlib.contextmanager
def receiver_process(env: dict[str, str], log_path: Path) -> Iterator[tuple[int, subprocess.Popen]]:
    port = free_port()
    command = [PYTHON, "-m", "flask", "alerts", "hj212-serve", "--host", "127.0.0.1"]
    command += ["--port", str(port), "--max-connections", str(MAX_CONNECTIONS)]
    command += ["--idle-timeout", str(IDLE_TIMEOUT), "--frame-timeout", str(FRAME_TIMEOUT)]
    with log_path.open("w") as log:
        proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 60
        while "listening on" not in log_path.read_text():
            if proc.poll() is not None:
                raise RuntimeError(
                    f"hj212-serve exited ({proc.returncode}):\n{log_path.read_text()}"
                )
            if time.monotonic() > deadline:
                raise RuntimeError("hj212-serve did not listen in 60 s")
            time.sleep(0.2)
        yield port, proc
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


async def _soak(port: int, pid: int, load: Load, seconds: float) -> list[Sample]:
    """The load for `seconds`, the receiver sampled every second; then the load stopped."""
    samples: list[Sample] = []
    t0 = time.monotonic()
    running = asyncio.ensure_future(load.run())
    while time.monotonic() - t0 < seconds and not running.done():
        await asyncio.sleep(1.0 - (time.monotonic() - t0) % 1.0)
        samples.append(Sample(time.monotonic() - t0, _rss_kb(pid), _fds(pid), load.open))
    load.stop()
    await running
    return samples


def _stored(url_app, station_ids: list[int]) -> Counter:
    """(station id, minute) -> rows stored by the receiver for the soak's stations."""
    import sqlalchemy as sa

    from alerts.models import Reading
    from extensions import db

    with url_app.app_context():
        rows = db.session.execute(
            sa.select(Reading.station_id, Reading.measured_at, sa.func.count())
            .where(Reading.station_id.in_(station_ids), Reading.source == "hj212")
            .group_by(Reading.station_id, Reading.measured_at)
        ).all()
        db.session.remove()
    return Counter({(row[0], row[1]): row[2] for row in rows})


# --- the run and its report -------------------------------------------------------------------


def main(argv: list[str]) -> int:
    if argv:
        print("usage: python -m bench hj212-soak (GRIDPATROL_HJ212_SOAK_SECONDS sets the length)")
        return 2
    seconds = float(os.environ.get("GRIDPATROL_HJ212_SOAK_SECONDS") or SECONDS)
    if seconds < RAMP_UP + 2 * WINDOW:
        print(
            f"bench: hj212-soak: {seconds:.0f} s is too short to compare two minutes of memory",
            file=sys.stderr,
        )
    ctx = Context.from_environment()
    try:
        text, ok = soak(ctx, seconds)
    finally:
        ctx.close()
    print(text)
    report = os.environ.get("GRIDPATROL_HJ212_SOAK_REPORT")
    if report:
        Path(report).write_text(text + "\n", encoding="utf-8")
        print(f"bench: hj212-soak: wrote {report}", file=sys.stderr)
    return 0 if ok else 1


def soak(ctx: Context, seconds: float) -> tuple[str, bool]:
    """Run it; the report and whether every check passed."""
    started = datetime.now().astimezone()
    from bench.common import load_average

    load_before = load_average()
    files = _raise_open_files(MAX_CONNECTIONS + 500)
    print("bench: hj212-soak: preparing the database", file=sys.stderr)
    url, stations, zone = _prepare(ctx)
    app = ctx.app(url)
    start = datetime.now(UTC).replace(tzinfo=None, second=0, microsecond=0) - timedelta(days=1)
    mns = [mn for _id, mn in stations]
    log_path = ctx.tmp / "receiver.log"
    env = ctx.env(url, GRIDPATROL_TASKS_FILE=str(ctx.tmp / "tasks.db"))

    def good_packets(slot: int) -> Iterator[tuple[object, bytes]]:
        station_id, mn = stations[slot]
        return station_packets(mn, station_id, start, zone)

    with receiver_process(env, log_path) as (port, proc):
        print(
            f"bench: hj212-soak: {sum(MIX.values())} connections for {seconds:.0f} s",
            file=sys.stderr,
        )
        load = Load(port, MIX, good_packets, mns, zone)
        samples = asyncio.run(_soak(port, proc.pid, load, seconds))
        time.sleep(1)  # the receiver logs the last closes
        alive = proc.poll() is None
        last_id, last_mn = stations[0]
        final = minute_packet(last_mn, start + timedelta(minutes=1), zone)
        answered = alive and asyncio.run(load.answered(final))
        if answered:
            load.acked.append((last_id, start + timedelta(minutes=1)))
        proc.terminate()
        exit_code = proc.wait(timeout=60)
    log_text = log_path.read_text(encoding="utf-8", errors="replace")
    kept = ROOT / ".bench" / "hj212-soak-receiver.log"
    kept.parent.mkdir(exist_ok=True)
    kept.write_text(log_text, encoding="utf-8")
    print(f"bench: hj212-soak: the receiver's log is in {kept.relative_to(ROOT)}", file=sys.stderr)
    stored = _stored(app, [station_id for station_id, _mn in stations])
    result = Result(load, samples, stored, log_text, alive, answered, exit_code)
    finished = datetime.now().astimezone()
    return result.report(started, finished, load_before, seconds, files), result.ok


@dataclass
class Result:
    load: Load
    samples: list[Sample]
    stored: Counter
    log_text: str
    alive: bool
    answered: bool
    exit_code: int
    checks: list[tuple[str, str, bool]] = field(default_factory=list)

    def __post_init__(self) -> None:
        lines = self.log_text.splitlines()
        self.unmatched = attribute(lines, self.load.conns)
        self.tracebacks = self.log_text.count("Traceback")
        self.first_traceback = _first_traceback(lines)
        self.stopped = next((line for line in lines if "HJ 212 receiver stopped" in line), "")
        self._check()

    @property
    def ok(self) -> bool:
        return all(ok for _name, _figure, ok in self.checks)

    def memory(self) -> tuple[float, float, float, float]:
        """Median RSS (MB) of the first minute after the ramp-up and of the last minute, the
        rise, and the peak."""
        end = self.samples[-1].at if self.samples else 0
        first = [s.rss_kb for s in self.samples if RAMP_UP <= s.at < RAMP_UP + WINDOW]
        last = [s.rss_kb for s in self.samples if s.at >= end - WINDOW]
        a = statistics.median(first or [0]) / 1024
        b = statistics.median(last or [0]) / 1024
        peak = max((s.rss_kb for s in self.samples), default=0) / 1024
        return a, b, (b - a) / a if a else float("inf"), peak

    def slope(self) -> float:
        """RSS trend after the ramp-up, MB a minute (least squares): what a longer run would
        add, which the two windows alone do not show."""
        points = [(s.at / 60, s.rss_kb / 1024) for s in self.samples if s.at >= RAMP_UP]
        if len(points) < 2:
            return 0.0
        return statistics.linear_regression(*zip(*points, strict=True)).slope

    def _check(self) -> None:
        load, add = self.load, self.checks.append
        add(("the receiver is alive at the end", "yes" if self.alive else "NO", self.alive))
        add(
            (
                "it answers a good packet after the run",
                "yes" if self.answered else "NO",
                self.answered,
            )
        )
        clean = self.exit_code == 0 and self.tracebacks == 0
        add(
            (
                "it stops on SIGTERM with status 0, no traceback in its log",
                f"status {self.exit_code}, {self.tracebacks} tracebacks",
                clean,
            )
        )
        first, last, rise, _peak = self.memory()
        add(
            (
                "memory flat: last minute's median RSS vs the first minute's after ramp-up",
                f"{first:.1f} → {last:.1f} MB ({rise:+.1%}; limit +{RSS_RISE_LIMIT:.0%})",
                rise <= RSS_RISE_LIMIT,
            )
        )
        acked = Counter(load.acked)
        twice = sum(1 for n in acked.values() if n > 1)
        missing = sum(1 for key in acked if self.stored.get(key, 0) != len(POLLUTANT_CODES))
        extra = sum(1 for key in self.stored if key not in acked)
        add(
            (
                "every packet acknowledged stored once (6 rows), nothing else stored",
                f"{fmt_int(len(acked))} acknowledged, {fmt_int(sum(self.stored.values()))} rows; "
                f"{missing} missing or partial, {extra} stored unacknowledged, {twice} acked twice",
                missing == 0 and extra == 0 and twice == 0 and len(acked) > 0,
            )
        )
        add(
            (
                "no good packet unanswered, no good connection closed by the receiver",
                f"{load.unanswered} unanswered, {load.good_lost} closed",
                load.unanswered == 0 and load.good_lost == 0,
            )
        )
        garbage = [c for c in load.conns if c.kind in GARBAGE and c.closed_by != "end"]
        silent = [c for c in garbage if not closed_with_reason(c)]
        add(
            (
                "every garbage connection closed with a reason in the log",
                f"{fmt_int(len(garbage) - len(silent))} of {fmt_int(len(garbage))}",
                not silent,
            )
        )
        unlogged = [c for c in load.conns if c.reason is None]
        add(
            (
                "every connection's close is in the log",
                f"{len(unlogged)} not found, {self.unmatched} log lines unmatched",
                not unlogged and not self.unmatched,
            )
        )
        over = sum(1 for c in load.conns if c.reason == "over max_connections")
        add(
            (
                "no connection refused for max_connections, no connect error",
                f"{over} refused, {sum(load.connect_errors.values())} connect errors",
                over == 0 and not load.connect_errors,
            )
        )

    def kinds_table(self) -> str:
        rows = []
        for kind in MIX:
            conns = [c for c in self.load.conns if c.kind == kind]
            reasons = Counter(_short(c.reason) for c in conns if c.closed_by != "end")
            refused = sum((c.refused for c in conns), Counter())
            ended = sum(1 for c in conns if c.closed_by == "end")
            rows.append(
                (
                    kind,
                    MIX[kind],
                    fmt_int(len(conns)),
                    fmt_int(sum(c.sent for c in conns)),
                    fmt_int(sum(c.replies for c in conns)),
                    _counts(reasons) or "—",
                    _counts(refused) or "—",
                    fmt_int(ended),
                )
            )
        header = (
            "Kind",
            "Slots",
            "Connections",
            "Sent",
            "Replies",
            "Closed (receiver's reason)",
            "Refused (code)",
            "Open at the end",
        )
        return table(header, rows)

    def traceback_section(self) -> str:
        """The first traceback in the receiver's log, as found (the log itself is kept in
        .bench/), or nothing."""
        if not self.first_traceback:
            return ""
        text = "\n".join(self.first_traceback)
        head = f"The first of {self.tracebacks} tracebacks in the receiver's log:"
        return f"\n{head}\n\n```\n{text}\n```\n"

    def report(self, started, finished, load_before, seconds, files) -> str:
        first, last, rise, peak = self.memory()
        open_after = [s.client_open for s in self.samples if s.at >= RAMP_UP]
        fds_after = [s.fds for s in self.samples if s.at >= RAMP_UP]
        minutes = [
            (
                f"{int(s.at // 60)}:{int(s.at % 60):02d}",
                f"{s.rss_kb / 1024:.1f}",
                s.fds,
                s.client_open,
            )
            for s in self.samples[::30]
        ]
        checks = [
            (name, figure, "**met**" if ok else "**NOT met**") for name, figure, ok in self.checks
        ]
        mix = ", ".join(f"{n} {kind}" for kind, n in MIX.items())
        return f"""\
## HJ 212 receiver: 1,000 connections, slow senders and garbage (`bench/soak_hj212.py`)

`python -m bench hj212-soak` ({seconds:.0f} s; GRIDPATROL_HJ212_SOAK_SECONDS). The real receiver
process, `flask alerts hj212-serve --max-connections {MAX_CONNECTIONS} --idle-timeout
{IDLE_TIMEOUT:g} --frame-timeout {FRAME_TIMEOUT:g}`, on a migrated SpatiaLite file with
{MIX["good"]} stations; one asyncio client process opens {sum(MIX.values())} connections at once
({mix}) and opens a new one whenever the receiver closes one. Good stations send a minute packet
(six pollutants, reply asked) every {GOOD_EVERY:g} s and wait for its reply; slow senders dribble
a packet a byte every {DRIBBLE_EVERY:g} s; idle connections never send; random: bursts of random
bytes, then silence; oversized: a whole frame of 1,500 bytes then a header of 9999 fed 1 KB at a
time; bad CRC and wrong password (a fifth with an unknown MN): a known station's packet every
{Timing().garbage_every:g} s; half: half a packet, then the client closes. The timeouts are
shorter than the defaults (300 s, 30 s) so that every kind turns over many times in the run.
RSS and open files of the receiver from /proc every second; open files limit {files}.

{table(("Check", "Figure", "Result"), checks)}

Memory: median RSS {first:.1f} MB in the first minute after a {RAMP_UP:g} s ramp-up, {last:.1f} MB
in the last minute ({rise:+.1%}), peak {peak:.1f} MB; trend after the ramp-up
{self.slope():+.1f} MB a minute. Flat means a rise of at most
{RSS_RISE_LIMIT:.0%}: the allocator keeps freed memory and moves a few MB either way, while a leak
of a few KB per connection over the {fmt_int(len(self.load.conns))} connections of the run would
be tens of MB. Connections open (client side) after the ramp-up: min
{min(open_after, default=0)}, median {statistics.median(open_after or [0]):.0f}, max
{max(open_after, default=0)}; the receiver's open files: min {min(fds_after, default=0)}, max
{max(fds_after, default=0)}.

{self.kinds_table()}

"Open at the end": connections the client closed when the run ended (not counted above). The
receiver's own count at SIGTERM: `{self.stopped.split(": ", 1)[-1] or "not logged"}`.

Every 30 s (time, RSS MB, receiver's open files, connections open):

{table(("Time", "RSS (MB)", "Files", "Open"), minutes)}
{self.traceback_section()}
{machine_markdown(started, finished, load_before)}
"""


def _first_traceback(lines: list[str], context: int = 3, most: int = 60) -> list[str]:
    """The log's first traceback with the lines just before it (what was being done), or []."""
    start = next((n for n, line in enumerate(lines) if line.startswith("Traceback")), None)
    if start is None:
        return []
    end = start + 1
    while end < len(lines) and end - start < most and lines[end].startswith((" ", "\t")):
        end += 1
    return lines[max(start - context, 0) : end + 1]


def _short(reason: str | None) -> str:
    """A closing reason without its figures: "refused", "idle", "frame_timeout"..."""
    if reason is None:
        return "not in log"
    return reason.split(":")[0]


def _counts(counter: Counter) -> str:
    return ", ".join(f"{name} {fmt_int(n)}" for name, n in counter.most_common())
