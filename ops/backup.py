"""`flask ops backup DEST` and `flask ops restore SRC`: the database and the stored files
(photos, source documents) together, consistent, made while the app runs.

A backup is a directory:

    database.dump   PostgreSQL: `pg_dump --format=custom`; SQLite: a copy of the database file
                    made with SQLite's online backup API
    photos/<key>    every stored file that a row of the dump names, byte for byte
    manifest.json   the format version, when, the database's kind and Alembic revision, the rows
                    of each table, each file's SHA-256 and size, the tools' versions

Consistency without stopping the app: the database is copied first, as one snapshot, and then
exactly the files its rows name are copied. Stored files never change once written (their keys
are their SHA-256, evidence/storage.py) and each is written before the row naming it commits
(evidence.services.keep, sources.services.add_document), so every file the snapshot names is in
the store. The files are read through evidence.services.photo_store(), whatever the store is.
On PostgreSQL the snapshot is exported (pg_export_snapshot) by a read-only REPEATABLE READ
transaction that pg_dump joins (--snapshot) and that then reads the row counts and file keys:
the dump, the counts and the files are of one moment. On SQLite the counts and keys are read
from the copy itself.

The backup is written into a hidden sibling of DEST and renamed to DEST at the end, with the
manifest last: a failed backup leaves nothing that looks complete.

Restore needs an empty database and a photo store without conflicting files. Everything is
checked before anything is written: the manifest (format, database kind), the dump's and every
file's SHA-256, the target database (no table of its own; PostgreSQL: PostGIS enabled there, or
the role may enable it) and the target store (a key already there must hold the same bytes).
Then the files are put (first, as the app does: an interrupted restore leaves at worst files
nothing names, and may simply run again) and the database restored: PostgreSQL by
`pg_restore --single-transaction --exit-on-error --no-owner --no-privileges` (all or nothing),
SQLite by moving the copy into place (os.replace). Last the row counts of every table and the
Alembic revision are compared with the manifest, and every file read back.

pg_dump and pg_restore are those of the server's major version: /usr/lib/postgresql/<major>/bin
(Debian's and the PGDG packages) when present, else the ones on PATH (refused when older than the
server). They get the app's URL in libpq form, the password by PGPASSWORD, never on the command
line.
"""

import contextlib
import hashlib
import json
import os
import platform
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import alembic
import click
import sqlalchemy as sa
from flask import Flask
from flask.cli import AppGroup, with_appcontext

from evidence.models import Photo
from evidence.services import photo_store
from evidence.storage import LocalStore, PhotoStore
from extensions import db, sqlite_module
from sources.models import SourceDocument

FORMAT = "gridpatrol-backup"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
DUMP = "database.dump"
FILES = "photos"
PG_BIN = "/usr/lib/postgresql/{major}/bin"

# Every column that names a file in the photo store. A table that stores files adds its column
# here (tests/test_ops_backup.py fails on a `*_key` column this list lacks).
STORED_FILE_COLUMNS = (
    Photo.original_key,
    Photo.display_key,
    Photo.thumb_key,
    SourceDocument.storage_key,
)

# What SpatiaLite creates in a new database (InitSpatialMetaData): an SQLite file holding only
# these is empty.
_SPATIALITE_OWN = re.compile(
    r"sqlite_\w+|spatial_ref_sys\w*|spatialite_history|sql_statements_log|geom_cols_ref_sys"
    r"|(views_|virts_)?geometry_columns\w*|vector_layers\w*|ElementaryGeometries|KNN2?"
    r"|SpatialIndex|data_licenses"
)
_CHUNK = 1024 * 1024
_NEW_FILE_MODE = 0o666

Echo = Callable[[str], None]


class BackupError(Exception):
    """A backup or restore refused or failed; the message says why and what to do."""


@dataclass
class Contents:
    """What one snapshot of the database holds: its revision, the rows of each of the app's
    tables, and the keys of the stored files its rows name."""

    revision: str
    rows: dict[str, int]
    keys: set[str]


@dataclass
class Restored:
    """What a restore put back (for its summary)."""

    created_at: str
    kind: str
    revision: str
    rows: int
    tables: int
    files: int
    already_stored: int
    missing: list[str]


# --- backup --------------------------------------------------------------------------------------


def backup(dest: Path, allow_missing: bool = False, echo: Echo = lambda _line: None) -> dict:
    """Write a backup of the app's database and the stored files it names into the new
    directory `dest`; returns the manifest."""
    dest = Path(dest).absolute()
    if dest.exists() or dest.is_symlink():
        raise BackupError(f"{dest} already exists: give a new directory for the backup.")
    dest.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{dest.name}.partial-", dir=dest.parent))
    try:
        kind = _kind(db.engine.url)
        dump = work / DUMP
        echo(f"Copying the {kind} database ...")
        if kind == "postgresql":
            contents, tools = _pg_backup(dump)
        else:
            contents, tools = _sqlite_backup(dump)
        echo(f"Copying the {len(contents.keys)} stored files its rows name ...")
        files, missing = _copy_files(photo_store(), contents.keys, LocalStore(work / FILES))
        if missing and not allow_missing:
            raise BackupError(
                f"{len(missing)} stored files named by the database are not in the photo "
                f"store, e.g. {', '.join(missing[:3])}. Restore them from an earlier backup, "
                "or back up without them with --allow-missing."
            )
        manifest = {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "database": {
                "kind": kind,
                "alembic_revision": contents.revision,
                "dump_sha256": _file_sha256(dump),
                "dump_bytes": dump.stat().st_size,
                "rows": contents.rows,
            },
            "photos": files,
            "missing": missing,
            "tools": tools,
        }
        _write_durably(work / MANIFEST, json.dumps(manifest, indent=1, sort_keys=True).encode())
        _fsync_dir(work)
        os.rename(work, dest)
        _fsync_dir(dest.parent)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return manifest


def _copy_files(
    store: PhotoStore, keys: set[str], target: LocalStore
) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """Copy the files under `keys` to `target`: their SHA-256 and size, and the keys missing."""
    files: dict[str, dict[str, Any]] = {}
    missing: list[str] = []
    for key in sorted(keys):
        try:
            data = store.get(key)
        except KeyError:
            missing.append(key)
            continue
        try:
            target.put(key, data)
        except ValueError as exc:  # a key that is not a relative path inside a store
            raise BackupError(f"The database names a stored file by an invalid key: {exc}") from exc
        files[key] = {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
    return files, missing


def _pg_backup(dump: Path) -> tuple[Contents, dict[str, str]]:
    """pg_dump in the snapshot of a read-only REPEATABLE READ transaction, which then reads the
    counts and keys of that same snapshot."""
    with pg_snapshot() as (conn, snapshot):
        tools = _pg_versions(conn)
        tools["pg_dump"] = pg_dump(db.engine.url, snapshot, dump, conn)
        contents = snapshot_contents(conn)
    return contents, tools


@contextlib.contextmanager
def pg_snapshot() -> Iterator[tuple[sa.Connection, str]]:
    """A read-only REPEATABLE READ transaction on the app's database and the id of its
    exported snapshot, which other sessions (pg_dump --snapshot) may join while it lasts."""
    with db.engine.connect() as conn:
        conn.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
        with conn.begin():
            yield conn, conn.scalar(sa.text("SELECT pg_export_snapshot()"))


def pg_dump(url: sa.URL, snapshot: str | None, dump: Path, conn: sa.Connection) -> str:
    """Dump the database of `url` into `dump` (custom format), in the exported `snapshot` when
    given; returns pg_dump's version. Rows added to PostGIS's spatial_ref_sys are left out: the
    app's geometry is WGS-84 (SRID 4326), which PostGIS installs, and only the extension's
    owner may write that table (a restore by the app's own role could not)."""
    program, version = pg_program("pg_dump", conn)
    uri, env = libpq(url)
    args = [
        program,
        "--format=custom",
        "--no-password",
        "--exclude-table-data=public.spatial_ref_sys",
        f"--file={dump}",
    ]
    if snapshot:
        args.append(f"--snapshot={snapshot}")
    _run([*args, f"--dbname={uri}"], env, "pg_dump")
    _fsync_file(dump)
    return version


def _sqlite_backup(dump: Path) -> tuple[Contents, dict[str, str]]:
    """SQLite's online backup API, in one step: one read transaction, so one snapshot, while
    the app goes on writing (WAL). The copy is left in rollback-journal mode, a single file."""
    path = _sqlite_path(db.engine.url)
    if not path.is_file():
        raise BackupError(f"There is no database at {path}.")
    sqlite = sqlite_module()
    source = sqlite.connect(path.as_uri() + "?mode=rw", uri=True, timeout=30)
    try:
        copy = sqlite.connect(dump)
        try:
            source.backup(copy)
            copy.execute("PRAGMA journal_mode = DELETE")
            [[check]] = copy.execute("PRAGMA quick_check").fetchall()
        finally:
            copy.close()
    finally:
        source.close()
    if check != "ok":
        raise BackupError(f"The copy of the database fails SQLite's quick_check: {check}")
    _fsync_file(dump)
    with _sqlite_connection(dump) as conn:
        contents = snapshot_contents(conn)
    with db.engine.connect() as conn:
        spatialite = conn.scalar(sa.text("SELECT spatialite_version()"))
    return contents, {
        **_common_versions(),
        "sqlite": sqlite.sqlite_version,
        "spatialite": spatialite,
    }


def snapshot_contents(conn: sa.Connection) -> Contents:
    """The revision, rows per table and stored-file keys the connection's database holds (in
    its transaction's snapshot)."""
    present = set(sa.inspect(conn).get_table_names())
    if "alembic_version" not in present:
        raise BackupError("The database has no alembic_version table: it is not migrated.")
    tables = sorted(name for name in db.metadata.tables if name in present)
    return Contents(_revision(conn), _count_rows(conn, tables), _stored_keys(conn, present))


def _stored_keys(conn: sa.Connection, present: set[str]) -> set[str]:
    keys: set[str] = set()
    for column in STORED_FILE_COLUMNS:
        if column.table.name in present:
            keys.update(conn.scalars(sa.select(column).distinct()))
    return keys


def _revision(conn: sa.Connection) -> str:
    return ",".join(sorted(conn.scalars(sa.text("SELECT version_num FROM alembic_version"))))


def _count_rows(conn: sa.Connection, tables: list[str]) -> dict[str, int]:
    return {
        name: conn.scalar(sa.select(sa.func.count()).select_from(sa.table(name))) for name in tables
    }


# --- restore -------------------------------------------------------------------------------------


def restore(source: Path, echo: Echo = lambda _line: None) -> Restored:
    """Restore the backup in `source` into the app's empty database and its photo store."""
    source = Path(source).absolute()
    manifest = read_manifest(source)
    kind = _kind(db.engine.url)
    wanted = manifest["database"]["kind"]
    if wanted != kind:
        raise BackupError(
            f"The backup is of a {wanted} database; this app's database is {kind}. Restore it "
            f"into a {wanted} database (DATABASE_URL)."
        )
    dump = source / DUMP
    echo("Checking the backup ...")
    _check_dump(dump, manifest["database"])
    files = LocalStore(source / FILES)
    _check_files(files, manifest["photos"])
    _check_empty(kind)
    store = photo_store()
    already = _already_stored(store, manifest["photos"])
    if kind == "sqlite":
        _quiesce_sqlite(_sqlite_path(db.engine.url))
    # Nothing was written up to here.
    echo(f"Putting {len(manifest['photos']) - len(already)} files into the photo store ...")
    for key in sorted(manifest["photos"]):
        if key not in already:
            store.put(key, files.get(key))
    echo(f"Restoring the {kind} database ...")
    db.engine.dispose()
    try:
        if kind == "postgresql":
            _pg_restore(dump)
        else:
            _sqlite_restore(dump, _sqlite_path(db.engine.url))
    except (BackupError, OSError) as exc:
        raise BackupError(
            f"{exc}\nThe database is as it was (the restore writes it in one step). The files "
            "already put in the photo store are the backup's own: fix the cause and restore "
            "again."
        ) from exc
    db.engine.dispose()
    _verify(manifest, store)
    rows = manifest["database"]["rows"]
    return Restored(
        created_at=manifest["created_at"],
        kind=kind,
        revision=manifest["database"]["alembic_revision"],
        rows=sum(rows.values()),
        tables=len(rows),
        files=len(manifest["photos"]),
        already_stored=len(already),
        missing=manifest["missing"],
    )


def read_manifest(source: Path) -> dict:
    """The backup's manifest, checked for its format and shape."""
    path = source / MANIFEST
    if not source.is_dir():
        raise BackupError(f"{source} is not a directory: give the backup's directory.")
    try:
        manifest = json.loads(path.read_bytes())
    except FileNotFoundError:
        raise BackupError(
            f"{path} is missing: {source} is not a complete backup (a backup is complete "
            "only once its manifest is written)."
        ) from None
    except (OSError, ValueError) as exc:
        raise BackupError(f"{path} cannot be read: {exc}") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupError(f"{path} is not the manifest of a GridPatrol backup.")
    if manifest.get("version") != FORMAT_VERSION:
        raise BackupError(
            f"{path} is of backup format {manifest.get('version')!r}; this version of "
            f"GridPatrol restores format {FORMAT_VERSION}."
        )
    problem = _manifest_problem(manifest)
    if problem:
        raise BackupError(f"{path} is damaged: {problem}.")
    return manifest


def _manifest_problem(manifest: dict) -> str | None:
    database = manifest.get("database")
    if not isinstance(manifest.get("created_at"), str):
        return "no created_at"
    if not isinstance(database, dict):
        return "no database section"
    if database.get("kind") not in ("postgresql", "sqlite"):
        return f"unknown database kind {database.get('kind')!r}"
    if not isinstance(database.get("alembic_revision"), str):
        return "no alembic_revision"
    if not _is_sha256(database.get("dump_sha256")) or not _is_count(database.get("dump_bytes")):
        return "no SHA-256 or size of the dump"
    rows = database.get("rows")
    if not isinstance(rows, dict) or not all(
        isinstance(name, str) and _is_count(count) for name, count in rows.items()
    ):
        return "the rows per table are not a table of counts"
    photos = manifest.get("photos")
    if not isinstance(photos, dict):
        return "no photos section"
    for key, facts in photos.items():
        if not (
            isinstance(facts, dict)
            and _is_sha256(facts.get("sha256"))
            and _is_count(facts.get("size"))
        ):
            return f"no SHA-256 or size for {key!r}"
    missing = manifest.get("missing")
    if not isinstance(missing, list) or not all(isinstance(key, str) for key in missing):
        return "the missing files are not a list of keys"
    return None


def _is_sha256(value: Any) -> bool:
    return isinstance(value, str) and re.fullmatch(r"[0-9a-f]{64}", value) is not None


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _check_dump(dump: Path, facts: dict) -> None:
    if not dump.is_file():
        raise BackupError(f"{dump} is missing.")
    if dump.stat().st_size != facts["dump_bytes"] or _file_sha256(dump) != facts["dump_sha256"]:
        raise BackupError(f"{dump} is not the dump the manifest names (its SHA-256 differs).")


def _check_files(files: LocalStore, wanted: dict[str, dict[str, Any]]) -> None:
    """Every file of the manifest is in the backup with its bytes."""
    bad: list[str] = []
    for key, facts in sorted(wanted.items()):
        try:
            data = files.get(key)
        except KeyError:
            bad.append(f"{key} (missing)")
            continue
        except ValueError as exc:
            raise BackupError(f"The manifest names a file by an invalid key: {exc}") from exc
        if len(data) != facts["size"] or hashlib.sha256(data).hexdigest() != facts["sha256"]:
            bad.append(f"{key} (its bytes differ)")
    if bad:
        raise BackupError(
            f"{len(bad)} files of the backup do not match its manifest: {', '.join(bad[:5])}. "
            "Nothing was restored."
        )


def _check_empty(kind: str) -> None:
    tables = _pg_tables() if kind == "postgresql" else _sqlite_tables(_sqlite_path(db.engine.url))
    if tables:
        raise BackupError(
            f"The target database is not empty (it holds {', '.join(tables[:5])}"
            f"{', ...' if len(tables) > 5 else ''}): restore into a new, empty database."
        )
    if kind == "postgresql":
        _check_postgis()


def _already_stored(store: PhotoStore, wanted: dict[str, dict[str, Any]]) -> set[str]:
    """The keys the store holds already, with the same bytes; refused if any holds others."""
    same: set[str] = set()
    different: list[str] = []
    for key, facts in sorted(wanted.items()):
        try:
            data = store.get(key)
        except KeyError:
            continue
        if hashlib.sha256(data).hexdigest() == facts["sha256"]:
            same.add(key)
        else:
            different.append(key)
    if different:
        raise BackupError(
            f"The photo store holds {len(different)} of the backup's files with other bytes, "
            f"e.g. {', '.join(different[:3])}: restore into a new, empty photo store."
        )
    return same


def _verify(manifest: dict, store: PhotoStore) -> None:
    """The restored database and store hold what the manifest says."""
    facts = manifest["database"]
    with db.engine.connect() as conn:
        present = set(sa.inspect(conn).get_table_names())
        revision = _revision(conn) if "alembic_version" in present else "none"
        rows = _count_rows(conn, sorted(present & set(facts["rows"])))
        keys = _stored_keys(conn, present)
    wrong = [
        f"{name}: {rows.get(name, 'no table, no')} rows, {count} in the backup"
        for name, count in sorted(facts["rows"].items())
        if rows.get(name) != count
    ]
    if revision != facts["alembic_revision"]:
        wrong.insert(0, f"revision {revision}, {facts['alembic_revision']} in the backup")
    unaccounted = keys - set(manifest["photos"]) - set(manifest["missing"])
    if unaccounted:
        wrong.append(f"{len(unaccounted)} stored files named but not in the backup")
    for key, file in sorted(manifest["photos"].items()):
        try:
            data = store.get(key)
        except KeyError:
            data = b""
        if hashlib.sha256(data).hexdigest() != file["sha256"]:
            wrong.append(f"{key} does not read back as written")
    if wrong:
        raise BackupError(
            "The backup was restored, but what the database and the photo store now hold "
            f"differs from its manifest: {'; '.join(wrong[:5])}. Do not use this copy; find "
            "out why (the disk, the store) and restore again into a new database and store."
        )


# --- PostgreSQL ----------------------------------------------------------------------------------


def libpq(url: sa.URL) -> tuple[str, dict[str, str]]:
    """A SQLAlchemy URL (postgresql+psycopg://...) in libpq's URI form, without the password,
    and the environment for the client programs, which carries it (PGPASSWORD)."""
    netloc = quote(url.username, safe="") + "@" if url.username else ""
    host = url.host or ""
    netloc += f"[{host}]" if ":" in host else quote(host, safe="")
    if url.port:
        netloc += f":{url.port}"
    query = urlencode(
        [
            (name, value)
            for name, values in url.query.items()
            for value in (values if isinstance(values, tuple) else (values,))
        ]
    )
    uri = f"postgresql://{netloc}/{quote(url.database or '', safe='')}"
    env = dict(os.environ)
    if url.password is not None:
        env["PGPASSWORD"] = url.password
    return uri + (f"?{query}" if query else ""), env


def pg_program(name: str, conn: sa.Connection) -> tuple[str, str]:
    """The path and version of pg_dump or pg_restore for the server's major version (that of
    PG_BIN when installed, else the one on PATH, refused when older than the server)."""
    major = int(conn.scalar(sa.text("SHOW server_version_num"))) // 10000
    local = Path(PG_BIN.format(major=major)) / name
    program = str(local) if os.access(local, os.X_OK) else shutil.which(name)
    if program is None:
        raise BackupError(f"{name} is not installed: install postgresql-client-{major}.")
    version = subprocess.run(  # noqa: S603 - a PostgreSQL client program, no shell
        [program, "--version"], capture_output=True, text=True, check=False
    ).stdout.strip()
    found = re.search(r"\)\s*(\d+)", version)
    if not found or int(found.group(1)) < major:
        raise BackupError(
            f"{program} is {version or 'of an unknown version'}; the server is PostgreSQL "
            f"{major}: install postgresql-client-{major}."
        )
    return program, version


def _pg_versions(conn: sa.Connection) -> dict[str, str]:
    return {
        **_common_versions(),
        "postgresql": conn.scalar(sa.text("SHOW server_version")),
        "postgis": conn.scalar(sa.text("SELECT postgis_lib_version()")),
    }


def _pg_tables() -> list[str]:
    """The relations of the database that no extension owns (PostGIS's spatial_ref_sys is)."""
    with db.engine.connect() as conn:
        return list(
            conn.scalars(
                sa.text(
                    "SELECT n.nspname || '.' || c.relname FROM pg_class c"
                    " JOIN pg_namespace n ON n.oid = c.relnamespace"
                    " WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')"
                    " AND n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\\_%'"
                    " AND NOT EXISTS (SELECT 1 FROM pg_depend d"
                    "  WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid"
                    "  AND d.deptype = 'e')"
                    " ORDER BY 1"
                )
            )
        )


def _check_postgis() -> None:
    """PostGIS is enabled in the target database, or the restoring role may enable it."""
    with db.engine.connect() as conn:
        if conn.scalar(sa.text("SELECT 1 FROM pg_extension WHERE extname = 'postgis'")):
            return
        available = conn.scalar(
            sa.text("SELECT 1 FROM pg_available_extensions WHERE name = 'postgis'")
        )
        superuser = conn.scalar(
            sa.text("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        )
        major = int(conn.scalar(sa.text("SHOW server_version_num"))) // 10000
    if not available:
        raise BackupError(
            f"PostGIS is not installed on the target server: install postgresql-{major}-postgis-3."
        )
    if not superuser:
        raise BackupError(
            "PostGIS is not enabled in the target database and this role may not enable it: "
            "as a superuser, run CREATE EXTENSION postgis in it first."
        )


def _pg_restore(dump: Path) -> None:
    """pg_restore in one transaction: the database holds all of the dump, or stays empty. The
    extensions' comments are left out (CREATE EXTENSION wrote them; only their owner, a
    superuser, may write them again)."""
    with db.engine.connect() as conn:
        program, _version = pg_program("pg_restore", conn)
    uri, env = libpq(db.engine.url)
    listing = _run([program, "--list", str(dump)], env, "pg_restore --list")
    kept = [
        line for line in listing.splitlines() if not re.search(r"\bCOMMENT - EXTENSION\b", line)
    ]
    with tempfile.TemporaryDirectory(prefix="gridpatrol-restore-") as folder:
        use_list = Path(folder) / "toc.list"
        use_list.write_text("\n".join(kept) + "\n")
        _run(
            [
                program,
                "--single-transaction",
                "--exit-on-error",
                "--no-owner",
                "--no-privileges",
                "--no-password",
                f"--use-list={use_list}",
                f"--dbname={uri}",
                str(dump),
            ],
            env,
            "pg_restore",
        )


def _run(args: list[str], env: dict[str, str], what: str) -> str:
    done = subprocess.run(args, env=env, capture_output=True, text=True, check=False)  # noqa: S603
    if done.returncode != 0:
        raise BackupError(f"{what} failed: {done.stderr.strip() or done.returncode}")
    return done.stdout


# --- SQLite --------------------------------------------------------------------------------------


def _sqlite_path(url: sa.URL) -> Path:
    if url.database in (None, "", ":memory:"):
        raise BackupError("An in-memory SQLite database cannot be backed up or restored.")
    if url.database.startswith("file:"):
        raise BackupError("Give the SQLite database as sqlite:///<path>, not as a file: URI.")
    return Path(url.database).absolute()


@contextlib.contextmanager
def _sqlite_connection(path: Path) -> Iterator[sa.Connection]:
    """A plain connection to an SQLite file (no SpatiaLite: reads of plain columns only)."""
    engine = sa.create_engine(f"sqlite:///{path}", module=sqlite_module(), poolclass=sa.NullPool)
    try:
        with engine.connect() as conn:
            yield conn
    finally:
        engine.dispose()


def _sqlite_tables(path: Path) -> list[str]:
    """The tables and views of the file besides SpatiaLite's own (none: no file yet)."""
    if not path.exists():
        return []
    sqlite = sqlite_module()
    try:
        conn = sqlite.connect(path.as_uri() + "?mode=rw", uri=True, timeout=10)
    except sqlite.Error as exc:
        raise BackupError(f"The target database {path} cannot be opened: {exc}") from exc
    try:
        names = [
            name
            for (name,) in conn.execute(
                "SELECT name FROM sqlite_master WHERE type IN ('table', 'view') ORDER BY name"
            )
            if not _SPATIALITE_OWN.fullmatch(name)
        ]
    except sqlite.DatabaseError as exc:
        raise BackupError(f"{path} is not an SQLite database: {exc}") from exc
    finally:
        conn.close()
    return names


def _quiesce_sqlite(path: Path) -> None:
    """Leave the empty target a single file, so that no write-ahead log of it outlives it;
    refused while another process has it open (the app must be stopped)."""
    if not path.exists():
        return
    sqlite = sqlite_module()
    conn = sqlite.connect(path.as_uri() + "?mode=rw", uri=True, timeout=0)
    try:
        conn.execute("PRAGMA journal_mode = DELETE")
    except sqlite.OperationalError as exc:
        raise BackupError(
            f"{path} is in use ({exc}): stop the app and its task consumers, then restore."
        ) from exc
    finally:
        conn.close()


def _sqlite_restore(dump: Path, target: Path) -> None:
    """Copy the dump beside the target, then move it into place in one step."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(prefix=f".{target.name}.restore-", dir=target.parent)
    try:
        os.fchmod(fd, _NEW_FILE_MODE & ~_umask())  # as SQLite makes a file (mkstemp: 0600)
        with os.fdopen(fd, "wb") as out, dump.open("rb") as copy:
            shutil.copyfileobj(copy, out, _CHUNK)
            out.flush()
            os.fsync(out.fileno())
        for suffix in ("-wal", "-shm", "-journal"):  # of the empty file it replaces, if any
            with contextlib.suppress(FileNotFoundError):
                os.unlink(f"{target}{suffix}")
        os.replace(temp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
        raise
    _fsync_dir(target.parent)


# --- files and versions --------------------------------------------------------------------------


def _kind(url: sa.URL) -> str:
    backend = url.get_backend_name()
    if backend not in ("postgresql", "sqlite"):
        raise BackupError(f"Backups of a {backend} database are not supported.")
    return backend


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _common_versions() -> dict[str, str]:
    return {
        "python": platform.python_version(),
        "sqlalchemy": sa.__version__,
        "alembic": alembic.__version__,
    }


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _write_durably(path: Path, data: bytes) -> None:
    with path.open("wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())


def _fsync_file(path: Path) -> None:
    with path.open("rb+") as file:
        os.fsync(file.fileno())


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# --- commands ------------------------------------------------------------------------------------


@click.command("backup")
@with_appcontext
@click.argument("dest", type=click.Path(path_type=Path))
@click.option(
    "--allow-missing",
    is_flag=True,
    help="Back up even when stored files the database names are missing from the photo "
    "store (they are listed in the manifest).",
)
def backup_command(dest: Path, allow_missing: bool) -> None:
    """Back up the database and every photo and document its records name into DEST, a new
    directory, while the app runs."""
    try:
        manifest = backup(dest, allow_missing=allow_missing, echo=click.echo)
    except (BackupError, OSError) as exc:  # OSError: a folder not writable, a disk full
        raise click.ClickException(str(exc)) from exc
    database = manifest["database"]
    size = sum(file["size"] for file in manifest["photos"].values())
    click.echo(
        f"Backed up the {database['kind']} database (revision {database['alembic_revision']}, "
        f"{sum(database['rows'].values())} rows in {len(database['rows'])} tables) and "
        f"{len(manifest['photos'])} stored files ({size / 1e6:.1f} MB) to {dest}."
    )
    if manifest["missing"]:
        click.echo(
            f"Warning: {len(manifest['missing'])} stored files were missing (manifest.json)."
        )


@click.command("restore")
@with_appcontext
@click.argument("src", type=click.Path(path_type=Path))
def restore_command(src: Path) -> None:
    """Restore the backup in SRC (made by `flask ops backup`) into this app's empty database
    and photo store. Stop the app and its task consumers first."""
    try:
        done = restore(src, echo=click.echo)
    except (BackupError, OSError) as exc:  # OSError: a folder not writable, a disk full
        raise click.ClickException(str(exc)) from exc
    click.echo(
        f"Restored the backup of {done.created_at}: the {done.kind} database at revision "
        f"{done.revision}, {done.rows} rows in {done.tables} tables, as in the backup; "
        f"{done.files} stored files, each as in the backup ({done.already_stored} already in "
        "the photo store)."
    )
    if done.missing:
        click.echo(f"Warning: {len(done.missing)} files were missing when the backup was made.")


def init_app(app: Flask) -> None:
    """Add `backup` and `restore` to the `flask ops` group (made here if no other part of ops
    made it yet)."""
    group = app.cli.commands.get("ops")
    if group is None:
        group = AppGroup("ops", help="Running the app: backup and restore.")
        app.cli.add_command(group)
    group.add_command(backup_command)
    group.add_command(restore_command)
