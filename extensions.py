"""Extension instances, initialised by create_app(); domains import them from here, never app.py."""

import sqlite3

import sqlalchemy as sa
from flask import Flask, has_request_context, request
from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from geoalchemy2 import alembic_helpers
from geoalchemy2.admin.dialects.sqlite import init_spatialite
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
        # A request that may write takes SQLite's one write lock at once (IMMEDIATE): a second
        # writer then waits its turn (busy_timeout) and reads what the first one committed,
        # instead of failing on a stale snapshot when it comes to write.
        writes = has_request_context() and request.method not in ("GET", "HEAD", "OPTIONS")
        conn.connection.driver_connection.execute("BEGIN IMMEDIATE" if writes else "BEGIN")


# SpatiaLite 5 tables that geoalchemy2's alembic helpers do not know about.
SPATIALITE_TABLES = {
    "sql_statements_log",
    "data_licenses",
    "ElementaryGeometries",
    "KNN",
    "KNN2",
    "SpatialIndex",
}


def alembic_include_object(obj, name, obj_type, reflected, compare_to):
    """What Alembic compares: our tables, not SpatiaLite's or PostGIS's own."""
    if obj_type == "table" and name in SPATIALITE_TABLES:
        return False
    return alembic_helpers.include_object(obj, name, obj_type, reflected, compare_to)


def _is_memory(url: sa.URL) -> bool:
    return url.database in (None, "", ":memory:")
