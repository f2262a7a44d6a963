"""The deployment on loopback: the parts a prefecture's servers run, started as systemd would
start them, from the files this folder ships. `make e2e-deploy` (tests/test_deploy.py) and
`make soak` use it; an operator can try a configuration with it before a server exists:

    python -m deploy.stack --database postgresql://.../gridpatrol   (Ctrl-C stops everything)

What runs, each in a process of its own:
- Redis: the task queue (db 0) and the rate limiters' counters (db 1), shared by every server;
- `servers` gunicorns (gunicorn.conf.py, as gridpatrol-web.service runs it), each with its own
  metrics folder, all on one database and one photo store;
- huey consumers: one with the scheduler (gridpatrol-worker.service), the others without
  (gridpatrol-worker-extra@.service);
- the HJ 212 receiver (gridpatrol-hj212.service);
- nginx in front, with nginx/gridpatrol-http.conf and nginx/gridpatrol-locations.conf as
  shipped; only the listening address, the upstream list and the temporary paths are this
  file's own.

PostgreSQL is not started here: the caller gives a database (the test suite's cluster, or a
server's). The gunicorns get TRUSTED_PROXIES=1, so the app believes nginx's X-Forwarded-For.

For fault tests (`make soak`, bench/soak.py) two options make the parts that can fail real:
`redis_relay=True` puts every service's Redis connection through a TCP relay whose `cut(seconds)`
drops the network to Redis (every connection reset, new ones blackholed), and `photo_mount=True`
serves the photo folder from a bind mount of itself that `photos_read_only()` remounts read-only
(root ignores file modes, not a read-only mount).
"""

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
BIN = Path(sys.executable).parent
BROTLI_MODULE = Path("/usr/lib/nginx/modules/ngx_http_brotli_filter_module.so")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, proc: subprocess.Popen, what: str, seconds: float = 60) -> None:
    """Until something accepts connections on 127.0.0.1:port; RuntimeError with the process's
    log when it exits first or takes too long."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError(f"{what} exited with {proc.returncode}") from None
            if time.monotonic() > deadline:
                raise RuntimeError(f"{what} did not listen on {port} in {seconds} s") from None
            time.sleep(0.1)


def available() -> str | None:
    """Why the stack cannot start on this machine, or None when it can."""
    for program in ("nginx", "redis-server"):
        if shutil.which(program) is None and not Path(f"/usr/sbin/{program}").exists():
            return f"{program} is not installed (scripts/system-packages.sh test installs it)"
    return None


def _mount(*args: str) -> None:
    done = subprocess.run(["mount", *args], capture_output=True, text=True)  # noqa: S603, S607
    if done.returncode != 0:
        raise RuntimeError(f"mount {' '.join(args)} failed: {done.stderr.strip()}")


def _program(name: str) -> str:
    return shutil.which(name) or f"/usr/sbin/{name}"


@dataclass
class Service:
    name: str
    args: list[str]
    env: dict[str, str]
    port: int | None = None
    proc: subprocess.Popen | None = None

    def start(self, logs: Path) -> None:
        log = (logs / f"{self.name}.log").open("ab")
        self.proc = subprocess.Popen(  # noqa: S603 - this stack's own programs, no shell
            self.args,
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own group: stopping it stops its workers too
        )
        log.close()
        if self.port is not None:
            try:
                wait_for_port(self.port, self.proc, self.name)
            except RuntimeError as exc:
                raise RuntimeError(f"{exc}:\n{self.log(logs)}") from None

    def log(self, logs: Path) -> str:
        return (logs / f"{self.name}.log").read_text(errors="replace")[-4000:]

    def signal(self, signum: int) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signum)

    def stop(self, timeout: float = 30) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.signal(signal.SIGTERM if self.name != "nginx" else signal.SIGQUIT)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.signal(signal.SIGKILL)
            self.proc.wait(timeout=10)


class TcpRelay:
    """A TCP relay on 127.0.0.1 to `target` whose network can be cut: `cut(seconds)` resets every
    connection through it and, for that long, blackholes new ones (accepted, then never answered:
    a peer behind a dropped link), which are closed when the link comes back."""

    def __init__(self, target_port: int, port: int | None = None) -> None:
        self.target_port = target_port
        self.listener = socket.create_server(("127.0.0.1", port or 0))
        self.port = self.listener.getsockname()[1]
        self._lock = threading.Lock()
        self._pairs: set[tuple[socket.socket, socket.socket]] = set()
        self._held: list[socket.socket] = []
        self._cut_until = 0.0
        self._closing = False
        threading.Thread(target=self._accept, daemon=True, name="relay-accept").start()

    def _accept(self) -> None:
        while not self._closing:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            with self._lock:
                if time.monotonic() < self._cut_until:
                    self._held.append(client)
                    continue
            try:
                server = socket.create_connection(("127.0.0.1", self.target_port), timeout=5)
            except OSError:
                client.close()
                continue
            server.settimeout(None)
            pair = (client, server)
            with self._lock:
                self._pairs.add(pair)
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(a, b, pair), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, pair: tuple) -> None:
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                sink.sendall(data)
        except OSError:
            pass
        finally:
            self._drop(pair)

    def _drop(self, pair: tuple, reset: bool = False) -> None:
        with self._lock:
            self._pairs.discard(pair)
        for sock in pair:
            try:
                if reset:  # RST, as a dropped link's peer eventually sees it
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\0\0\0\0\0\0\0")
                sock.close()
            except OSError:
                pass

    def cut(self, seconds: float) -> None:
        """Drop the link for `seconds` (returns at once)."""
        with self._lock:
            self._cut_until = time.monotonic() + seconds
            pairs = list(self._pairs)
        for pair in pairs:
            self._drop(pair, reset=True)
        timer = threading.Timer(seconds, self._mend)
        timer.daemon = True
        timer.start()

    def _mend(self) -> None:
        with self._lock:
            held, self._held = self._held, []
        for sock in held:
            sock.close()

    @property
    def is_cut(self) -> bool:
        return time.monotonic() < self._cut_until

    def close(self) -> None:
        self._closing = True
        self.listener.close()
        with self._lock:
            pairs = list(self._pairs)
        for pair in pairs:
            self._drop(pair)
        self._mend()


@dataclass
class Stack:
    database_url: str
    servers: int = 2
    workers_per_server: int = 2
    consumers: int = 2
    home: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="gridpatrol-stack-")))
    extra_env: dict[str, str] = field(default_factory=dict)
    services: dict[str, Service] = field(default_factory=dict)
    redis_relay: bool = False  # the services reach Redis through a relay that can be cut
    photo_mount: bool = False  # the photo folder is a bind mount that can be made read-only

    def __post_init__(self) -> None:
        self.logs = self.home / "logs"
        self.photos = self.home / "photos"
        for folder in (self.logs, self.photos):
            folder.mkdir(parents=True, exist_ok=True)
        self.redis_port = free_port()
        # Where the services connect for Redis: Redis itself, or the relay in front of it.
        self.redis_client_port = free_port() if self.redis_relay else self.redis_port
        self.relay: TcpRelay | None = None
        self._mounted = False
        self.nginx_port = free_port()
        self.hj212_port = free_port()
        self.server_ports = [free_port() for _ in range(self.servers)]

    @property
    def url(self) -> str:
        """Where clients connect: nginx."""
        return f"http://127.0.0.1:{self.nginx_port}"

    def server_url(self, index: int) -> str:
        """One application server directly, bypassing nginx."""
        return f"http://127.0.0.1:{self.server_ports[index]}"

    def app_env(self) -> dict[str, str]:
        """The environment file every service of a server reads (gridpatrol.env.example)."""
        redis = f"redis://127.0.0.1:{self.redis_client_port}"
        return {
            **os.environ,
            "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
            "FLASK_APP": "app:create_app",
            "DATABASE_URL": self.database_url,
            "GRIDPATROL_SECRET_KEY": "stack-" + "k" * 58,
            "GRIDPATROL_SESSION_COOKIE_SECURE": "false",  # plain HTTP on loopback
            "GRIDPATROL_TASKS_URL": f"{redis}/0",
            "GRIDPATROL_RATELIMIT_STORAGE_URI": f"{redis}/1",
            "GRIDPATROL_TRUSTED_PROXIES": "1",
            "GRIDPATROL_PHOTO_STORAGE_DIR": f'"{self.photos}"',
            "GRIDPATROL_VAPID_KEY_FILE": f'"{self.home / "vapid.pem"}"',
            "GRIDPATROL_HJ212_HEALTH_ADDRESS": f'"127.0.0.1:{self.hj212_port}"',
            "GRIDPATROL_TILE_URL": '""',
            "GRIDPATROL_PUSH_ALLOW_LOOPBACK": "true",
            "GRIDPATROL_ROBOTS_ALLOW_ANY_HOST": "true",
            **self.extra_env,
        }

    def _nginx_conf(self) -> Path:
        upstream = "\n".join(
            f"        server 127.0.0.1:{port} max_fails=2 fail_timeout=5s;"
            for port in self.server_ports
        )
        temp = self.home / "nginx"
        temp.mkdir(exist_ok=True)
        brotli = f"load_module {BROTLI_MODULE};" if BROTLI_MODULE.exists() else "# no brotli module"
        brotli_conf = (
            f"include {DEPLOY / 'nginx' / 'gridpatrol-brotli.conf'};"
            if BROTLI_MODULE.exists()
            else ""
        )
        user = "user root;" if os.geteuid() == 0 else ""
        conf = f"""
{brotli}
{user}
daemon off;
worker_processes 2;
pid {temp / "nginx.pid"};
error_log {self.logs / "nginx-error.log"} warn;
events {{ worker_connections 4096; }}
http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log {self.logs / "nginx-access.log"};
    client_body_temp_path {temp / "body"};
    proxy_temp_path {temp / "proxy"};
    fastcgi_temp_path {temp / "fastcgi"};
    uwsgi_temp_path {temp / "uwsgi"};
    scgi_temp_path {temp / "scgi"};
    include {DEPLOY / "nginx" / "gridpatrol-http.conf"};
    {brotli_conf}
    upstream gridpatrol_app {{
{upstream}
        keepalive 32;
    }}
    server {{
        listen 127.0.0.1:{self.nginx_port};
        server_name localhost;
        root {ROOT};
        include {DEPLOY / "nginx" / "gridpatrol-locations.conf"};
    }}
}}
"""
        path = temp / "nginx.conf"
        path.write_text(conf)
        return path

    def _define(self) -> None:
        env = self.app_env()
        self.services["redis"] = Service(
            "redis",
            [
                _program("redis-server"),
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.redis_port),
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.home),
            ],
            env,
            self.redis_port,
        )
        for index, port in enumerate(self.server_ports):
            metrics = self.home / f"metrics-{index}"
            metrics.mkdir(exist_ok=True)
            self.services[f"web{index}"] = Service(
                f"web{index}",
                [str(BIN / "gunicorn"), "-c", str(ROOT / "gunicorn.conf.py"), "app:create_app()"],
                {
                    **env,
                    "GRIDPATROL_BIND": f"127.0.0.1:{port}",
                    "WEB_CONCURRENCY": str(self.workers_per_server),
                    "PROMETHEUS_MULTIPROC_DIR": str(metrics),
                },
                port,
            )
        consumer = [
            str(BIN / "huey_consumer"),
            "worker.huey",
            "--workers",
            "2",
            "--worker-type",
            "thread",
            "--delay",
            "0.05",
            "--max-delay",
            "0.5",
        ]
        for index in range(self.consumers):
            extra = [] if index == 0 else ["--no-periodic"]
            self.services[f"worker{index}"] = Service(f"worker{index}", consumer + extra, env)
        self.services["hj212"] = Service(
            "hj212",
            [
                str(BIN / "flask"),
                "alerts",
                "hj212-serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.hj212_port),
            ],
            env,
            self.hj212_port,
        )
        self.services["nginx"] = Service(
            "nginx",
            [_program("nginx"), "-c", str(self._nginx_conf()), "-p", str(self.home / "nginx")],
            env,
            self.nginx_port,
        )

    def start(self) -> "Stack":
        self._define()
        try:
            if self.photo_mount:
                _mount("--bind", str(self.photos), str(self.photos))
                self._mounted = True
            if self.redis_relay:
                self.relay = TcpRelay(self.redis_port, self.redis_client_port)
            for service in self.services.values():
                service.start(self.logs)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        for service in reversed(list(self.services.values())):
            service.stop()
        if self.relay is not None:
            self.relay.close()
            self.relay = None
        if self._mounted:
            subprocess.run(["umount", str(self.photos)], check=False)  # noqa: S603, S607
            self._mounted = False

    def cut_redis(self, seconds: float) -> None:
        """Drop the network between every service and Redis for `seconds` (redis_relay=True)."""
        if self.relay is None:
            raise RuntimeError("the stack was started without redis_relay")
        self.relay.cut(seconds)

    def photos_read_only(self, read_only: bool = True) -> None:
        """Remount the photo folder read-only, or writable again (photo_mount=True)."""
        if not self._mounted:
            raise RuntimeError("the stack was started without photo_mount")
        mode = "remount,bind,ro" if read_only else "remount,bind,rw"
        # The kernel refuses to make a mount read-only while a file on it is open for writing
        # ("mount point is busy"): under load, try again until a moment without one.
        deadline = time.monotonic() + 30
        while True:
            try:
                _mount("-o", mode, str(self.photos))
                return
            except RuntimeError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def restart(self, name: str) -> None:
        service = self.services[name]
        service.stop()
        service.start(self.logs)

    def __enter__(self) -> "Stack":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", required=True, help="a migrated PostGIS database's URL")
    parser.add_argument("--servers", type=int, default=2)
    args = parser.parse_args()
    why = available()
    if why:
        sys.exit(why)
    with Stack(args.database, servers=args.servers) as stack:
        print(f"GridPatrol on {stack.url}; logs in {stack.logs}. Ctrl-C stops it.", flush=True)
        try:
            signal.pause()
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
