"""GET /healthz: whether this application server can do its work, for a load balancer and the
operator's monitoring. Public: no sign-in, GET and HEAD only (so no CSRF token), no rate limit
(ops/views.py), never cached.

The checks, each with its duration in milliseconds:
- database: SELECT 1 on a connection from the app's pool (the one the session draws from);
- storage: a small object put, read back and deleted through the photo store, under
  "health/<host>-<pid>-<thread>" (a local photo folder must exist: on a server whose folder is
  a mount, a missing one means a missing mount, and the store would fill the local disk);
- queue: huey's storage answers (SQLite or Redis), with the tasks waiting;
- receiver: a TCP connection to the HJ 212 receiver at HJ212_HEALTH_ADDRESS ("host:port"); when
  that is unset the check says "not configured" and passes.

Each check runs in a thread of its own, all side by side, and gets HEALTH_TIMEOUT_SECONDS: a
dependency that hangs (a black-holed database host, a stuck NFS mount, a dropped network to
Redis) fails its check at the deadline instead of holding the answer. The answer is 200 with
status "ok" when every configured check passed, else 503 with "failing". A failed check's
detail names the exception's class and a few words, without file names, URLs or addresses
(anyone may read this page); the whole error goes to the server's log.
"""

import logging
import os
import re
import secrets
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import asdict, dataclass

import sqlalchemy as sa
from flask import Flask, current_app, jsonify

from evidence.services import photo_store
from evidence.storage import LocalStore, PhotoStore
from extensions import db, huey
from ops.views import bp

log = logging.getLogger(__name__)

DEFAULTS = {
    # The HJ 212 receiver this server's health includes, "host:port" (`flask alerts hj212-serve
    # --port`: 2120 in the Procfile, 9212 in deploy/); unset, the check is "not configured".
    # The receiver is a service of its own, perhaps on another host, perhaps absent where no
    # station sends HJ 212: only the operator knows its address, so there is no guess here.
    "HJ212_HEALTH_ADDRESS": None,
    # The most each check may take, in seconds; load balancers usually wait 2 to 5.
    "HEALTH_TIMEOUT_SECONDS": 2.0,
}

CHECKS = ("database", "storage", "queue", "receiver")
# Threads of this process still running each check: some may hang on a dependency that never
# answers. Past this many, that check fails at once instead of starting another thread (and
# the other checks still run).
_SLOTS = {name: threading.BoundedSemaphore(4) for name in CHECKS}


class Unhealthy(Exception):
    """A check's failure in its own words (shown as they are)."""


@dataclass(frozen=True)
class Check:
    ok: bool
    ms: float
    detail: str


def init_app(app: Flask) -> None:
    for key, value in DEFAULTS.items():
        app.config.setdefault(key, value)
    try:
        receiver_address(app.config["HJ212_HEALTH_ADDRESS"])
    except ValueError as exc:
        raise RuntimeError(f"GRIDPATROL_HJ212_HEALTH_ADDRESS: {exc}") from None
    timeout = app.config["HEALTH_TIMEOUT_SECONDS"]
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not 0 < timeout <= 60:
        raise RuntimeError("GRIDPATROL_HEALTH_TIMEOUT_SECONDS must be a number of seconds, 0 to 60")
    app.register_blueprint(bp)  # the ops blueprint, with /metrics too (ops/metrics.py)


@bp.route("/healthz")
def healthz():
    """Whether this server can do its work: 200 when every configured check passes, else 503."""
    checks = run_checks()
    ok = all(check.ok for check in checks.values())
    response = jsonify(
        {
            "status": "ok" if ok else "failing",
            "checks": {name: asdict(check) for name, check in checks.items()},
        }
    )
    response.status_code = 200 if ok else 503
    response.headers["Cache-Control"] = "no-store"
    return response


def run_checks() -> dict[str, Check]:
    """Every check, side by side, each within HEALTH_TIMEOUT_SECONDS."""
    timeout = float(current_app.config["HEALTH_TIMEOUT_SECONDS"])
    address = receiver_address(current_app.config["HJ212_HEALTH_ADDRESS"])
    engine = db.engine
    store = photo_store()
    probes: dict[str, Callable[[], str] | None] = {
        "database": lambda: check_database(engine),
        "storage": lambda: check_storage(store),
        "queue": check_queue,
        "receiver": (lambda: check_receiver(address, timeout)) if address else None,
    }
    started = time.perf_counter()
    running = {name: _start(name, probe) for name, probe in probes.items() if probe is not None}
    checks = {}
    for name in probes:
        if name not in running:
            checks[name] = Check(True, 0.0, "not configured")
            continue
        left = max(0.0, timeout - (time.perf_counter() - started))
        try:
            error, detail, seconds = running[name].result(timeout=left)
        except TimeoutError:
            checks[name] = Check(False, _ms(timeout), f"no answer within {timeout:g} s")
            log.warning("health: %s gave no answer within %g s", name, timeout)
            continue
        if error is None:
            checks[name] = Check(True, _ms(seconds), detail)
        else:
            checks[name] = Check(False, _ms(seconds), describe(error))
            cause = error.__cause__ or error  # the driver's own words, for the log only
            log.warning("health: %s failed: %s: %s", name, type(cause).__name__, cause)
    return checks


# --- the checks: each returns a few words when it passed, or raises --------------------------


def check_database(engine: sa.Engine) -> str:
    try:
        connection = engine.connect()
    except sa.exc.DBAPIError as exc:
        raise Unhealthy(f"cannot connect ({type(exc.orig).__name__})") from exc
    with connection:
        try:
            connection.execute(sa.text("SELECT 1")).scalar_one()
        except sa.exc.DBAPIError as exc:
            raise Unhealthy(f"SELECT 1 failed ({type(exc.orig).__name__})") from exc
    return "SELECT 1"


def check_storage(store: PhotoStore) -> str:
    if isinstance(store, LocalStore) and not store.root.is_dir():
        raise Unhealthy("the photo folder does not exist (not mounted?)")
    key = f"health/{_host()}-{os.getpid()}-{threading.get_native_id()}"
    data = secrets.token_bytes(16)
    store.put(key, data)
    try:
        read = store.get(key)
    finally:
        store.delete(key)
    if read != data:
        raise Unhealthy("read back something other than was written")
    return "put, get and delete"


def check_queue() -> str:
    return f"{huey.pending_count()} pending, {huey.scheduled_count()} scheduled"


def check_receiver(address: tuple[str, int], timeout: float) -> str:
    with socket.create_connection(address, timeout=timeout):
        pass
    return "accepts connections"


# --- helpers -------------------------------------------------------------------------------------


def receiver_address(value: object) -> tuple[str, int] | None:
    """HJ212_HEALTH_ADDRESS as (host, port): "host:port", "[::1]:9212"; None when unset."""
    if value is None or value == "":
        return None
    host, colon, port = str(value).rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    if not colon or not host or not (port.isascii() and port.isdigit()):
        raise ValueError(f"{value!r} is not host:port (for example 127.0.0.1:9212)")
    if not 0 < int(port) < 65536:
        raise ValueError(f"port {port} is not between 1 and 65535")
    return host, int(port)


_URL = re.compile(r"\b[a-z][a-z0-9+.-]*://[^\s\"']+", re.IGNORECASE)
_ADDRESS = re.compile(r"\b(?:\d{1,3}\.){3}\d{1,3}(?::\d+)?\b|\b[\w.-]+:\d{2,5}\b")


def describe(exc: BaseException) -> str:
    """The exception's class and a short message for anyone to read: an OSError's reason
    without its file name, URLs and host:port addresses masked, at most 100 characters."""
    if isinstance(exc, Unhealthy):
        return str(exc)
    if isinstance(exc, OSError) and exc.strerror:
        text = exc.strerror
    else:
        lines = str(exc).strip().splitlines()
        text = lines[0] if lines else ""
    text = _ADDRESS.sub("<address>", _URL.sub("<url>", text))[:100]
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _host() -> str:
    """This machine's name as a storage key part: letters, digits, dots and dashes."""
    return re.sub(r"[^A-Za-z0-9.-]", "-", socket.gethostname()).strip(".") or "host"


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 1)


def _start(name: str, probe: Callable[[], str]) -> "Future[tuple[Exception | None, str, float]]":
    """Run `probe` in a daemon thread: a future of its error (None when it passed), its words
    and its duration in seconds. A thread that hangs is left to finish on its own (a daemon
    never holds up the process's exit)."""
    future: Future[tuple[Exception | None, str, float]] = Future()
    slots = _SLOTS[name]
    if not slots.acquire(blocking=False):
        future.set_result((Unhealthy("earlier checks of this process still hang"), "", 0.0))
        return future

    def run() -> None:
        began = time.perf_counter()
        try:
            detail = probe()
        except Exception as exc:  # the check's failure, which the answer reports
            future.set_result((exc, "", time.perf_counter() - began))
        else:
            future.set_result((None, detail, time.perf_counter() - began))
        finally:
            slots.release()

    threading.Thread(target=run, name="healthz", daemon=True).start()
    return future
