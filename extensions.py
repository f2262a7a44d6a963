"""Extension instances, initialised by create_app(); domains import them from here, never app.py."""

import functools
import logging
import os
import re
import sqlite3
import threading
import time
from collections.abc import Callable
from contextvars import ContextVar

import sqlalchemy as sa
from flask import Flask, current_app, has_app_context, has_request_context, request
from flask_babel import Babel
from flask_compress import Compress
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from geoalchemy2 import alembic_helpers
from geoalchemy2.admin.dialects.sqlite import init_spatialite
from huey import Huey, RedisHuey, SqliteHuey
from redis import ConnectionPool
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy.orm import DeclarativeBase

try:  # an SQLite that can load extensions, for Pythons whose sqlite3 cannot (linux x86_64)
    import pysqlite3.dbapi2 as pysqlite3
except ImportError:  # pragma: no cover - depends on the platform
    pysqlite3 = None


class Base(DeclarativeBase):
    pass


db = SQLAlchemy(model_class=Base)
migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()
limiter = Limiter(get_remote_address)
babel = Babel()
compress = Compress()


# --- the task queue ------------------------------------------------------------------------------

# Seconds a Redis connection (the task queue's, the rate limiter's) waits to connect and for an
# answer. Without them, a cut network to Redis (packets dropped, not refused) held every request
# that queued a task or counted a log-in until the link came back (docs/reliability.md); with
# them the request goes on (a task is queued again in the background, see after_commit) or is
# answered 503. The consumer's blocking read waits 1 s, well inside the answer's 5.
REDIS_TIMEOUTS = {"socket_connect_timeout": 3, "socket_timeout": 5}


def _task_queue() -> Huey:
    """huey, on Redis when GRIDPATROL_TASKS_URL is a redis:// URL (several servers share the
    work), else on an SQLite file (GRIDPATROL_TASKS_FILE, default instance/tasks.db), so that
    `make run` needs nothing else. Read from the environment when this module is imported: the
    consumer (worker.py) and the web processes must agree on it before any app is made."""
    url = os.environ.get("GRIDPATROL_TASKS_URL", "")
    if url.startswith(("redis://", "rediss://", "unix://")):
        # Options in the URL (?socket_timeout=...) win over these.
        return RedisHuey(
            "gridpatrol", connection_pool=ConnectionPool.from_url(url, **REDIS_TIMEOUTS)
        )
    path = os.environ.get("GRIDPATROL_TASKS_FILE") or os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "instance", "tasks.db"
    )
    os.makedirs(os.path.dirname(path), exist_ok=True)
    return SqliteHuey("gridpatrol", filename=path)


huey = _task_queue()
_task_app: list[Flask] = []  # the app tasks run in, outside a request (bind_tasks)


def bind_tasks(app: Flask) -> None:
    """Tasks run in this app's context (the consumer's app; in a web process, the latest)."""
    _task_app[:] = [app]


def _in_app_context(function: Callable) -> Callable:
    @functools.wraps(function)
    def run(*args, **kwargs):
        if has_app_context():  # run inline, by a test or a command: use the caller's context
            return function(*args, **kwargs)
        with _task_app[0].app_context():
            try:
                return function(*args, **kwargs)
            finally:
                db.session.remove()

    return run


def task(**options) -> Callable:
    """A huey task that runs in the app's context: `@task(retries=5, retry_delay=10)`."""
    return lambda function: huey.task(**options)(_in_app_context(function))


def periodic_task(schedule, **options) -> Callable:
    """A periodic huey task (`schedule` a huey.crontab) that runs in the app's context."""
    return lambda function: huey.periodic_task(schedule, **options)(_in_app_context(function))


def backend_unavailable(exc: Exception) -> bool:
    """Whether `exc` is a part the app needs being out of reach for a while, not a fault of the
    request or of the code: the database restarting or unreachable (PostgreSQL's connection
    errors, a connection found dropped, SQLite's file locked too long), Redis out of reach."""
    if isinstance(exc, (RedisConnectionError, RedisTimeoutError)):
        return True
    if isinstance(exc, sa.exc.PendingRollbackError):
        # A commit after a statement lost its connection: "Can't reconnect until invalid
        # transaction is rolled back" (SQLAlchemy's words for a connection found dropped).
        return "invalid transaction" in str(exc)
    if not isinstance(exc, sa.exc.DBAPIError):
        return False
    if exc.connection_invalidated or isinstance(exc, sa.exc.InterfaceError):
        return True
    if not isinstance(exc, sa.exc.OperationalError):
        return False
    # SQLite calls a missing table an OperationalError too: that one is a fault.
    return "sqlite" not in type(exc.orig).__module__ or "locked" in str(exc.orig)


def after_commit(callback: Callable[[], None]) -> None:
    """Call `callback` once the session's transaction commits (enqueue a task that reads what
    was just written); dropped if it rolls back."""
    db.session.info.setdefault("after_commit", []).append(callback)


# Waits in seconds before each new try of an after-commit call that failed: about ten minutes
# in all, longer than a Redis restart or a cut in the network to it.
AFTER_COMMIT_RETRIES = (1, 2, 4, 8, 15, 30, 60, 120, 120, 240)
_log = logging.getLogger(__name__)


@sa.event.listens_for(sa.orm.Session, "after_commit")
def _run_after_commit(session) -> None:
    """Run the calls waiting for this commit, once the whole transaction has committed: the
    event fires for a savepoint released too (each sync item's), and a task queued then could
    run before the rows it reads are committed, and find none. What was written stays committed
    whatever the calls do, so one that fails (the task queue unreachable) neither turns the
    answer into an error, which would tell a phone or a person that a kept write failed, nor
    stops the others: it is logged and tried again in the background. Tasks run in process
    (huey.immediate) are called as they are."""
    if session.in_nested_transaction():  # a savepoint released; the transaction goes on
        return
    for callback in session.info.pop("after_commit", []):
        if huey.immediate:
            callback()
            continue
        try:
            callback()
        except Exception:
            _log.exception("a task was not queued after a commit; trying again in the background")
            threading.Thread(target=_call_again, args=(callback,), daemon=True).start()


def _call_again(callback: Callable[[], None]) -> bool:
    """Try an after-commit call again after each wait until it goes through; whether it did."""
    waits = AFTER_COMMIT_RETRIES
    for tries, wait in enumerate(waits, start=1):
        time.sleep(wait)
        try:
            callback()
        except Exception:  # noqa: S112 - still unreachable: wait longer
            continue
        _log.warning("a task was queued after a commit at the %s. retry", tries)
        return True
    _log.error("a task was never queued after a commit (%s tries): %r", len(waits), callback)
    return False


@sa.event.listens_for(sa.orm.Session, "after_soft_rollback")
def _drop_after_commit(session, previous_transaction) -> None:
    if previous_transaction.parent is None:  # the whole transaction, not a savepoint
        session.info.pop("after_commit", None)


# Set by grid.forms.unit_of_work() while it runs: the transaction begun now is the one that
# writes, so on SQLite it takes the write lock at once (BEGIN IMMEDIATE).
writing: ContextVar[bool] = ContextVar("writing", default=False)
_SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


def sqlite_module():
    """The DB-API module to use for SQLite: one that can load SpatiaLite.

    Some Python builds (pyenv's among them) compile sqlite3 without extension loading;
    pysqlite3-binary bundles an SQLite that has it.
    """
    if hasattr(sqlite3.connect(":memory:"), "enable_load_extension"):
        return sqlite3
    if pysqlite3 is None:  # pragma: no cover - depends on the interpreter
        raise RuntimeError(
            "This Python's sqlite3 cannot load extensions, so SpatiaLite cannot be used. "
            "Install pysqlite3-binary (pip install pysqlite3-binary) or use a Python whose "
            "sqlite3 supports enable_load_extension (Debian's /usr/bin/python3 does)."
        )
    return pysqlite3


def configure_engine(app: Flask) -> None:
    """Set up per-connection state: SpatiaLite, pragmas and real transactions on SQLite."""
    engine = db.engine
    if engine.dialect.name != "sqlite":
        return
    library = app.config["SPATIALITE_LIBRARY_PATH"]

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):
        # Let SQLAlchemy own transactions (pysqlite's implicit BEGIN breaks SAVEPOINT).
        dbapi_conn.isolation_level = None
        dbapi_conn.enable_load_extension(True)
        try:
            dbapi_conn.load_extension(library)
        except Exception as exc:
            raise RuntimeError(
                f"SpatiaLite could not be loaded from {library!r}: {exc}. On Debian/Ubuntu "
                "install it with: apt-get install libsqlite3-mod-spatialite"
            ) from exc
        finally:
            dbapi_conn.enable_load_extension(False)
        init_spatialite(dbapi_conn, transaction=True, init_mode="WGS84")
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA busy_timeout = 10000")
        if not _is_memory(engine.url):
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(conn):
        # Straight to the driver: a full SQLAlchemy execution here would cost every request.
        # A transaction that may write takes SQLite's one write lock at once (IMMEDIATE): a
        # second writer then waits its turn (busy_timeout) and reads what the first one
        # committed, instead of failing on a stale snapshot when it comes to write. That is
        # every transaction of a unit of work, and any of a request that may write, except a
        # view marked `reads_first` (grid.forms): its reads and heavy work (decoding photos)
        # run in a plain deferred transaction, ended before its unit of work begins.
        immediate = writing.get() or (
            has_request_context()
            and request.method not in _SAFE_METHODS
            and not reads_first(request.endpoint)
        )
        conn.info["immediate"] = immediate
        conn.connection.driver_connection.execute("BEGIN IMMEDIATE" if immediate else "BEGIN")


def reads_first(endpoint: str | None) -> bool:
    """Whether the view of `endpoint` was marked to read (and decode) before it writes."""
    view = current_app.view_functions.get(endpoint) if endpoint else None
    return bool(getattr(view, "reads_first", False))


def holds_write_lock(conn: sa.Connection) -> bool:
    """Whether the connection's transaction took SQLite's write lock when it began (always
    true elsewhere: PostgreSQL has no such lock to take)."""
    return conn.dialect.name != "sqlite" or bool(conn.info.get("immediate"))


# SpatiaLite 5 tables that geoalchemy2's alembic helpers do not know about.
_READING_PARTITION = re.compile(r"reading_(p[0-9]{6}|default)")
SPATIALITE_TABLES = {
    "sql_statements_log",
    "data_licenses",
    "ElementaryGeometries",
    "KNN",
    "KNN2",
    "SpatialIndex",
}


def alembic_include_object(obj, name, obj_type, reflected, compare_to):
    """What Alembic compares: our tables, not SpatiaLite's or PostGIS's own, nor the partitions
    of a partitioned table."""
    if obj_type == "table" and name in SPATIALITE_TABLES:
        return False
    if obj_type == "table" and reflected and _READING_PARTITION.fullmatch(name or ""):
        return False  # PostgreSQL's monthly partitions of `reading` (migration 0006)
    return alembic_helpers.include_object(obj, name, obj_type, reflected, compare_to)


def _is_memory(url: sa.URL) -> bool:
    return url.database in (None, "", ":memory:")
