"""`flask ops backup` / `flask ops restore` (ops/backup.py) on both databases: a backup of a
database with committed records and photos, restored into a brand-new empty database and photo
folder, holds every record and every file; bad input and occupied targets are refused and leave
everything as it was.

The source is a database of this module's own (a copy of the demo plus a world made here and
committed): the session's database is rolled back after each test, invisible to pg_dump.
"""

import hashlib
import json
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

from evidence.models import Photo
from evidence.services import photo_store
from evidence.storage import LocalStore
from extensions import db, sqlite_module
from grid.models import User
from ops import backup as ops_backup
from patrol.models import visit_photo
from problems.escalation import State
from sources import services as ledger
from sources.models import SourceDocument
from tests import factories
from tests.conftest import _pg_admin, _pg_admin_db, _pg_url, make_app

PDF = b"%PDF-1.4\n% a permit, for the backup test\n%%EOF\n"


# --- the source: a database of its own, with records and photos committed -------------------------


@pytest.fixture(scope="module")
def source(database, app, tmp_path_factory):
    """An app on its own copy of the demo database and of the photo folder the demo was stored
    in, to which a world with a patrol, photos, a resolved problem (with its photo) and a source
    document are added and committed. The folder is the session app's: `make_app` imported
    here comes from a second copy of conftest, whose BASE_CONFIG has a folder of its own."""
    photos = tmp_path_factory.mktemp("source") / "photos"
    shutil.copytree(app.config["PHOTO_STORAGE_DIR"], photos)
    application = make_app(database.clone(), PHOTO_STORAGE_DIR=str(photos))
    with application.app_context():
        world = factories.make_world()
        place = factories.make_source(world)
        patrol = factories.make_patrol(world, [place])
        visit = factories.visits_of(patrol)[0]
        factories.make_photo(world, visit_photo, visit)
        factories.make_photo(world, visit_photo, visit)
        factories.make_problem(world, State.RESOLVED)
        ledger.add_document(
            place, "排污许可证", PDF, "application/pdf", world.county_office, photo_store()
        )
        db.session.commit()
        db.session.remove()
    yield application
    with application.app_context():
        db.engine.dispose()


@pytest.fixture(scope="module")
def made(source, tmp_path_factory):
    """The backup of the source, made by the command."""
    folder = tmp_path_factory.mktemp("backups") / "nightly"
    result = source.test_cli_runner().invoke(args=["ops", "backup", str(folder)])
    assert result.exit_code == 0, result.output
    return folder


@pytest.fixture
def backup_copy(made, tmp_path):
    """A copy of the backup this test may spoil."""
    return Path(shutil.copytree(made, tmp_path / "copy"))


# --- the target: a brand-new empty database and photo folder --------------------------------------


@pytest.fixture
def target(database, tmp_path):
    """An app on a new empty database and an empty photo folder. PostgreSQL: a database owned
    by a role of its own, not a superuser, PostGIS enabled by the admin (as on a real server),
    with a password in the URL (it goes by PGPASSWORD; the test cluster trusts local
    connections, so the server does not check it); SQLite: a file not made yet."""
    made = []
    application = _empty_app(database, tmp_path, made, postgis=True)
    yield application
    _drop(application, made)


def _empty_app(database, tmp_path, made, postgis: bool, owner: bool = True):
    """The `target` app; `made` collects the roles and databases to drop afterwards."""
    photos = tmp_path / f"photos-{uuid.uuid4().hex[:6]}"
    photos.mkdir()
    if database.backend == "spatialite":
        url = f"sqlite:///{tmp_path / f'restored-{uuid.uuid4().hex[:6]}.db'}"
    else:
        suffix = uuid.uuid4().hex[:8]
        role, name = f"gp_restorer_{suffix}", f"gp_restored_{suffix}"
        _pg_admin(f"CREATE ROLE \"{role}\" LOGIN PASSWORD 'pw-{suffix}'")
        made.append(("ROLE", role))
        _pg_admin(f'CREATE DATABASE "{name}"' + (f' OWNER "{role}"' if owner else ""))
        made.append(("DATABASE", name))
        if postgis:
            _pg_admin_db(name, "CREATE EXTENSION postgis")
        url = (
            sa.make_url(_pg_url(name))
            .set(username=role, password=f"pw-{suffix}")
            .render_as_string(hide_password=False)
        )
    return make_app(url, PHOTO_STORAGE_DIR=str(photos))


def _drop(application, made) -> None:
    with application.app_context():
        db.engine.dispose()
    for kind, name in reversed(made):
        force = " WITH (FORCE)" if kind == "DATABASE" else ""
        _pg_admin(f'DROP {kind} IF EXISTS "{name}"{force}')


# --- what a database and a store hold -------------------------------------------------------------


def _engine(application) -> sa.Engine | None:
    """A plain engine on the app's database (None: an SQLite file not made yet). Never the
    app's own: its first connection would make the file and SpatiaLite's tables."""
    url = sa.make_url(application.config["SQLALCHEMY_DATABASE_URI"])
    if url.get_backend_name() == "sqlite":
        if not Path(url.database).exists():
            return None
        return sa.create_engine(url, module=sqlite_module(), poolclass=sa.NullPool)
    return sa.create_engine(url, poolclass=sa.NullPool)


def _holdings(application) -> dict[str, int]:
    """Every table of the app (and alembic_version) with its number of rows."""
    engine = _engine(application)
    if engine is None:
        return {}
    with engine.connect() as conn:
        present = set(sa.inspect(conn).get_table_names())
        names = sorted(present & ({"alembic_version"} | set(db.metadata.tables)))
        counts = {
            name: conn.scalar(sa.select(sa.func.count()).select_from(sa.table(name)))
            for name in names
        }
    engine.dispose()
    return counts


def _rows(application, name: str) -> list[tuple]:
    """Every row of a table, in the order of its primary key (geometry as stored, raw)."""
    table = db.metadata.tables[name]
    columns = [sa.column(c.name) for c in table.columns]
    engine = _engine(application)
    with engine.connect() as conn:
        found = conn.execute(
            sa.select(*columns)
            .select_from(sa.table(name))
            .order_by(*[sa.column(c.name) for c in table.primary_key])
        )
        rows = [tuple(row) for row in found]
    engine.dispose()
    return rows


def _stored(application) -> dict[str, str]:
    """Every file in the app's photo folder: its key and SHA-256."""
    root = Path(application.config["PHOTO_STORAGE_DIR"])
    return {
        path.relative_to(root).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def _keys_named(application) -> set[str]:
    keys: set[str] = set()
    with application.app_context():
        for column in ops_backup.STORED_FILE_COLUMNS:
            keys.update(db.session.scalars(sa.select(column)))
        db.session.remove()
    return keys


def _restore(application, folder: Path):
    return application.test_cli_runner().invoke(args=["ops", "restore", str(folder)])


# --- the round trip -------------------------------------------------------------------------------


def test_the_backup_holds_the_dump_every_named_file_and_a_manifest(source, made):
    manifest = json.loads((made / "manifest.json").read_text())
    kind = (
        "sqlite" if source.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite") else "postgresql"
    )
    assert manifest["format"] == "gridpatrol-backup" and manifest["version"] == 1
    assert manifest["database"]["kind"] == kind
    holdings = _holdings(source)
    assert manifest["database"]["alembic_revision"] == _revision(source)
    assert manifest["database"]["rows"] == {
        k: v for k, v in holdings.items() if k != "alembic_version"
    }
    assert (
        manifest["database"]["rows"]["photo"] > 3
        and manifest["database"]["rows"]["source_document"] >= 1
    )
    keys = _keys_named(source)
    assert set(manifest["photos"]) == keys and manifest["missing"] == []
    assert any(key.startswith("documents/") for key in keys)
    for key, facts in manifest["photos"].items():
        data = (made / "photos" / key).read_bytes()
        assert hashlib.sha256(data).hexdigest() == facts["sha256"] and len(data) == facts["size"]
    dump = (made / "database.dump").read_bytes()
    assert hashlib.sha256(dump).hexdigest() == manifest["database"]["dump_sha256"]
    assert {"python", "sqlalchemy", "alembic"} <= set(manifest["tools"])
    assert {"pg_dump", "postgresql", "postgis"} <= set(manifest["tools"]) or kind == "sqlite"
    # Made beside its place and renamed: nothing else is left in the folder.
    assert [p.name for p in made.parent.iterdir()] == ["nightly"]


def test_a_restore_into_an_empty_database_and_store_finds_every_record_and_photo(
    source, made, target
):
    result = _restore(target, made)
    assert result.exit_code == 0, result.output
    assert "Restored the backup of" in result.output

    # Every table with as many rows, and with the same rows, column for column.
    holdings = _holdings(source)
    assert _holdings(target) == holdings
    for name in sorted(set(holdings) - {"alembic_version"}):
        assert _rows(target, name) == _rows(source, name), name

    # Every file a row names is in the new store with its bytes; an original's bytes are the
    # SHA-256 its photo records, a document's the one it records.
    with source.app_context():
        wanted = {key: photo_store().get(key) for key in _keys_named(source)}
        originals = dict(db.session.execute(sa.select(Photo.original_key, Photo.sha256)).all())
        documents = dict(
            db.session.execute(sa.select(SourceDocument.storage_key, SourceDocument.sha256)).all()
        )
        db.session.remove()
    with target.app_context():
        store = photo_store()
        for key, data in wanted.items():
            assert store.get(key) == data, key
        for key, sha in {**originals, **documents}.items():
            assert hashlib.sha256(store.get(key)).hexdigest() == sha, key
    assert set(_stored(target)) == set(wanted)

    # The restored app works on what it got: a demo person's password, every event chain.
    with target.app_context():
        cun = db.session.scalar(sa.select(User).where(User.username == "cun"))
        assert cun.check_password("demo1234")
        db.session.remove()
    verified = target.test_cli_runner().invoke(args=["audit", "verify"])
    assert verified.exit_code == 0, verified.output


def _revision(application) -> str:
    engine = _engine(application)
    with engine.connect() as conn:
        revision = conn.scalar(sa.text("SELECT version_num FROM alembic_version"))
    engine.dispose()
    return revision


# --- refusals: each leaves the target as it was ---------------------------------------------------


def test_a_database_that_is_not_empty_is_refused(database, made, tmp_path):
    application = make_app(database.clone(), PHOTO_STORAGE_DIR=str(tmp_path / "photos"))
    before = _holdings(application)
    result = _restore(application, made)
    assert result.exit_code != 0
    assert "The target database is not empty" in result.output
    assert _holdings(application) == before
    assert _stored(application) == {}
    with application.app_context():
        db.engine.dispose()


def test_a_store_holding_a_key_with_other_bytes_is_refused(made, target):
    key = sorted(json.loads((made / "manifest.json").read_text())["photos"])[0]
    path = Path(target.config["PHOTO_STORAGE_DIR"]) / key
    path.parent.mkdir(parents=True)
    path.write_bytes(b"other bytes")
    before = _stored(target)
    result = _restore(target, made)
    assert result.exit_code != 0
    assert (
        "holds 1 of the backup's files with other bytes" in result.output and key in result.output
    )
    assert _stored(target) == before
    assert _holdings(target) == {}


def test_a_store_holding_some_keys_with_the_same_bytes_is_fine(made, target):
    """A restore cut short after its files may simply run again."""
    manifest = json.loads((made / "manifest.json").read_text())
    key = sorted(manifest["photos"])[0]
    path = Path(target.config["PHOTO_STORAGE_DIR"]) / key
    path.parent.mkdir(parents=True)
    shutil.copyfile(made / "photos" / key, path)
    result = _restore(target, made)
    assert result.exit_code == 0, result.output
    assert (
        f"{len(manifest['photos'])} stored files, each as in the backup (1 already in the"
        in result.output
    )


def test_a_photo_whose_bytes_do_not_match_is_refused(backup_copy, target):
    key = sorted(json.loads((backup_copy / "manifest.json").read_text())["photos"])[-1]
    path = backup_copy / "photos" / key
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    result = _restore(target, backup_copy)
    assert result.exit_code != 0
    assert (
        "do not match its manifest" in result.output
        and f"{key} (its bytes differ)" in result.output
    )
    assert _holdings(target) == {} and _stored(target) == {}


def test_a_missing_photo_is_refused(backup_copy, target):
    key = sorted(json.loads((backup_copy / "manifest.json").read_text())["photos"])[0]
    (backup_copy / "photos" / key).unlink()
    result = _restore(target, backup_copy)
    assert result.exit_code != 0 and f"{key} (missing)" in result.output
    assert _holdings(target) == {} and _stored(target) == {}


def _spoil_manifest(folder: Path, change) -> None:
    path = folder / "manifest.json"
    manifest = json.loads(path.read_text())
    change(manifest)
    path.write_text(json.dumps(manifest))


SPOILED = {
    "missing": (lambda f: (f / "manifest.json").unlink(), "manifest.json is missing"),
    "not json": (lambda f: (f / "manifest.json").write_text('{"format": '), "cannot be read"),
    "not ours": (
        lambda f: (f / "manifest.json").write_text("[1, 2]"),
        "is not the manifest of a GridPatrol backup",
    ),
    "newer format": (
        lambda f: _spoil_manifest(f, lambda m: m.update(version=2)),
        "is of backup format 2",
    ),
    "other kind": (
        lambda f: _spoil_manifest(
            f,
            lambda m: m["database"].update(
                kind="sqlite" if m["database"]["kind"] == "postgresql" else "postgresql"
            ),
        ),
        "Restore it into a",
    ),
    "bad counts": (
        lambda f: _spoil_manifest(f, lambda m: m["database"].update(rows={"photo": "many"})),
        "is damaged: the rows per table",
    ),
    "dump altered": (
        lambda f: (f / "database.dump").write_bytes((f / "database.dump").read_bytes() + b"x"),
        "is not the dump the manifest names",
    ),
    "dump missing": (lambda f: (f / "database.dump").unlink(), "database.dump is missing"),
}


@pytest.mark.parametrize("spoil", SPOILED, ids=list(SPOILED))
def test_a_missing_or_damaged_manifest_or_dump_is_refused(backup_copy, target, spoil):
    change, message = SPOILED[spoil]
    change(backup_copy)
    result = _restore(target, backup_copy)
    assert result.exit_code != 0
    assert message in result.output, result.output
    assert _holdings(target) == {} and _stored(target) == {}


def test_an_sqlite_file_holding_only_spatialites_tables_is_empty(database, made, target, source):
    """The app connected once (SpatiaLite's tables made, write-ahead log on): still empty."""
    if database.backend != "spatialite":
        pytest.skip("SQLite's own file")
    with target.app_context():
        with db.engine.connect() as conn:
            assert "spatial_ref_sys" in sa.inspect(conn).get_table_names()
        db.engine.dispose()
    result = _restore(target, made)
    assert result.exit_code == 0, result.output
    assert _holdings(target) == _holdings(source)


def test_an_sqlite_file_in_use_is_refused(database, made, target):
    """Another process (the app) holds the empty file open: replaced, it would go on writing
    into the old one."""
    if database.backend != "spatialite":
        pytest.skip("SQLite's own file")
    path = sa.make_url(target.config["SQLALCHEMY_DATABASE_URI"]).database
    with target.app_context():
        db.engine.dispose()
    holder = sqlite_module().connect(path)
    try:
        holder.execute("PRAGMA journal_mode = WAL")
        holder.execute("SELECT count(*) FROM sqlite_master").fetchall()
        result = _restore(target, made)
    finally:
        holder.close()
    assert result.exit_code != 0 and "is in use" in result.output, result.output
    assert _holdings(target) == {} and _stored(target) == {}


class LosingStore(LocalStore):
    """A photo folder that loses one file it is given (a failing disk or bucket)."""

    def __init__(self, root, lose: str) -> None:
        super().__init__(root)
        self.lose = lose

    def put(self, key: str, data: bytes) -> None:
        if key != self.lose:
            super().put(key, data)


def test_a_restore_checks_what_it_wrote_against_the_manifest(database, made, tmp_path):
    """A file the store lost, or a table whose rows differ from the manifest, is reported once
    the restore is written."""
    made_here: list = []
    key = sorted(json.loads((made / "manifest.json").read_text())["photos"])[0]
    application = _empty_app(database, tmp_path, made_here, postgis=True)
    application.config["PHOTO_STORE"] = LosingStore(application.config["PHOTO_STORAGE_DIR"], key)
    try:
        result = _restore(application, made)
        assert result.exit_code != 0
        assert "differs from its manifest" in result.output
        assert f"{key} does not read back as written" in result.output
    finally:
        _drop(application, made_here)


def test_a_manifest_counting_other_rows_than_its_dump_is_reported(backup_copy, target):
    _spoil_manifest(backup_copy, lambda m: m["database"]["rows"].update(photo=10_000))
    result = _restore(target, backup_copy)
    assert result.exit_code != 0
    assert (
        "differs from its manifest: photo:" in result.output
        and "10000 in the backup" in result.output
    )


def test_a_folder_that_is_no_backup_is_refused(target, tmp_path):
    result = _restore(target, tmp_path / "nothing-here")
    assert result.exit_code != 0 and "is not a directory" in result.output
    assert _holdings(target) == {} and _stored(target) == {}


def test_a_database_without_postgis_the_role_may_not_enable_is_refused(database, made, tmp_path):
    if database.backend != "postgis":
        pytest.skip("PostGIS only")
    made_here = []
    application = _empty_app(database, tmp_path, made_here, postgis=False)
    try:
        result = _restore(application, made)
        assert result.exit_code != 0
        assert "as a superuser, run CREATE EXTENSION postgis" in result.output
        assert _holdings(application) == {} and _stored(application) == {}
    finally:
        _drop(application, made_here)


def test_a_failed_database_restore_leaves_it_empty_and_may_run_again(database, made, tmp_path):
    """pg_restore runs in one transaction: a role that may not create tables in the database
    leaves it empty; the files already put are the backup's own, so once the role may, the
    same restore runs again."""
    if database.backend != "postgis":
        pytest.skip("PostgreSQL's roles")
    made_here: list = []
    application = _empty_app(database, tmp_path, made_here, postgis=True, owner=False)
    try:
        failed = _restore(application, made)
        assert failed.exit_code != 0
        assert "permission denied for schema public" in failed.output
        assert "The database is as it was" in failed.output
        assert _holdings(application) == {}
        assert set(_stored(application)) == set(
            json.loads((made / "manifest.json").read_text())["photos"]
        )

        role = sa.make_url(application.config["SQLALCHEMY_DATABASE_URI"]).username
        name = sa.make_url(application.config["SQLALCHEMY_DATABASE_URI"]).database
        _pg_admin_db(name, f'GRANT CREATE ON SCHEMA public TO "{role}"')
        again = _restore(application, made)
        assert again.exit_code == 0, again.output
    finally:
        _drop(application, made_here)


# --- backing up: a failed backup leaves nothing ---------------------------------------------------


def test_an_existing_destination_is_refused(source, made):
    before = sorted(p.name for p in made.iterdir())
    result = source.test_cli_runner().invoke(args=["ops", "backup", str(made)])
    assert result.exit_code != 0 and "already exists" in result.output
    assert sorted(p.name for p in made.iterdir()) == before


def test_files_missing_from_the_store_fail_the_backup_and_leave_nothing(database, tmp_path):
    """The same database over an empty photo folder: every named file is missing."""
    application = make_app(database.clone(), PHOTO_STORAGE_DIR=str(tmp_path / "empty"))
    folder = tmp_path / "backups"
    folder.mkdir()
    try:
        result = application.test_cli_runner().invoke(args=["ops", "backup", str(folder / "b")])
        assert result.exit_code != 0
        assert "stored files named by the database are not in the photo store" in result.output
        assert list(folder.iterdir()) == []

        allowed = application.test_cli_runner().invoke(
            args=["ops", "backup", "--allow-missing", str(folder / "b")]
        )
        assert allowed.exit_code == 0, allowed.output
        manifest = json.loads((folder / "b" / "manifest.json").read_text())
        assert manifest["photos"] == {} and set(manifest["missing"]) == _keys_named(application)
    finally:
        with application.app_context():
            db.engine.dispose()


def test_pg_dump_reads_the_exported_snapshot_not_later_commits(database, tmp_path):
    """A record committed after the snapshot is taken is not in the dump made in it (and is in
    a dump made without it): the dump, the counts and the files are of one moment."""
    if database.backend != "postgis":
        pytest.skip("PostgreSQL's exported snapshots; SQLite's backup API copies in one step")
    application = make_app(database.clone())
    login = f"late-{uuid.uuid4().hex[:6]}"
    try:
        with application.app_context():
            url = db.engine.url
            with ops_backup.pg_snapshot() as (conn, snapshot):
                before = ops_backup.snapshot_contents(conn).rows["user_account"]
                with db.engine.connect() as other:
                    other.execute(
                        sa.insert(User).values(username=login, name="迟到", password_hash="x")
                    )
                    other.commit()
                ops_backup.pg_dump(url, snapshot, tmp_path / "in.dump", conn)
                assert ops_backup.snapshot_contents(conn).rows["user_account"] == before
            with db.engine.connect() as conn:
                ops_backup.pg_dump(url, None, tmp_path / "after.dump", conn)
                program, _version = ops_backup.pg_program("pg_restore", conn)
        assert login not in _dumped_users(program, tmp_path / "in.dump")
        assert login in _dumped_users(program, tmp_path / "after.dump")
    finally:
        with application.app_context():
            db.engine.dispose()


def _dumped_users(program: str, dump: Path) -> str:
    """The user_account rows of a dump, as pg_restore writes them out (COPY data)."""
    args = [program, "--data-only", "--table=user_account", "--file=-", str(dump)]
    return subprocess.run(args, capture_output=True, text=True, check=True).stdout


# --- the stored files it knows --------------------------------------------------------------------


def test_every_column_naming_a_stored_file_is_backed_up():
    """A table that stores files names them in a `*_key` column; the backup must know it."""
    named = {
        f"{table.name}.{column.name}"
        for table in db.metadata.tables.values()
        for column in table.columns
        if column.name.endswith("_key") and isinstance(column.type, sa.String)
    }
    known = {f"{c.table.name}.{c.name}" for c in ops_backup.STORED_FILE_COLUMNS}
    assert named == known


def test_the_libpq_form_of_the_url_keeps_the_password_out_of_it():
    url = sa.make_url(
        "postgresql+psycopg://gp%40ops:s3cr%2Ft@db.example:5433/grid%20patrol?sslmode=require"
    )
    uri, env = ops_backup.libpq(url)
    assert uri == "postgresql://gp%40ops@db.example:5433/grid%20patrol?sslmode=require"
    assert env["PGPASSWORD"] == "s3cr/t" and "s3cr" not in uri
