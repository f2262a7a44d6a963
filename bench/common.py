"""Shared helpers for the benchmarks: the machine, a prepared demo database, statistics,
gunicorn on a free port, and wrk.

Nothing here is used by the application or the tests; `make bench` runs it on demand.
"""

import contextlib
import os
import platform
import re
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
POSTGIS_DB = "gridpatrol_bench"
WRK = shutil.which("wrk") or "/usr/bin/wrk"

# One gunicorn configuration for every server a benchmark starts, so that comparisons between
# the real app and a bare endpoint are like for like. Sync workers, one per core: the app is
# CPU-bound (SQLite is in-process, nothing waits on a network), and more processes than cores
# only take turns on them, evicting each other's caches (bench/http.py measures 2 per core too).
GUNICORN_WORKERS = os.cpu_count() or 1
GUNICORN_WORKER_CLASS = "sync"


PLAIN_CONFIG = ROOT / "bench" / "gunicorn_plain.conf.py"


def gunicorn_args(workers: int = GUNICORN_WORKERS) -> tuple[str, ...]:
    return (
        "--workers",
        str(workers),
        "--worker-class",
        GUNICORN_WORKER_CLASS,
        "--log-level",
        "warning",
    )


# --- statistics -------------------------------------------------------------------------------


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def percentile(values: Sequence[float], p: float) -> float:
    """The p-th percentile (0-100), linear interpolation between closest ranks."""
    if not values:
        raise ValueError("percentile of no values")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * p / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def timed(fn: Callable[[], object]) -> tuple[float, object]:
    """Seconds taken by fn() and its result."""
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def fmt_int(value: float) -> str:
    """12345.6 -> '12,346' (thin, readable thousands)."""
    return f"{value:,.0f}"


def met(ok: bool) -> str:
    return "**met**" if ok else "**NOT met**"


def table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


# --- the machine ------------------------------------------------------------------------------


def _read(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def _command_output(args: Sequence[str]) -> str:
    try:
        done = subprocess.run(args, capture_output=True, text=True, timeout=30, cwd=ROOT)
    except (OSError, subprocess.SubprocessError):
        return ""
    return (done.stdout or done.stderr).strip()


def cpu_model() -> str:
    match = re.search(r"^model name\s*:\s*(.+)$", _read("/proc/cpuinfo"), re.MULTILINE)
    return match.group(1).strip() if match else platform.processor() or "unknown"


def ram_gib() -> float | None:
    match = re.search(r"^MemTotal:\s*(\d+) kB", _read("/proc/meminfo"), re.MULTILINE)
    return int(match.group(1)) / 1024 / 1024 if match else None


def os_name() -> str:
    match = re.search(r'^PRETTY_NAME="?([^"\n]+)"?', _read("/etc/os-release"), re.MULTILINE)
    name = match.group(1) if match else platform.system()
    return f"{name} (kernel {platform.release()})"


def tool_versions() -> dict[str, str]:
    versions = {}
    wrk = _command_output([WRK, "-v"]).splitlines()
    versions["wrk"] = wrk[0].split(" [")[0] if wrk else "not found"
    gunicorn = _command_output([PYTHON, "-m", "gunicorn", "--version"])
    versions["gunicorn"] = gunicorn.replace("gunicorn (version ", "").rstrip(")") or "?"
    return versions


def git_revision() -> str:
    head = _command_output(["git", "rev-parse", "--short", "HEAD"]) or "unknown"
    dirty = _command_output(["git", "status", "--porcelain", "--untracked-files=no"])
    return head + (" with uncommitted changes" if dirty else "")


def load_average() -> str:
    """The 1-, 5- and 15-minute load averages, as the kernel reports them."""
    return " ".join(_read("/proc/loadavg").split()[:3]) or "unknown"


def machine_markdown(started: datetime, finished: datetime, load_before: str) -> str:
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    cores = f"{os.cpu_count()} logical"
    if affinity is not None and affinity != os.cpu_count():
        cores += f" ({affinity} usable by this process)"
    ram = ram_gib()
    tools = tool_versions()
    rows = [
        ("Run", f"{started:%Y-%m-%d %H:%M:%S %Z} to {finished:%H:%M:%S}"),
        ("CPU", cpu_model()),
        ("Cores", cores),
        ("RAM", f"{ram:.1f} GiB" if ram else "unknown"),
        ("OS", os_name()),
        ("Python", f"{platform.python_version()} ({platform.python_implementation()})"),
        ("gunicorn / wrk", f"{tools['gunicorn']} / {tools['wrk']}"),
        ("Load average (1/5/15 min)", f"{load_before} before, {load_average()} after"),
        ("Code", f"git {git_revision()}"),
    ]
    return table(("Machine", ""), rows)


# --- other processes' share of the CPU -------------------------------------------------------


def _proc_jiffies() -> tuple[dict[int, int], dict[int, int]]:
    """Each live process's parent and its own user + system CPU time, in clock ticks."""
    parents, used = {}, {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        pid = int(entry.name)
        parents[pid] = int(fields[1])
        used[pid] = int(fields[11]) + int(fields[12])
    return parents, used


def _own_jiffies() -> int:
    """CPU ticks used by this process, its live descendants and its reaped children."""
    parents, used = _proc_jiffies()
    ours, frontier = {os.getpid()}, [os.getpid()]
    children: dict[int, list[int]] = {}
    for pid, parent in parents.items():
        children.setdefault(parent, []).append(pid)
    while frontier:
        for child in children.get(frontier.pop(), []):
            if child not in ours:
                ours.add(child)
                frontier.append(child)
    reaped = os.times()
    ticks = os.sysconf("SC_CLK_TCK")
    dead = round((reaped.children_user + reaped.children_system) * ticks)
    return sum(used.get(pid, 0) for pid in ours) + dead


def _cpu_jiffies() -> tuple[int, int, int]:
    """(user + nice + system, steal, total) ticks over all CPUs since boot."""
    fields = [int(x) for x in _read("/proc/stat").splitlines()[0].split()[1:]]
    fields += [0] * (8 - len(fields))
    return sum(fields[:3]), fields[7], sum(fields[:8])


class CpuMeter:
    """How much of the machine's CPU others took while the block ran.

    The benchmarks share the machine with whatever else runs on it; this says whether anything
    did: `other_share` is what processes other than ours used (kernel time spent on interrupts is
    not counted, and a server we only talk to, such as PostgreSQL, counts as other), and
    `steal_share` what the hypervisor gave to other virtual machines.
    """

    def __enter__(self) -> "CpuMeter":
        self._busy, self._steal, self._total = _cpu_jiffies()
        self._own = _own_jiffies()
        self.other_share = self.steal_share = 0.0
        return self

    def __exit__(self, *exc: object) -> None:
        busy, steal, total = _cpu_jiffies()
        own = _own_jiffies()
        elapsed = max(total - self._total, 1)
        other = (busy - self._busy) - (own - self._own)
        self.other_share = max(other, 0) / elapsed
        self.steal_share = (steal - self._steal) / elapsed


# --- the demo database ------------------------------------------------------------------------


def _run(args: Sequence[str], env: dict[str, str], what: str, cwd: Path = ROOT) -> None:
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{what} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")


@dataclass
class Context:
    """What every benchmark shares: demo databases prepared on first use, and clean-up.

    `sqlite_url` is a SpatiaLite file in a temporary folder; `postgis_url` a database on the
    server named by GRIDPATROL_TEST_POSTGRES (None when it is unset). Both are migrated and hold
    the demo (`flask demo load`).

    With GRIDPATROL_BENCH_BEFORE set to a git revision (`make bench BEFORE=rev`), `before_root`
    is a checkout of that revision and `before_sqlite_url` its own demo database, so that the
    benchmarks measure the code before a change side by side with the code after it.
    """

    postgres_admin_url: str | None = None
    before_rev: str | None = None
    secret_key: str = field(default_factory=lambda: secrets.token_hex(32))
    tmp: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="gridpatrol-bench-")))
    _sqlite_url: str | None = None
    _postgis_url: str | None = None
    _engines: list = field(default_factory=list)
    _before_root: Path | None = None
    _before_sqlite_url: str | None = None

    @classmethod
    def from_environment(cls) -> "Context":
        return cls(
            postgres_admin_url=os.environ.get("GRIDPATROL_TEST_POSTGRES") or None,
            before_rev=os.environ.get("GRIDPATROL_BENCH_BEFORE") or None,
        )

    def env(self, database_url: str, root: Path = ROOT, **extra: str) -> dict[str, str]:
        """Environment for a `flask` command or a gunicorn server on that database, running the
        code under `root` (this checkout, or `before_root`)."""
        env = dict(os.environ)
        env.update(
            FLASK_APP="app",
            GRIDPATROL_SECRET_KEY=self.secret_key,
            DATABASE_URL=database_url,
            PYTHONPATH=str(root),
        )
        env.update(extra)
        return env

    def _load_demo(self, database_url: str, root: Path = ROOT) -> None:
        env = self.env(database_url, root)
        _run([PYTHON, "-m", "flask", "db", "upgrade"], env, "flask db upgrade", cwd=root)
        _run([PYTHON, "-m", "flask", "demo", "load"], env, "flask demo load", cwd=root)

    @property
    def before_root(self) -> Path | None:
        """A checkout of `before_rev` (a git worktree, translations compiled), or None."""
        if self.before_rev is None:
            return None
        if self._before_root is None:
            path = self.tmp / "before"
            print(f"bench: checking out {self.before_rev} to compare with", file=sys.stderr)
            env = dict(os.environ)
            _run(["git", "worktree", "add", "--detach", str(path), self.before_rev], env, "git")
            pybabel = str(Path(PYTHON).parent / "pybabel")
            _run([pybabel, "-q", "compile", "-d", "translations"], env, "pybabel", cwd=path)
            self._before_root = path
        return self._before_root

    def before_label(self) -> str:
        """`git <short hash>` of the code compared with."""
        done = subprocess.run(
            ["git", "rev-parse", "--short", self.before_rev or "HEAD"],
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
        return f"git {done.stdout.strip() or self.before_rev}"

    @property
    def before_sqlite_url(self) -> str | None:
        """The SpatiaLite demo database of the code before (its own schema and demo)."""
        root = self.before_root
        if root is None:
            return None
        if self._before_sqlite_url is None:
            url = f"sqlite:///{self.tmp / 'demo-before.db'}"
            print("bench: preparing the demo database of the code before", file=sys.stderr)
            self._load_demo(url, root)
            self._before_sqlite_url = url
        return self._before_sqlite_url

    @property
    def sqlite_url(self) -> str:
        if self._sqlite_url is None:
            url = f"sqlite:///{self.tmp / 'demo.db'}"
            print("bench: preparing the SpatiaLite demo database", file=sys.stderr)
            self._load_demo(url)
            self._sqlite_url = url
        return self._sqlite_url

    @property
    def postgis_url(self) -> str | None:
        if self.postgres_admin_url is None:
            return None
        if self._postgis_url is None:
            import sqlalchemy as sa

            print("bench: preparing the PostGIS demo database", file=sys.stderr)
            self._pg_admin(f'DROP DATABASE IF EXISTS "{POSTGIS_DB}" WITH (FORCE)')
            self._pg_admin(f'CREATE DATABASE "{POSTGIS_DB}"')
            url = (
                sa.make_url(self.postgres_admin_url)
                .set(drivername="postgresql+psycopg", database=POSTGIS_DB)
                .render_as_string(hide_password=False)
            )
            engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
            with engine.connect() as conn:
                conn.execute(sa.text("CREATE EXTENSION IF NOT EXISTS postgis"))
            engine.dispose()
            self._postgis_url = url
            self._load_demo(url)
        return self._postgis_url

    def _pg_admin(self, statement: str) -> None:
        import sqlalchemy as sa

        engine = sa.create_engine(self.postgres_admin_url, isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as conn:
                conn.execute(sa.text(statement))
        finally:
            engine.dispose()

    def app(self, database_url: str, **config: object):
        """The real application, in this process, on that database."""
        from app import create_app

        app = create_app(
            {"SQLALCHEMY_DATABASE_URI": database_url, "SECRET_KEY": self.secret_key, **config}
        )
        from extensions import db

        with app.app_context():
            self._engines.append(db.engine)
        return app

    def close(self) -> None:
        for engine in self._engines:
            engine.dispose()
        self._engines.clear()
        if self._postgis_url is not None:
            self._pg_admin(f'DROP DATABASE IF EXISTS "{POSTGIS_DB}" WITH (FORCE)')
            self._postgis_url = None
        if self._before_root is not None:
            subprocess.run(
                ["git", "worktree", "remove", "--force", str(self._before_root)],
                cwd=ROOT,
                capture_output=True,
            )
        shutil.rmtree(self.tmp, ignore_errors=True)


# --- gunicorn ---------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def gunicorn_config(workers: int = GUNICORN_WORKERS) -> str:
    """The configuration, as written on the command line (for the report)."""
    return "gunicorn --bind 127.0.0.1:PORT " + " ".join(gunicorn_args(workers)) + " (no access log)"


@contextlib.contextmanager
def gunicorn_process(
    app_spec: str,
    env: dict[str, str],
    probe: str = "/",
    timeout: float = 60,
    args: Sequence[str] | None = None,
    root: Path = ROOT,
) -> Iterator[tuple[str, subprocess.Popen]]:
    """Serve `app_spec` (of the code under `root`) on a free loopback port with gunicorn and
    `args` (default: gunicorn_args()); yields the base URL, once it answers, and the master
    process."""
    port = free_port()
    log = (Path(tempfile.gettempdir()) / f"gridpatrol-bench-gunicorn-{port}.log").open("w+")
    command = [
        PYTHON,
        "-m",
        "gunicorn",
        "--bind",
        f"127.0.0.1:{port}",
        *(() if "--config" in (args or ()) else ("--config", str(PLAIN_CONFIG))),
        *(gunicorn_args() if args is None else args),
        app_spec,
    ]
    proc = subprocess.Popen(command, cwd=root, env=env, stdout=log, stderr=log)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                log.seek(0)
                raise RuntimeError(f"gunicorn {app_spec} exited ({proc.returncode}):\n{log.read()}")
            try:
                with urllib.request.urlopen(base + probe, timeout=2):
                    break
            except urllib.error.HTTPError:
                break  # it answers, even if not with 200
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"gunicorn {app_spec} did not answer in {timeout}s"
                    ) from None
                time.sleep(0.2)
        yield base, proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        os.unlink(log.name)


@contextlib.contextmanager
def gunicorn(
    app_spec: str,
    env: dict[str, str],
    probe: str = "/",
    timeout: float = 60,
    workers: int = GUNICORN_WORKERS,
    root: Path = ROOT,
) -> Iterator[str]:
    """Serve `app_spec` (of the code under `root`) on a free loopback port; yields the base URL
    once it answers."""
    with gunicorn_process(
        app_spec, env, probe, timeout, args=gunicorn_args(workers), root=root
    ) as (base, _proc):
        yield base


# --- wrk --------------------------------------------------------------------------------------

_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0, "m": 60_000.0}

# A wrk script that prints exact percentiles (microseconds) from its own latency histogram.
PERCENTILE_SCRIPT = """
done = function(summary, latency, requests)
  io.write(string.format("bench-p50-us %d\\n", latency:percentile(50)))
  io.write(string.format("bench-p95-us %d\\n", latency:percentile(95)))
  io.write(string.format("bench-p99-us %d\\n", latency:percentile(99)))
end
"""


@dataclass
class WrkResult:
    requests: int
    seconds: float
    requests_per_sec: float
    non_2xx_3xx: int
    socket_errors: dict[str, int]
    latency_ms: dict[str, float]  # "50%" -> ms from --latency, "p95" -> ms from the script
    output: str

    @property
    def errors(self) -> int:
        return sum(self.socket_errors.values())


def _duration_ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if not match:
        raise ValueError(f"unknown wrk duration {text!r}")
    return float(match.group(1)) * _UNITS[match.group(2)]


def parse_wrk(output: str) -> WrkResult:
    done = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s|m),", output)
    rate = re.search(r"^Requests/sec:\s*([\d.]+)", output, re.MULTILINE)
    if not done or not rate:
        raise RuntimeError(f"could not parse wrk output:\n{output}")
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s*(\d+)", output)
    sock = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    socket_errors = dict.fromkeys(("connect", "read", "write", "timeout"), 0)
    if sock:
        socket_errors = dict(zip(socket_errors, map(int, sock.groups()), strict=True))
    latency = {
        f"{m.group(1)}%": _duration_ms(m.group(2))
        for m in re.finditer(r"^\s+(\d+)%\s+([\d.]+(?:us|ms|s|m))\s*$", output, re.MULTILINE)
    }
    for m in re.finditer(r"^bench-p(\d+)-us (\d+)$", output, re.MULTILINE):
        latency[f"p{m.group(1)}"] = int(m.group(2)) / 1000
    return WrkResult(
        requests=int(done.group(1)),
        seconds=_duration_ms(done.group(2) + done.group(3)) / 1000,
        requests_per_sec=float(rate.group(1)),
        non_2xx_3xx=int(non_2xx.group(1)) if non_2xx else 0,
        socket_errors=socket_errors,
        latency_ms=latency,
        output=output,
    )


def wrk(
    url: str,
    connections: int,
    duration: int,
    threads: int = 2,
    headers: Sequence[str] = (),
    latency: bool = False,
    script: str | None = None,
) -> WrkResult:
    """Run wrk against `url` and parse its summary."""
    if not Path(WRK).exists():
        raise RuntimeError("wrk is not installed (scripts/system-packages.sh bench installs it)")
    args = [WRK, f"-t{threads}", f"-c{connections}", f"-d{duration}s"]
    for header in headers:
        args += ["-H", header]
    if latency:
        args.append("--latency")
    with contextlib.ExitStack() as stack:
        if script:
            lua = stack.enter_context(
                tempfile.NamedTemporaryFile("w", suffix=".lua", prefix="gridpatrol-bench-")
            )
            lua.write(script)
            lua.flush()
            args += ["-s", lua.name]
        args.append(url)
        done = subprocess.run(args, capture_output=True, text=True, timeout=duration + 60)
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return parse_wrk(done.stdout)
