"""Fixtures: one database per backend per session (migrated, demo loaded), each test rolled back.

The backends are SpatiaLite (a file in a temporary folder) and PostGIS (a database created on the
server named by GRIDPATROL_TEST_POSTGRES, which `make test` starts). Every test that uses `app`
runs once on each backend.
"""

import os
import re
import shutil
import tempfile
import threading
import uuid
import weakref
from datetime import date, timedelta

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient
from flask_migrate import upgrade
from flask_sqlalchemy.session import Session as FlaskSession
from werkzeug.serving import make_server

# The task queue is made when extensions.py is imported: a file of this run's own, never the
# instance folder's (tests run their tasks with run_tasks, or a consumer of their own).
os.environ["GRIDPATROL_TASKS_FILE"] = os.path.join(
    tempfile.mkdtemp(prefix="gridpatrol-tasks-"), "tasks.db"
)

from app import create_app  # noqa: E402 - after the task queue's file is chosen
from desk.cli import load_demo  # noqa: E402
from extensions import db, huey  # noqa: E402
from grid import demo as grid_demo  # noqa: E402
from grid.services import start_session  # noqa: E402
from grid.views import SESSION_KEY  # noqa: E402
from tests import factories  # noqa: E402

BACKENDS = ("spatialite", "postgis")
POSTGRES_ADMIN_URL = os.environ.get("GRIDPATROL_TEST_POSTGRES")
REQUIRE_POSTGIS = os.environ.get("GRIDPATROL_REQUIRE_POSTGIS") == "1"
DEMO_START = date(2025, 1, 1)
DEMO_PASSWORD = "demo1234"

BASE_CONFIG = {
    "TESTING": True,
    "SECRET_KEY": "test-secret-key",
    "SESSION_COOKIE_SECURE": False,
    "RATELIMIT_ENABLED": True,
    "TILE_URL": "",  # tests never reach the internet
    "PHOTO_STORAGE_DIR": tempfile.mkdtemp(prefix="gridpatrol-test-photos-"),
    # Notification channels against local servers: robots and push services on 127.0.0.1, and
    # the VAPID key in a folder of this run's own, never the instance folder.
    "ROBOTS_ALLOW_ANY_HOST": True,
    "PUSH_ALLOW_LOOPBACK": True,
    "VAPID_KEY_FILE": os.path.join(tempfile.mkdtemp(prefix="gridpatrol-vapid-"), "vapid.pem"),
}


class FreshContextClient(FlaskClient):
    """Each request in its own app context, as on a real server: nothing kept in `g` leaks
    from one request into the next, even while a test holds an app context open."""

    def open(self, *args, **kwargs):
        with self.application.app_context():
            return super().open(*args, **kwargs)


class BoundSession(FlaskSession):
    """A session that stays on the test's connection (Flask-SQLAlchemy would pick the engine)."""

    def get_bind(self, mapper=None, clause=None, bind=None, **kwargs):
        return self.bind if self.bind is not None else super().get_bind(mapper, clause, bind)


def _pg_url(dbname: str) -> str:
    base = sa.make_url(POSTGRES_ADMIN_URL)
    return base.set(database=dbname).render_as_string(hide_password=False)


def _pg_admin(statement: str) -> None:
    engine = sa.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.exec_driver_sql(statement)
    engine.dispose()


class Database:
    """A migrated database with the demo loaded, kept as an untouched template; `url` is the
    session's working copy and `clone()` gives further copies (a live server's, say)."""

    def __init__(self, backend: str, folder):
        self.backend = backend
        self.folder = folder
        self.worker = re.sub(r"\W", "", os.environ.get("PYTEST_XDIST_WORKER", "main"))
        self.created: list[str] = []
        if backend == "spatialite":
            self.template_url = f"sqlite:///{folder / 'template.db'}"
        else:
            name = f"gp_tmpl_{self.worker}_{uuid.uuid4().hex[:6]}"
            _pg_admin(f'CREATE DATABASE "{name}"')
            self.created.append(name)
            _pg_admin_db(name, "CREATE EXTENSION IF NOT EXISTS postgis")
            self.template_url = _pg_url(name)

    def clone(self) -> str:
        if self.backend == "spatialite":
            target = self.folder / f"copy-{uuid.uuid4().hex[:6]}.db"
            shutil.copyfile(self.folder / "template.db", target)
            return f"sqlite:///{target}"
        name = f"gp_copy_{self.worker}_{uuid.uuid4().hex[:6]}"
        source = sa.make_url(self.template_url).database
        _pg_admin(f'CREATE DATABASE "{name}" TEMPLATE "{source}"')
        self.created.append(name)
        return _pg_url(name)

    def drop(self) -> None:
        for name in reversed(self.created):
            _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _pg_admin_db(dbname: str, statement: str) -> None:
    engine = sa.create_engine(_pg_url(dbname), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.exec_driver_sql(statement)
    engine.dispose()


# Every app the tests made, so that their pools are closed before their database is dropped.
_APPS: "weakref.WeakSet" = weakref.WeakSet()


def make_app(url: str, **overrides):
    application = create_app({**BASE_CONFIG, "SQLALCHEMY_DATABASE_URI": url, **overrides})
    application.test_client_class = FreshContextClient
    _APPS.add(application)
    return application


def dispose_apps() -> None:
    """Close the pooled connections of every app the tests made. A pool left to the garbage
    collector closes nothing: a psycopg connection then warns (ResourceWarning, an error here)
    in whichever test the collector happens to run, once its database is dropped under it. Run
    before a `database` is dropped, which happens mid-session when pytest-xdist gives a worker
    the backends' tests in turns."""
    for application in list(_APPS):
        with application.app_context():
            db.engine.dispose()


def migrate_and_load(app) -> None:
    with app.app_context():
        upgrade()
        load_demo(grid_demo.default_data_dir(), DEMO_START, echo=lambda _msg: None)
        db.session.commit()
        db.session.remove()
        db.engine.dispose()


@pytest.fixture(scope="session", params=BACKENDS)
def database(request, tmp_path_factory):
    backend = request.param
    if backend == "postgis" and not POSTGRES_ADMIN_URL:
        if REQUIRE_POSTGIS:
            pytest.fail("GRIDPATROL_TEST_POSTGRES is not set but PostGIS is required")
        pytest.skip("no PostGIS server: set GRIDPATROL_TEST_POSTGRES (make test starts one)")
    base = Database(backend, tmp_path_factory.mktemp(backend))
    migrate_and_load(make_app(base.template_url))
    yield base
    dispose_apps()
    base.drop()


@pytest.fixture(scope="session")
def app(database):
    application = make_app(database.clone())
    yield application
    with application.app_context():
        db.engine.dispose()


@pytest.fixture
def db_session(app):
    """Everything the test and its requests write is rolled back at the end."""
    with app.app_context():
        connection = db.engine.connect()
        outer = connection.begin()
        original = db.session
        db.session = db._make_scoped_session(
            {
                "bind": connection,
                "join_transaction_mode": "create_savepoint",
                "class_": BoundSession,
            }
        )
        try:
            yield db.session
        finally:
            db.session.remove()
            db.session = original
            outer.rollback()
            connection.close()


@pytest.fixture
def client(app, db_session):
    return app.test_client()


@pytest.fixture
def runner(app, db_session):
    return app.test_cli_runner()


_TOKEN = re.compile(r'name="csrf-token" content="([^"]+)"')


def csrf_token(client, path="/offline") -> str:
    """A CSRF token for this client's session, read from a page as a browser would."""
    page = client.get(path)
    match = _TOKEN.search(page.get_data(as_text=True))
    assert match, f"no CSRF token on {path} ({page.status_code})"
    return match.group(1)


def sign_in(client, user, user_agent="test"):
    """Sign `user` in on this client without the form: a session row of its own, its secret in
    the cookie, as signing in makes them."""
    secret = start_session(
        user, user_agent=user_agent, address="127.0.0.1", lifetime=timedelta(days=30)
    )
    with client.session_transaction() as session:
        session["_user_id"] = user.get_id()
        session["_fresh"] = True
        session[SESSION_KEY] = secret


class AuthActions:
    def __init__(self, client):
        self._client = client

    def login(self, login="cun", password=DEMO_PASSWORD):
        self._client.post("/logout", data={"csrf_token": csrf_token(self._client)})
        token = csrf_token(self._client)
        return self._client.post(
            "/login", data={"login": login, "password": password, "csrf_token": token}
        )

    def logout(self):
        return self._client.post("/logout", data={"csrf_token": csrf_token(self._client)})


@pytest.fixture
def auth(client):
    return AuthActions(client)


@pytest.fixture(autouse=True)
def _fresh_rate_limits(request):
    """Each test starts with empty rate-limit counters."""
    from extensions import limiter

    for name in ("app", "live_app"):
        if name in request.fixturenames or (
            name == "live_app" and "live_server" in request.fixturenames
        ):
            app = request.getfixturevalue(name)
            with app.app_context():
                limiter.reset()


# --- a live server for the browser tests --------------------------------------------------------


@pytest.fixture(scope="session")
def live(database):
    """The app on a real socket, on its own copy of the demo database (commits are real)."""
    # A tile server that refuses connections: the map must still work without tiles.
    application = make_app(database.clone(), TILE_URL="http://127.0.0.1:9/{z}/{x}/{y}.png")
    server = make_server("127.0.0.1", 0, application, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", application
    server.shutdown()
    with application.app_context():
        db.engine.dispose()


@pytest.fixture(scope="session")
def live_server(live):
    return live[0]


@pytest.fixture(scope="session")
def live_app(live):
    return live[1]


@pytest.fixture
def village(live_app):
    """cun's village in the live demo: its id and a point well inside it (where he patrols)."""
    from grid.demo import point_in
    from grid.models import Grid, Membership, Role, User

    with live_app.app_context():
        user = db.session.scalar(sa.select(User).where(User.username == "cun"))
        grid = db.session.scalar(
            sa.select(Grid)
            .join(Membership, Membership.grid_id == Grid.id)
            .where(Membership.user_id == user.id, Membership.role == Role.SUPERVISOR)
            .order_by(Grid.id)
        )
        lon, lat = point_in(grid)
        db.session.remove()
        return grid.id, lon, lat


CHROMIUM = os.environ.get("GRIDPATROL_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def browser_sign_in(page, live_server: str, login: str) -> None:
    """Sign a browser page in as a demo person, through the log-in form, to the home page."""
    page.goto(live_server + "/login")
    page.fill("#login", login)
    page.fill("#password", DEMO_PASSWORD)
    page.click("button[type=submit].primary")
    page.wait_for_url(live_server + "/")


@pytest.fixture
def phone(browser, live_server, village):
    """A 360x740 phone with location granted at a fixed point inside cun's village."""
    _grid_id, lon, lat = village
    context = browser.new_context(
        viewport={"width": 360, "height": 740},
        locale="zh-CN",
        permissions=["geolocation"],
        geolocation={"latitude": lat, "longitude": lon},
    )
    page = context.new_page()
    browser_sign_in(page, live_server, "cun")
    yield context, page
    context.close()


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {
        **browser_context_args,
        "viewport": {"width": 360, "height": 740},
        "locale": "zh-CN",
        "permissions": ["geolocation", "notifications"],
        "geolocation": {"latitude": 44.0, "longitude": 87.3},
    }


@pytest.fixture(scope="session")
def artifacts_dir():
    path = os.path.join(os.path.dirname(os.path.dirname(__file__)), "test-artifacts")
    os.makedirs(path, exist_ok=True)
    return path


# --- test data made on purpose (tests/factories.py) ----------------------------------------------


@pytest.fixture
def make_world(db_session):
    """A callable: make_world(villages=2) -> a fresh county, township, villages and people."""
    return factories.make_world


@pytest.fixture
def make_source(db_session):
    return factories.make_source


@pytest.fixture
def make_patrol(db_session):
    return factories.make_patrol


@pytest.fixture
def make_photo(db_session):
    return factories.make_photo


@pytest.fixture
def make_problem(db_session):
    """A callable: make_problem(world, State.COUNTY) -> a problem taken there by the workflow."""
    return factories.make_problem


@pytest.fixture
def make_station(db_session):
    """A callable: make_station(world) -> (a micro-station in its first village, its token)."""
    return factories.make_station


def run_tasks() -> int:
    """Run every task waiting in the queue, in the caller's app context (as the consumer would,
    one after another); returns how many ran."""
    ran = 0
    while (pending := huey.dequeue()) is not None:
        huey.execute(pending)
        ran += 1
    return ran


@pytest.fixture(autouse=True)
def _empty_task_queue():
    """Each test starts with no task waiting (a test that enqueues and never runs its tasks
    leaves nothing for the next)."""
    huey.flush()
